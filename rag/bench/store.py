"""`rag bench store`: index write throughput and query latency of each store backend (a benchmark, not a test).

Two corpora: the CRUD-RAG archive, parsed and chunked as `rag index` does, and N synthetic chunks
recombined from its sentences. Vectors are random unit vectors (embedding is the same work whatever the
store, and `rag bench retrieval` measures it), queries are the archive's questions with random query
vectors: search time does not depend on what the vectors mean. Each store gets the same chunks, vectors
and queries; the retriever above them (fusion, coverage re-ranking) is the same code for both.
"""
from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.bench.common import percentile
from rag.bench.retrieval import search_times, synthetic_chunks
from rag.chunk import chunk_article
from rag.evaluate import load_items
from rag.index import Index
from rag.ingest import read_file
from rag.retrieve import HybridRetriever
from rag.store.local import LocalStore, LocalWriter
from rag.types import Chunk

DIM = 768
MODES = ("dense", "lexical", "hybrid")


class RandomQueries:
    """A query "embedder" giving each question a fixed random unit vector."""

    name, dim = "random", DIM

    def __init__(self, seed: int = 1) -> None:
        self.rng, self.cache = np.random.default_rng(seed), {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.cache:
            v = self.rng.standard_normal(DIM).astype(np.float32)
            self.cache[text] = v / np.linalg.norm(v)
        return self.cache[text]


def _unit(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _latency(index: Index, questions: list[str]) -> dict:
    queries = RandomQueries()
    out = {}
    for mode in MODES:
        retriever = HybridRetriever(index, queries, candidates=20, mode=mode, rerank="coverage", rerank_weight=2.0)
        search_times(retriever, questions[:10])  # the first searches may load or build what the store keeps lazily
        times = search_times(retriever, questions)
        out[mode] = {"p50_ms": percentile(times, 50), "p95_ms": percentile(times, 95)}
    return out


def _local(chunks: list[Chunk], vectors: np.ndarray, work: Path) -> tuple[Index, float]:
    writer = LocalWriter()
    t = time.perf_counter()
    writer.add(chunks, vectors)
    manifest = writer.finish(work, chunks, DIM)
    seconds = time.perf_counter() - t
    return Index(work, manifest, {}, chunks, LocalStore.load(work, manifest, chunks)), seconds


def _milvus(chunks: list[Chunk], vectors: np.ndarray, uri: str, batch: int = 256) -> tuple[Index, float]:
    from rag.store.milvus import MilvusStore, MilvusWriter, collection_name

    writer = MilvusWriter(uri, collection_name("bench", f"{uri}-{len(chunks)}"), rebuild=True)
    t = time.perf_counter()
    for s in range(0, len(chunks), batch):
        writer.add(chunks[s:s + batch], vectors[s:s + batch])
    manifest = writer.finish(Path("."), chunks, DIM)
    seconds = time.perf_counter() - t
    return Index(Path("."), manifest, {}, chunks, MilvusStore(writer.client, writer.collection, chunks)), seconds


def store_bench(archive: Path, questions: Path, synthetic: int, stores: tuple[str, ...], milvus_uri: str = "",
                log: Callable[[str], None] = print) -> dict:
    """Write throughput and search p50/p95 per store, on the archive and on `synthetic` chunks."""
    asked = [it["question"] for it in load_items(questions)]
    archive_chunks = [c for a in read_file(archive, archive.name).articles for c in chunk_article(a)]
    corpora = {"archive": archive_chunks}
    if synthetic:
        corpora["synthetic"] = synthetic_chunks(synthetic, archive, np.random.default_rng(0))[0]
    result: dict = {"dim": DIM, "questions": len(asked), "corpora": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for label, chunks in corpora.items():
            vectors = _unit(len(chunks))
            row: dict = {"chunks": len(chunks)}
            for store in stores:
                log(f"[{label}] {store}: writing {len(chunks)} chunks ...")
                folder = Path(tmp) / f"{label}-{store}"
                folder.mkdir()
                uri = milvus_uri or str(folder / "milvus.db")
                index, seconds = _local(chunks, vectors, folder) if store == "local" else _milvus(chunks, vectors, uri)
                row[store] = {"write_s": round(seconds, 1), "chunks_per_s": round(len(chunks) / seconds, 1),
                              "search": _latency(index, asked)}
                if store == "milvus":
                    index.store.client.drop_collection(index.store.collection)
                log(f"[{label}] {store}: {row[store]}")
            result["corpora"][label] = row
    return result


def store_table(result: dict) -> str:
    lines = [f"{'corpus':10} {'chunks':>8} {'store':7} {'write chunks/s':>15} "
             + " ".join(f"{m + ' p50/p95 ms':>22}" for m in MODES)]
    for label, row in result["corpora"].items():
        for store, fig in row.items():
            if store == "chunks":
                continue
            cells = " ".join(f"{fig['search'][m]['p50_ms']:>11.1f} / {fig['search'][m]['p95_ms']:<8.1f}" for m in MODES)
            lines.append(f"{label:10} {row['chunks']:>8} {store:7} {fig['chunks_per_s']:>15.1f} {cells}")
    return "\n".join(lines)
