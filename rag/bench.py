"""`rag bench retrieval`: build speed, recall and query latency, printed and saved as JSON (a benchmark, not a test).

Three corpora:
- the seed pages with ../shared/eval/dev.jsonl (recall counts a passage holding an evidence quote);
- the CRUD-RAG news archive with its questions (recall counts a passage from one of the item's `sources`);
- a synthetic corpus of N chunks (default 100,000) for latency at scale: texts are recombined sentences of
  the archive, vectors are random unit vectors (embedding 100k chunks on two CPU cores would take hours and
  search time does not depend on what the vectors mean). Queries are the real questions, embedded once.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.embed import Embedder
from rag.errors import RagError
from rag.evaluate import evidence_rank, load_items
from rag.index import Index, build_index, dense_index, load_index, tokenize
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Chunk

CONFIGS = {  # name -> HybridRetriever keyword arguments
    "dense": {"mode": "dense"},
    "lexical": {"mode": "lexical"},
    "hybrid": {"mode": "hybrid"},
    "hybrid+coverage": {"mode": "hybrid", "rerank": "coverage", "rerank_weight": Settings().rerank_weight},
}


class QueryCache:
    """Wraps an embedder so each query is embedded once; retrieval timings then measure search alone."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.name, self.dim = embedder, embedder.name, embedder.dim
        self.vectors: dict[str, np.ndarray] = {}
        self.embed_ms: list[float] = []

    def prepare(self, queries: list[str]) -> None:
        for q in queries:
            if q not in self.vectors:
                t = time.perf_counter()
                self.vectors[q] = self.embedder.embed_query(q)
                self.embed_ms.append((time.perf_counter() - t) * 1000)

    def embed_query(self, text: str) -> np.ndarray:
        return self.vectors[text]

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed_documents(texts)


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def _measure(index: Index, queries: QueryCache, items: list[dict], k: int = 10) -> dict:
    """Recall@1/3/5/10, MRR and search latency for each configuration over `items`."""
    out = {}
    for name, kwargs in CONFIGS.items():
        retriever = HybridRetriever(index, queries, candidates=20, **kwargs)
        ranks, times = [], []
        for item in items:
            t = time.perf_counter()
            passages = retriever.search(item["question"], k)
            times.append((time.perf_counter() - t) * 1000)
            ranks.append(evidence_rank(item, passages))
        row = {f"recall@{n}": round(sum(r is not None and r <= n for r in ranks) / len(ranks), 3) for n in (1, 3, 5, 10)}
        row["mrr"] = round(statistics.mean(1 / r if r else 0.0 for r in ranks), 3)
        row["search_ms_p50"], row["search_ms_p95"] = _pct(times, 50), _pct(times, 95)
        out[name] = row
    return out


def followup_bench(index: Index, embedder: Embedder, items: list[dict]) -> dict:
    """Follow-up questions: does the rule rewrite name what the question leans on, and does retrieval then
    find the evidence (recall@5, hybrid) where the bare follow-up does not?"""
    from rag.rewrite import Turn, rule_rewrite

    queries = QueryCache(embedder)
    rows = []
    for item in items:
        rw = rule_rewrite(item["question"], [Turn(q) for q in item["history"]])
        rows.append((item, rw))
        queries.prepare([item["question"], rw.question])
    retriever = HybridRetriever(index, queries, candidates=20)
    scored = [(item, rw) for item, rw in rows if item.get("evidence")]

    def recall(use_rewrite: bool, k: int) -> float:
        hits = [evidence_rank(item, retriever.search(rw.question if use_rewrite else item["question"], k))
                for item, rw in scored]
        return round(sum(h is not None for h in hits) / len(hits), 3) if hits else 0.0

    return {
        "items": len(items),
        "rewrite_names_the_topic": round(sum(all(e.lower() in rw.question.lower() for e in item["expect"])
                                             for item, rw in rows) / len(rows), 3),
        "methods": {m: sum(rw.method == m for _, rw in rows) for m in ("swap", "context", "none")},
        "recall@1_bare_follow_up": recall(False, 1),
        "recall@1_rewritten": recall(True, 1),
        "recall@5_bare_follow_up": recall(False, 5),
        "recall@5_rewritten": recall(True, 5),
    }


def _corpus(label: str, seeds: Path, index_dir: Path, embedder: Embedder, items: list[dict],
            rebuild: bool, log: Callable[[str], None], followups: list[dict] | None = None) -> dict:
    log(f"[{label}] indexing {seeds} ...")
    t = time.perf_counter()
    report = build_index(seeds, index_dir, embedder, rebuild=rebuild)
    build_s = time.perf_counter() - t
    index = load_index(index_dir, embedder.name)
    queries = QueryCache(embedder)
    queries.prepare([it["question"] for it in items])
    result = {
        "chunks": len(index.chunks), "articles": len(index.articles), "questions": len(items),
        "build_s": round(build_s, 1), "embedded_chunks": report.embedded,
        "chunks_per_s": round(report.embedded / build_s, 2) if report.embedded else None,
        "query_embed_ms_p50": _pct(queries.embed_ms, 50),
        "configs": _measure(index, queries, items),
    }
    if followups:
        result["followups"] = followup_bench(index, embedder, followups)
    log(f"[{label}] {json.dumps(result, ensure_ascii=False)}")
    return result


_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


def synthetic_index(n: int, dim: int, archive: Path, ann_threshold: int, seed: int = 0,
                    base: np.ndarray | None = None) -> tuple[Index, dict]:
    """`n` chunks recombined from the archive's sentences, BM25 over jieba tokens, and vectors that are
    real archive embeddings (`base`) plus noise (cosine ~0.9 to their base), or random unit vectors
    without a base. Real embeddings cluster by topic; uniform random vectors do not, and approximate
    indexes do much worse on them than on any real corpus."""
    import bm25s

    rng = np.random.default_rng(seed)
    sentences: list[str] = []
    for line in archive.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sentences += [s for s in _SENTENCE.findall(json.loads(line)["text"]) if len(s) >= 8]
    tokens = [tokenize(s) for s in sentences]  # tokenised once; chunks reuse the sentence token lists
    timings = {}
    t = time.perf_counter()
    chunks, corpus = [], []
    for i in range(n):
        picks = rng.integers(0, len(sentences), size=4)
        chunks.append(Chunk(id=f"syn{i}", article_id=f"syn{i // 5}", text="".join(sentences[j] for j in picks),
                            start=0, end=0, title=""))
        corpus.append([tok for j in picks for tok in tokens[j]])
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    if base is not None and len(base) and base.shape[1] == dim:
        vectors *= 0.5 / np.sqrt(dim)  # noise of norm ~0.5 around a unit base vector
        vectors += base[rng.integers(0, len(base), size=n)]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    timings["make_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(corpus, show_progress=False)
    timings["bm25_build_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    dense, info = dense_index(vectors, ann_threshold)
    timings["dense_build_s"] = round(time.perf_counter() - t, 1)
    manifest = {"dense_index": info, "synthetic": True}
    return Index(Path("."), manifest, {}, chunks, vectors, dense, bm25), timings


def _question_recall(index: Index, queries: QueryCache, questions: list[str]) -> float:
    import faiss

    exact = faiss.IndexFlatIP(index.vectors.shape[1])
    exact.add(index.vectors)
    q = np.stack([queries.vectors[x] for x in questions]).astype(np.float32)
    _, want = exact.search(q, 10)
    _, got = index.dense.search(q, 10)
    return round(float(np.mean([len(set(w) & set(g)) / 10 for w, g in zip(want, got)])), 4)


def _latency(index: Index, queries: QueryCache, questions: list[str]) -> dict:
    out = {}
    for name, kwargs in CONFIGS.items():
        retriever = HybridRetriever(index, queries, candidates=20, **kwargs)
        times = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q, 10)
            times.append((time.perf_counter() - t) * 1000)
        out[name] = {"search_ms_p50": _pct(times, 50), "search_ms_p95": _pct(times, 95)}
    return out


def retrieval_bench(embedder: Embedder, seeds: Path, dev: Path | None, peer_news: Path | None,
                    peer_questions: Path | None, work: Path, synthetic: int = 100_000,
                    log: Callable[[str], None] = print, parts: tuple[str, ...] = ("seeds", "peer", "synthetic"),
                    followups: Path | None = None) -> dict:
    """Run the `parts` whose inputs exist; `work` keeps the archive index between runs (re-embedding it is slow)."""
    import faiss

    result: dict = {"embedder": embedder.name, "embed_dtype": getattr(embedder, "dtype", ""),
                    "faiss_threads": faiss.omp_get_max_threads()}
    dev_items = [it for it in load_items(dev) if it.get("answerable", True)] if dev and dev.is_file() else []
    peer_items = ([it for it in load_items(peer_questions) if it.get("answerable", True)]
                  if peer_questions and peer_questions.is_file() else [])
    all_questions = [it["question"] for it in dev_items + peer_items]
    if dev_items and "seeds" in parts:
        with tempfile.TemporaryDirectory() as tmp:  # a cold build, so build time and chunks/s are real
            result["seeds"] = _corpus("seeds", seeds, Path(tmp) / "index", embedder, dev_items, True, log,
                                      load_items(followups) if followups and followups.is_file() else None)
    if peer_items and "peer" in parts and peer_news and peer_news.is_file():
        folder = work / "peer-seeds"
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / peer_news.name).is_file():
            shutil.copyfile(peer_news, folder / peer_news.name)
        result["peer"] = _corpus("peer", folder, work / "peer-index", embedder, peer_items, False, log)
    if synthetic and "synthetic" in parts and peer_news and peer_news.is_file() and all_questions:
        queries = QueryCache(embedder)
        queries.prepare(all_questions)
        dim = len(next(iter(queries.vectors.values())))
        base = None
        try:
            base = load_index(work / "peer-index").vectors
        except RagError:
            log("[synthetic] no archive index in the work folder: random vectors (run the peer part first)")
        syn: dict = {"chunks": synthetic, "dim": dim,
                     "vectors": "archive embeddings + noise" if base is not None else "random unit vectors"}
        for label, threshold in (("flat", synthetic + 1), ("hnsw", 0)):
            log(f"[synthetic] {synthetic} chunks, {label} index ...")
            index, timings = synthetic_index(synthetic, dim, peer_news, threshold, base=base)
            syn[label] = {"build": timings, "dense_index": index.manifest["dense_index"],
                          "latency": _latency(index, queries, all_questions)}
            if label == "hnsw":  # the build's own check queries with stored vectors; this one with the questions
                syn[label]["question_recall_at_10_vs_flat"] = _question_recall(index, queries, all_questions)
            log(f"[synthetic] {label}: {json.dumps(syn[label], ensure_ascii=False)}")
            del index
        syn["query_embed_ms_p50"] = _pct(queries.embed_ms, 50)
        result["synthetic"] = syn
    return result


def table(result: dict) -> str:
    """The figures as a plain-text table for the terminal and the README."""
    lines = []
    for label in ("seeds", "peer"):
        part = result.get(label)
        if not part:
            continue
        lines.append(f"{label}: {part['chunks']} chunks, {part['questions']} questions; build {part['build_s']} s "
                     f"({part['chunks_per_s'] or '-'} chunks/s embedded); query embedding p50 {part['query_embed_ms_p50']} ms")
        lines.append(f"  {'config':16} {'R@1':>6} {'R@3':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for name, row in part["configs"].items():
            lines.append(f"  {name:16} {row['recall@1']:6.3f} {row['recall@3']:6.3f} {row['recall@5']:6.3f} "
                         f"{row['recall@10']:6.3f} {row['mrr']:6.3f} {row['search_ms_p50']:8.2f} {row['search_ms_p95']:8.2f}")
        if part.get("followups"):
            f = part["followups"]
            lines.append(f"  follow-ups ({f['items']}): rewrite names the topic {f['rewrite_names_the_topic']:.2f} "
                         f"{f['methods']}; recall@1 bare {f['recall@1_bare_follow_up']:.2f} -> rewritten "
                         f"{f['recall@1_rewritten']:.2f}, recall@5 {f['recall@5_bare_follow_up']:.2f} -> "
                         f"{f['recall@5_rewritten']:.2f}")
    syn = result.get("synthetic")
    if syn:
        lines.append(f"synthetic: {syn['chunks']} chunks, dim {syn['dim']} ({syn.get('vectors', 'random unit vectors')}); "
                     f"query embedding p50 {syn['query_embed_ms_p50']} ms")
        for label in ("flat", "hnsw"):
            info = syn[label]["dense_index"]
            extra = f", recall@10 vs flat {info['recall_at_10_vs_flat']}" if "recall_at_10_vs_flat" in info else ""
            if "question_recall_at_10_vs_flat" in syn[label]:
                extra += f", with the real questions {syn[label]['question_recall_at_10_vs_flat']}"
            lines.append(f"  {label} ({info['type']}{extra}); build {syn[label]['build']}")
            for name, row in syn[label]["latency"].items():
                lines.append(f"    {name:16} search p50 {row['search_ms_p50']:7.2f} ms  p95 {row['search_ms_p95']:7.2f} ms")
    return "\n".join(lines)


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


__all__ = ["CONFIGS", "QueryCache", "retrieval_bench", "save", "synthetic_index", "table"]
