"""Chunk stage: Article -> Chunks along Chinese sentence boundaries, with offsets into the article text."""
from __future__ import annotations

import re

from rag.types import Article, Chunk, content_id

_SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』）)]*|\n\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; paragraph breaks end a sentence too. Whitespace is trimmed.

    Example:
        >>> sentence_spans("甲。乙！")
        [(0, 2), (2, 4)]
    """
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


def chunk_article(article: Article, max_chars: int = 220, overlap: int = 1) -> list[Chunk]:
    """Pack whole sentences into chunks of about `max_chars`; each chunk repeats the last `overlap`
    sentences of the one before, so a fact spanning a boundary is whole in one of them.
    A single sentence longer than `max_chars` becomes a chunk of its own."""
    sents = sentence_spans(article.text)
    chunks: list[Chunk] = []
    i = 0
    while i < len(sents):
        j = i + 1
        while j < len(sents) and sents[j][1] - sents[i][0] <= max_chars:
            j += 1
        start, end = sents[i][0], sents[j - 1][1]
        text = article.text[start:end]
        chunks.append(Chunk(
            id=content_id(article.id, str(start), text), article_id=article.id, text=text,
            start=start, end=end, title=article.title, date=article.date, source=article.source,
        ))
        if j >= len(sents):
            break
        i = max(j - overlap, i + 1)
    return chunks
