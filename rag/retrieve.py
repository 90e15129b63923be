"""Retrieve stage: question -> ranked Passages, dense (FAISS) and lexical (BM25) fused by reciprocal rank,
optionally re-ranked by how much of the question's wording each candidate covers."""
from __future__ import annotations

import re

import numpy as np

from rag.embed import Embedder
from rag.index import Index, tokenize
from rag.types import Passage

# Question words and particles: they say what is asked, not what the passage must contain.
_STOP = set("的 了 是 在 有 和 与 及 或 吗 呢 吧 啊 么 什么 多少 哪 哪些 哪个 哪里 哪位 哪两 哪几 几 为什么 为何 如何 怎么 怎样 "
            "怎么样 是否 一共 目前 现在 这 那 其 它 他 她 我 你 们 上 中 下 要 会 能 对 从 把 被 说 the a an of in on at to "
            "is are was were what which who when where why how many much did do does for and or".split())
_SPECIFIC = re.compile(r"\d|[a-z]{3,}")


def word_weight(token: str) -> float:
    """How much a question word counts: numbers, Latin names and words of three or more characters double."""
    return 2.0 if _SPECIFIC.search(token) or len(token) >= 3 else 1.0


def coverage(query_tokens: list[str], text: str) -> float:
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
        vec = self.embedder.embed_query(query).reshape(1, -1).astype(np.float32)
        scores, ids = self.index.dense.search(vec, n)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _lexical(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = tokenize(query)
        if not tokens or self.index.bm25 is None:
            return np.array([], dtype=int), np.array([])
        scores = np.asarray(self.index.bm25.get_scores(tokens))
        top = np.argsort(-scores)[:n]
        top = top[scores[top] > 0]
        return top, scores[top]

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
            # not the whole ranking.
            tokens = tokenize(query)
            bonus = self.rerank_weight / (self.rrf_k + 1)
            for i in sorted(fused, key=lambda i: -fused[i])[:self.candidates]:
                fused[i] += bonus * coverage(tokens, self.index.chunks[i].embedding_text())
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return [Passage(chunk=self.index.chunks[i], rank=r, score=fused[i], dense_score=dense_s.get(i),
                        lexical_score=lex_s.get(i)) for r, i in enumerate(best, 1)]
