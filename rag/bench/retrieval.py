"""`rag bench retrieval`: build speed, recall and query latency, printed and saved as JSON (a benchmark, not a test).

Three corpora:
- the seed pages with ../shared/eval/dev.jsonl (recall counts a passage holding an evidence quote);
- the CRUD-RAG news archive with its questions (recall counts a passage from one of the item's `sources`);
- a synthetic corpus of N chunks (default 100,000) for latency at scale: texts are recombined sentences of
  the archive, vectors are random unit vectors (embedding 100k chunks on two CPU cores would take hours and
  search time does not depend on what the vectors mean). Queries are the real questions, embedded once.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.bench.common import percentile
from rag.embed import Embedder
from rag.errors import RagError
from rag.evaluate import evidence_rank, load_items, rank_metrics
from rag.index import Index, build_index, load_index
from rag.store.local import LocalStore, dense_index, recall_against
from rag.tokens import tokenize
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
        metrics = rank_metrics(ranks)
        row = {f"recall{k}": v for k, v in metrics["recall"].items()}
        row["mrr"] = metrics["mrr"]
        row["search_ms_p50"], row["search_ms_p95"] = percentile(times, 50), percentile(times, 95)
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
        queries.prepare([item["question"], rw.question] + item["history"][-1:])
    retriever = HybridRetriever(index, queries, candidates=20)
    scored = [(item, rw) for item, rw in rows if item.get("evidence")]

    def recall(use_rewrite: bool, k: int) -> float:
        hits = [evidence_rank(item, retriever.search(rw.question if use_rewrite else item["question"], k))
                for item, rw in scored]
        return round(sum(h is not None for h in hits) / len(hits), 3) if hits else 0.0

    from rag.answer.budget import estimate_tokens
    from rag.answer.prompt import Prompts
    from rag.settings import Settings

    defaults = Settings()
    prompts = Prompts.of(defaults)

    def left_to_fill(previous: str, rewritten: str) -> int:
        """Tokens of the follow-up's prompt beyond what it shares with the previous question's, which the
        model's cache holds: what the follow-up's first token waits for."""
        before = prompts.first(previous, retriever.search(previous, defaults.top_k))[1]["content"]
        after = prompts.first(rewritten, retriever.search(rewritten, defaults.top_k))[1]["content"]
        return estimate_tokens(after[len(os.path.commonprefix([before, after])):])

    left = [left_to_fill(item["history"][-1], rw.question) for item, rw in rows if item["history"]]
    return {
        "items": len(items),
        "prompt_tokens_left_p50": statistics.median(left) if left else None,
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
        "query_embed_ms_p50": percentile(queries.embed_ms, 50),
        "configs": _measure(index, queries, items),
    }
    if followups:
        result["followups"] = followup_bench(index, embedder, followups)
    log(f"[{label}] {json.dumps(result, ensure_ascii=False)}")
    return result


_SENTENCE = re.compile(r"[^。！？!?]+[。！？!?]?")


def synthetic_chunks(n: int, archive: Path, rng: np.random.Generator) -> tuple[list[Chunk], list[list[str]]]:
    """`n` chunks of four sentences drawn (by `rng`) from the archive, with each chunk's jieba tokens."""
    sentences: list[str] = []
    for line in archive.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sentences += [s for s in _SENTENCE.findall(json.loads(line)["text"]) if len(s) >= 8]
    tokens = [tokenize(s) for s in sentences]  # tokenised once; chunks reuse the sentence token lists
    chunks, corpus = [], []
    for i in range(n):
        picks = rng.integers(0, len(sentences), size=4)
        chunks.append(Chunk(id=f"syn{i}", article_id=f"syn{i // 5}", text="".join(sentences[j] for j in picks),
                            start=0, end=0, title=""))
        corpus.append([tok for j in picks for tok in tokens[j]])
    return chunks, corpus


def synthetic_index(n: int, dim: int, archive: Path, ann_threshold: int, seed: int = 0,
                    base: np.ndarray | None = None) -> tuple[Index, dict]:
    """`n` chunks recombined from the archive's sentences, BM25 over jieba tokens, and vectors that are
    real archive embeddings (`base`) plus noise (cosine ~0.9 to their base), or random unit vectors
    without a base. Real embeddings cluster by topic; uniform random vectors do not, and approximate
    indexes do much worse on them than on any real corpus."""
    import bm25s

    rng = np.random.default_rng(seed)
    timings = {}
    t = time.perf_counter()
    chunks, corpus = synthetic_chunks(n, archive, rng)
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
    return Index(Path("."), manifest, {}, chunks, LocalStore(vectors, dense, bm25)), timings


def _question_recall(exact: Index, approx: Index, queries: QueryCache, questions: list[str]) -> float:
    q = np.stack([queries.vectors[x] for x in questions]).astype(np.float32)
    _, want = exact.store.dense.search(q, 10)
    _, got = approx.store.dense.search(q, 10)
    return round(recall_against(want, got), 4)


def search_times(retriever: HybridRetriever, questions: list[str], k: int = 10) -> list[float]:
    """Milliseconds each search of `questions` took."""
    times = []
    for q in questions:
        t = time.perf_counter()
        retriever.search(q, k)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _latency(index: Index, queries: QueryCache, questions: list[str]) -> dict:
    out = {}
    for name, kwargs in CONFIGS.items():
        times = search_times(HybridRetriever(index, queries, candidates=20, **kwargs), questions)
        out[name] = {"search_ms_p50": percentile(times, 50), "search_ms_p95": percentile(times, 95)}
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
            base = load_index(work / "peer-index").store.vectors
        except RagError:
            log("[synthetic] no archive index in the work folder: random vectors (run the peer part first)")
        syn: dict = {"chunks": synthetic, "dim": dim,
                     "vectors": "archive embeddings + noise" if base is not None else "random unit vectors"}
        log(f"[synthetic] {synthetic} chunks, flat index ...")
        flat, timings = synthetic_index(synthetic, dim, peer_news, synthetic + 1, base=base)
        log(f"[synthetic] {synthetic} chunks, hnsw index over the same chunks ...")
        t = time.perf_counter()
        ann, info = dense_index(flat.store.vectors, 0)
        hnsw = dataclasses.replace(flat, store=LocalStore(flat.store.vectors, ann, flat.store.bm25),
                                   manifest={**flat.manifest, "dense_index": info})
        for label, index, build in (("flat", flat, timings),
                                    ("hnsw", hnsw, {"dense_build_s": round(time.perf_counter() - t, 1)})):
            syn[label] = {"build": build, "dense_index": index.manifest["dense_index"],
                          "latency": _latency(index, queries, all_questions)}
            log(f"[synthetic] {label}: {json.dumps(syn[label], ensure_ascii=False)}")
        # The build's own check queries with stored vectors; this one with the real questions.
        syn["hnsw"]["question_recall_at_10_vs_flat"] = _question_recall(flat, hnsw, queries, all_questions)
        del flat, hnsw, ann
        syn["query_embed_ms_p50"] = percentile(queries.embed_ms, 50)
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
                         f"{f['recall@5_rewritten']:.2f}; prompt tokens beyond the previous question's "
                         f"p50 {f.get('prompt_tokens_left_p50')}")
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


__all__ = ["CONFIGS", "QueryCache", "retrieval_bench", "search_times", "synthetic_chunks", "synthetic_index", "table"]
