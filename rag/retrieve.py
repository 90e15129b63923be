"""Retrieve stage: question -> ranked Passages, dense (FAISS) and lexical (BM25) fused by reciprocal rank."""
from __future__ import annotations

import numpy as np

from rag.embed import Embedder
from rag.index import Index, tokenize
from rag.types import Passage


class HybridRetriever:
    """Weighted reciprocal-rank fusion of dense and BM25 rankings.

    `mode` is "hybrid", "dense" or "lexical"; a weight of 0 turns one side off as well.
    """

    def __init__(self, index: Index, embedder: Embedder, candidates: int = 20, dense_weight: float = 1.0,
                 lexical_weight: float = 1.0, rrf_k: int = 60, mode: str = "hybrid") -> None:
        self.index, self.embedder = index, embedder
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
        best = sorted(fused, key=lambda i: -fused[i])[:k]
        return [Passage(chunk=self.index.chunks[i], rank=r, score=fused[i], dense_score=dense_s.get(i),
                        lexical_score=lex_s.get(i)) for r, i in enumerate(best, 1)]
