"""Word tokens for keyword search and question analysis: jieba's search mode, lower-cased."""
from __future__ import annotations

import re

_TOKEN = re.compile(r"[\w\u4e00-\u9fff%.]+")


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, punctuation dropped: "3亿元" -> ["3", "亿元"]."""
    import jieba

    jieba.setLogLevel(60)
    return [t.lower() for t in jieba.cut_for_search(text) if _TOKEN.fullmatch(t)]
