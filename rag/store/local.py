"""The default store, on disk beside the index: FAISS (dense) and BM25 over jieba tokens (lexical)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rag.tokens import tokenize
from rag.types import Chunk

LEXICAL = "bm25s over jieba cut_for_search tokens"


class LocalStore:
    """Search over vectors and a BM25 index held in memory; candidates are positions in the chunk list."""

    kind = "local"

    def __init__(self, vectors: np.ndarray, dense: object, bm25: object | None) -> None:
        self.vectors, self.dense, self.bm25 = vectors, dense, bm25  # faiss.Index, bm25s.BM25

    @classmethod
    def load(cls, path: Path, manifest: dict, chunks: list[Chunk]) -> LocalStore:
        import bm25s
        import faiss

        vectors = np.load(path / "vectors.npy")
        dense = faiss.read_index(str(path / "dense.faiss"))
        if isinstance(manifest.get("dense_index"), dict) and "efSearch" in manifest["dense_index"]:
            dense.hnsw.efSearch = int(manifest["dense_index"]["efSearch"])
        bm25 = bm25s.BM25.load(str(path / "bm25"), load_corpus=False) if chunks else None
        if len(chunks) != vectors.shape[0] or dense.ntotal != len(chunks):
            raise ValueError("vectors and chunks differ in number")
        return cls(vectors, dense, bm25)

    def dense_search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = self.dense.search(vector.reshape(1, -1).astype(np.float32), n)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def lexical_search(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        tokens = tokenize(query)
        if not tokens or self.bm25 is None:
            return np.array([], dtype=int), np.array([])
        scores = np.asarray(self.bm25.get_scores(tokens))
        top = np.argsort(-scores)[:n]
        top = top[scores[top] > 0]
        return top, scores[top]


class LocalWriter:
    """Builds the local store: reuses the live index's vectors for unchanged chunks, keeps the new ones in
    memory and writes vectors, FAISS and BM25 into the staging folder."""

    def __init__(self, ann_threshold: int = 200_000) -> None:
        self.ann_threshold = ann_threshold
        self.vectors: dict[str, np.ndarray] = {}

    def reusable(self, chunks: list[Chunk], old: object | None) -> set[str]:
        store = getattr(old, "store", None)
        if isinstance(store, LocalStore):
            self.vectors = {c.id: store.vectors[i] for i, c in enumerate(old.chunks)}
        return {c.id for c in chunks if c.id in self.vectors}

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.vectors.update({c.id: v for c, v in zip(chunks, vectors)})

    def finish(self, staging: Path, chunks: list[Chunk], dim: int) -> dict:
        """Write the search files; returns what the manifest says about them."""
        import bm25s
        import faiss

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        matrix = np.zeros((len(chunks), dim), dtype=np.float32)
        for i, c in enumerate(chunks):
            matrix[i] = self.vectors[c.id]
        dense, info = dense_index(matrix, self.ann_threshold)
        np.save(staging / "vectors.npy", matrix)
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index([tokenize(c.embedding_text()) for c in chunks], show_progress=False)
            bm25.save(str(staging / "bm25"))
        faiss.write_index(dense, str(staging / "dense.faiss"))
        return {"store": {"kind": "local"}, "dense_index": info, "lexical": LEXICAL}

    def prune(self, chunks: list[Chunk]) -> None:
        """Nothing to do: old versions' files go with their folders."""


def recall_against(exact_ids: np.ndarray, approx_ids: np.ndarray) -> float:
    """Mean share of each row of exact top-k ids that the approximate search also returned."""
    k = exact_ids.shape[1]
    return float(np.mean([len(set(w) & set(g)) / k for w, g in zip(exact_ids, approx_ids)]))


def dense_index(vectors: np.ndarray, ann_threshold: int = 200_000, m: int = 32, ef_search: int = 96,
                sample: int = 500) -> tuple[object, dict]:
    """A FAISS inner-product index over `vectors`: exact (flat) up to `ann_threshold` vectors, HNSW above.

    For HNSW the recall@10 against exact search is measured on a sample of the vectors themselves and
    returned with the settings, for the manifest.
    """
    import faiss

    n, dim = vectors.shape
    if n <= ann_threshold:
        flat = faiss.IndexFlatIP(dim)
        if n:
            flat.add(vectors)
        return flat, {"type": "faiss.IndexFlatIP"}
    ann = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    ann.hnsw.efConstruction = 80
    ann.add(vectors)
    ann.hnsw.efSearch = ef_search
    rng = np.random.default_rng(0)
    queries = vectors[rng.choice(n, size=min(sample, n), replace=False)]
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, want = exact.search(queries, 10)
    _, got = ann.search(queries, 10)
    recall = recall_against(want, got)
    return ann, {"type": "faiss.IndexHNSWFlat", "M": m, "efConstruction": 80, "efSearch": ef_search,
                 "recall_at_10_vs_flat": round(recall, 4), "checked_queries": len(queries)}
