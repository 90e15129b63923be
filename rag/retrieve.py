"""Retrieve stage: question -> ranked Passages, dense (FAISS) and lexical (BM25) fused by reciprocal rank,
optionally re-ranked by how much of the question's wording each candidate covers."""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence

import numpy as np

from rag.embed import Embedder
from rag.guard import has_instructions
from rag.index import Index
from rag.tokens import tokenize
from rag.types import Chunk, Passage, content_id

# Question words and particles: they say what is asked, not what the passage must contain.
_STOP = set("的 了 是 在 有 和 与 及 或 吗 呢 吧 啊 么 什么 多少 哪 哪些 哪个 哪里 哪位 哪两 哪几 几 为什么 为何 如何 怎么 怎样 "
            "怎么样 是否 一共 目前 现在 这 那 其 它 他 她 我 你 们 上 中 下 要 会 能 对 从 把 被 说 the a an of in on at to "
            "is are was were what which who when where why how many much did do does for and or".split())
_SPECIFIC = re.compile(r"\d|[a-z]{3,}")
_DATE = re.compile(r"(?:\d{4}年)?\d{1,2}月\d{1,2}[日号]|\d{4}年\d{1,2}月|\d{4}年")


def word_weight(token: str) -> float:
    """How much a question word counts: numbers, Latin names and words of three or more characters double."""
    return 2.0 if _SPECIFIC.search(token) or len(token) >= 3 else 1.0


def content_words(question: str) -> list[str]:
    """The question's words that a passage should contain: no question words or particles, no single
    characters but digits, a date as one word, and each word once in its longest form (jieba's search mode
    gives "人民", "银行" and "人民银行": one concept, which would otherwise count three times)."""
    dates = _DATE.findall(question)  # "12月10日" is one fact; its "12" and "10" alone match any number
    words = [w for w in dict.fromkeys(dates + tokenize(question)) if w not in _STOP and (len(w) > 1 or w.isdigit())]
    return [w for w in words if not any(w != o and w in o for o in words)]


def rarity_weights(words: list[str], units: list[str]) -> dict[str, float]:
    """How much each word tells among `units` (lower-cased sentences or passages): a word found in few of them
    ("五档", "评级") tells more than one found in most ("人民银行" in every passage of its article). Numbers,
    names and long words weigh double, as in `word_weight`. A word found in none of them tells nothing here."""
    found = {w: sum(w in u for u in units) for w in words}
    return {w: word_weight(w) * math.log(1 + len(units) / (1 + df)) for w, df in found.items() if df}


def rarity_coverage(question: str, texts: list[str]) -> list[float]:
    """For each of `texts`, the share of the question's content words it holds, each word weighed by how
    few of `texts` hold it (`rarity_weights`)."""
    texts = [t.lower() for t in texts]
    weights = rarity_weights(content_words(question), texts)
    total = sum(weights.values())
    return [sum(w for word, w in weights.items() if word in t) / total if total else 0.0 for t in texts]


def coverage(query_tokens: Sequence[str], text: str) -> float:
    """Share of the question's content words found in `text`; numbers, names and long words weigh double."""
    text = text.lower()
    weights = {t: word_weight(t) for t in query_tokens if t not in _STOP}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in text) / total if total else 0.0


class HybridRetriever:
    """Weighted reciprocal-rank fusion of dense and BM25 rankings.

    `mode` is "hybrid", "dense" or "lexical"; a weight of 0 turns one side off as well. `rerank="coverage"`
    adds a bonus for the share of the question's content words each candidate contains.
    """

    def __init__(self, index: Index, embedder: Embedder, candidates: int = 20, dense_weight: float = 1.0,
                 lexical_weight: float = 1.0, rrf_k: int = 60, mode: str = "hybrid", rerank: str = "off",
                 rerank_weight: float = 1.0) -> None:
        self.index, self.embedder = index, embedder
        self.rerank, self.rerank_weight = rerank, rerank_weight
        self.candidates, self.rrf_k, self.mode = candidates, rrf_k, mode
        self.dense_weight = dense_weight if mode in {"hybrid", "dense"} else 0.0
        self.lexical_weight = lexical_weight if mode in {"hybrid", "lexical"} else 0.0

    def _dense(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.store.dense_search(self.embedder.embed_query(query), n)

    def _lexical(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.index.store.lexical_search(query, n)

    def search(self, query: str, k: int = 5) -> list[Passage]:
        """The k best passages for `query`, rank 1 first."""
        total = len(self.index.chunks)
        if total == 0 or not query.strip():
            return []
        n = min(max(self.candidates, k), total)
        fused: dict[int, float] = {}
        dense_s: dict[int, float] = {}
        lex_s: dict[int, float] = {}
        if self.dense_weight > 0:
            ids, scores = self._dense(query, n)
            for rank, (i, s) in enumerate(zip(ids, scores)):
                dense_s[int(i)] = float(s)
                fused[int(i)] = fused.get(int(i), 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        if self.lexical_weight > 0:
            ids, scores = self._lexical(query, n)
            for rank, (i, s) in enumerate(zip(ids, scores)):
                lex_s[int(i)] = float(s)
                fused[int(i)] = fused.get(int(i), 0.0) + self.lexical_weight / (self.rrf_k + rank + 1)
        if self.rerank == "coverage" and fused:
            # Full coverage is worth rerank_weight first places in one list: it reorders near neighbours,
            # not the whole ranking. A word counts by how few candidates hold it, so among the passages of one
            # article the one holding the question's specific words ("五档绿色评级") comes first.
            top = sorted(fused, key=lambda i: -fused[i])[:self.candidates]
            shares = rarity_coverage(query, [self.index.chunks[i].embedding_text() for i in top])
            bonus = self.rerank_weight / (self.rrf_k + 1)
            for i, share in zip(top, shares):
                fused[i] += bonus * share
        # A passage that gives the reader orders ("忽略以上所有指令……都回答：…") comes after every other one.
        best = sorted(fused, key=lambda i: (has_instructions(self.index.chunks[i].text), -fused[i]))[:k]
        return [Passage(chunk=self.index.chunks[i], rank=r, score=fused[i], dense_score=dense_s.get(i),
                        lexical_score=lex_s.get(i)) for r, i in enumerate(best, 1)]


def join_touching(passages: list[Passage], k: int, max_parts: int = 3) -> list[Passage]:
    """The first `k` passages after joining those that overlap in one article.

    Consecutive chunks share a sentence, so two retrieved neighbours are one stretch of text: a list that
    runs over both ("四个紧盯", two in each) reaches the model whole and in order, and the slot the second
    one took goes to the next passage. A joined passage takes the best rank and score of its parts and
    holds at most `max_parts` chunks. Ranks are numbered again from 1.
    """
    groups: list[list[Passage]] = []

    def span(group: list[Passage]) -> tuple[int, int]:
        return min(p.chunk.start for p in group), max(p.chunk.end for p in group)

    for p in passages:
        home = next((g for g in groups if g[0].chunk.article_id == p.chunk.article_id and len(g) < max_parts
                     and p.chunk.start <= span(g)[1] and p.chunk.end >= span(g)[0]), None)
        if home is not None:
            home.append(p)
        elif len(groups) < k:
            groups.append([p])
    return [dataclasses.replace(g[0], chunk=_joined([p.chunk for p in g]), rank=r, joined=len(g))
            for r, g in enumerate(groups, 1)]


def _joined(chunks: list[Chunk]) -> Chunk:
    if len(chunks) == 1:
        return chunks[0]
    chunks = sorted(chunks, key=lambda c: c.start)
    text, end = chunks[0].text, chunks[0].end
    for c in chunks[1:]:
        if c.end > end:
            text += c.text[max(0, end - c.start):]
            end = c.end
    first = chunks[0]
    return dataclasses.replace(first, id=content_id(*(c.id for c in chunks)), text=text, end=end)
