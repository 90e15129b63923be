"""Small typed values passed between the pipeline stages."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def content_id(*parts: str, length: int = 16) -> str:
    """Stable id from content: the same source and text give the same id on every rebuild."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Article:
    """One article cut out of a source file, with clean body text.

    `span` is the (start, end) character range of the article in the source file's decoded text.
    """

    id: str
    source: str
    title: str
    text: str
    subtitle: str = ""
    authors: tuple[str, ...] = ()
    date: str = ""
    section: str = ""
    continuation: str = ""  # e.g. "上接1版①" for a fragment continued from another page
    span: tuple[int, int] = (0, 0)


@dataclass(frozen=True)
class Chunk:
    """A piece of an article; `start`/`end` are character offsets into `Article.text`."""

    id: str
    article_id: str
    text: str
    start: int
    end: int
    title: str = ""
    date: str = ""
    source: str = ""

    def embedding_text(self) -> str:
        """What the embedder and BM25 see: the title (and date) as context, then the chunk."""
        head = " ".join(p for p in (self.title, self.date) if p)
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score; `rank` (1-based) is the [n] the model sees."""

    chunk: Chunk
    rank: int
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    joined: int = 1  # how many overlapping chunks of one article make up `chunk` (see retrieve.join_touching)


@dataclass(frozen=True)
class Citation:
    """A checked citation: passage `n` supports `claim` through article text[start:end]."""

    n: int
    article_id: str
    title: str
    source: str
    start: int
    end: int
    quote: str
    claim: str = ""
    supported: bool = True


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    refused: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    notice: str = ""
    query: str = ""  # the standalone question retrieval used, when a follow-up was rewritten
    unsupported: tuple[str, ...] = ()  # claims of the model's answer that no passage supported (removed)
    missing: tuple[str, ...] = ()  # parts of the question the answer does not cover: the pages do not hold them
    raw: str = ""  # what the model (or the extractive answerer) said, before checking
    doubt: float | None = None  # the confirm step's P(no) for the checked answer (answer/confirm.py); None: not asked
