"""Names in Chinese text (people, places, organisations) found with jieba's part-of-speech tags.

Used where a name must match exactly: a claim naming a place or person its source span does not name is
not supported, and a follow-up "那株洲呢？" swaps one place for another.
"""
from __future__ import annotations

import re

NAME_TAGS = {"ns", "nr", "nt", "nz", "nrt", "nrfg"}  # place, person, organisation, other proper noun
_LATIN_NAME = re.compile(r"\b[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)*\b")


def entities(text: str) -> list[tuple[str, str]]:
    """(word, tag) for every name of two or more characters, in order."""
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(60)
    return [(w.word, w.flag) for w in pseg.cut(text) if w.flag in NAME_TAGS and len(w.word) >= 2]


def names(text: str) -> set[str]:
    """The Chinese names in `text` (Latin capitalised words are left out: they translate, not match)."""
    return {word for word, _ in entities(text) if not _LATIN_NAME.fullmatch(word)}


__all__ = ["NAME_TAGS", "entities", "names"]
