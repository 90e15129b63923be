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


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of `values`, interpolated, to two places (0 for none): every benchmark reports it."""
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

    from rag.budget import estimate_tokens
    from rag.prompt import Prompts
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


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")




# -- rag bench answer: load, time to first token, decode speed against the machine's own ceiling ------------

def memory_bandwidth(gib: float = 1.0, threads: int = 2, repeats: int = 3) -> float:
    """Memory read bandwidth in GB/s: the best of a few passes summing a large array in `threads` threads
    (numpy releases the GIL inside the reduction). Decode reads every weight once per token, so this over
    the weight bytes is the ceiling on tokens/s."""
    import threading

    data = np.ones(int(gib * 2**30 / 4), dtype=np.float32)
    parts = np.array_split(data, threads)
    best = float("inf")
    for _ in range(repeats):
        workers = [threading.Thread(target=part.sum) for part in parts]
        t = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = min(best, time.perf_counter() - t)
    return data.nbytes / best / 1e9


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 0)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0)


def _weight_bytes(generator) -> int:
    """Bytes of weights read per generated token: the GGUF file, or the converted safetensors."""
    path = Path(getattr(generator, "path", "") or "")
    if path.is_file():
        return path.stat().st_size
    folder = Path(getattr(generator, "converted", "") or "")
    return sum(f.stat().st_size for f in folder.glob("*.safetensors")) if folder.is_dir() else 0


def stop_process(proc, timeout: float = 30.0) -> None:
    """End a server the bench started: asked first, then killed."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def startup_bench(settings, port: int, timeout: float = 300.0, log: Callable[[str], None] = print) -> dict:
    """`rag serve` as a user starts it, with models already provisioned and the index built: seconds until
    the page answers HTTP, and until the log says the models are warm (they load behind the page)."""
    import subprocess
    import sys
    import urllib.request

    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "RAG_DATA_DIR": data, "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1"}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        page = ready = None
        log_file = Path(data) / "logs" / "rag.log"
        try:
            while time.perf_counter() - t0 < timeout and proc.poll() is None and ready is None:
                if page is None:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                            if resp.status == 200:
                                page = time.perf_counter() - t0
                    except OSError:
                        pass
                if log_file.is_file() and "models warm after" in log_file.read_text(encoding="utf-8"):
                    ready = time.perf_counter() - t0
                time.sleep(0.2)
        finally:
            stop_process(proc)
    result = {"page_s": round(page, 1) if page else None, "models_ready_s": round(ready, 1) if ready else None}
    log(f"[startup] {result}")
    return result


def answer_bench(settings, items: list[dict], backends: list[str], bandwidth_gbs: float,
                 log: Callable[[str], None] = print, embedder=None) -> dict:
    """Per backend: model load (first and again), retrieval, prompt tokens, first token, decode speed,
    answer time over `items`, peak memory, and decode as a share of the bandwidth ceiling. `embedder`,
    when given, is shared by all backends (so peak memory counts one embedder)."""
    from rag.pipeline import Pipeline

    out: dict = {}
    for backend in backends:
        pipe = Pipeline.from_settings(settings.replace(backend=backend))
        if embedder is not None:
            pipe.embedder = embedder
        pipe.ensure_index()
        pipe.retrieve("预热")  # the embedder is loaded before anything is timed
        gen = pipe.generator
        t = time.perf_counter()
        gen.warm_up()
        first_load = time.perf_counter() - t
        again = type(gen)(gen.path) if hasattr(gen, "path") else type(gen)(gen.gguf, settings.cache_path)
        t = time.perf_counter()
        again.warm_up()
        cached_load = time.perf_counter() - t
        del again
        rows = []
        for n, item in enumerate(items, 1):
            pieces, first, start = 0, None, time.perf_counter()
            answer = None
            for event in pipe.stream(item["question"]):
                if event.kind == "token":
                    pieces += 1
                    first = first or time.perf_counter()
                elif event.kind == "answer":
                    answer = event.answer
            end = time.perf_counter()
            timings = dict(getattr(gen, "last_timings", {}) or {})
            decode = timings.get("predicted_per_second")
            if decode is None and first and pieces > 1:
                decode = (pieces - 1) / max(1e-6, end - first)
            rows.append({"retrieve_ms": answer.timings.get("retrieve_ms", 0.0) if answer else 0.0,
                         "prompt_tokens": timings.get("prompt_n", 0) + timings.get("cache_n", 0),
                         "prompt_tokens_filled": timings.get("prompt_n", 0),
                         "first_token_s": (first or end) - start, "answer_s": end - start, "decode": decode})
            log(f"[{backend}] {n}/{len(items)} first token {rows[-1]['first_token_s']:.1f} s, "
                f"answer {rows[-1]['answer_s']:.1f} s")
        decodes = [r["decode"] for r in rows if r["decode"]]
        weights = _weight_bytes(gen)
        ceiling = bandwidth_gbs * 1e9 / weights if weights else None
        decode_p50 = statistics.median(decodes) if decodes else None
        out[backend] = {
            "model": gen.name, "weight_bytes": weights,
            "load_first_s": round(first_load, 1), "load_again_s": round(cached_load, 1),
            "questions": len(rows),
            "retrieve_ms_p50": percentile([r["retrieve_ms"] for r in rows], 50),
            "retrieve_ms_p95": percentile([r["retrieve_ms"] for r in rows], 95),
            "prompt_tokens_p50": percentile([r["prompt_tokens"] for r in rows], 50),
            "prompt_tokens_filled_p50": percentile([r["prompt_tokens_filled"] for r in rows], 50),
            "first_token_s_p50": percentile([r["first_token_s"] for r in rows], 50),
            "first_token_s_p95": percentile([r["first_token_s"] for r in rows], 95),
            "decode_tokens_per_s_p50": round(decode_p50, 1) if decode_p50 else None,
            "ceiling_tokens_per_s": round(ceiling, 1) if ceiling else None,
            "decode_share_of_ceiling": round(decode_p50 / ceiling, 2) if decode_p50 and ceiling else None,
            "answer_s_p50": percentile([r["answer_s"] for r in rows], 50),
            "answer_s_p95": percentile([r["answer_s"] for r in rows], 95),
            "peak_rss_mb_so_far": _peak_rss_mb(),
        }
        log(f"[{backend}] {json.dumps(out[backend], ensure_ascii=False)}")
        del pipe, gen
    return out


def answer_table(result: dict) -> str:
    lines = [f"memory read bandwidth {result['bandwidth_gbs']:.1f} GB/s; index build {result.get('index', {})}"]
    if result.get("startup"):
        lines.append(f"startup: page after {result['startup']['page_s']} s, models ready after "
                     f"{result['startup']['models_ready_s']} s")
    head = (f"{'backend':12} {'load 1st/again':>15} {'prompt tok':>10} {'1st token p50/p95':>18} "
            f"{'decode tok/s':>12} {'ceiling':>8} {'share':>6} {'answer p50/p95':>15} {'retrieve p50':>12} {'peak RSS':>9}")
    lines.append(head)
    for name, r in result["backends"].items():
        lines.append(f"{name:12} {r['load_first_s']:>6.1f}/{r['load_again_s']:<6.1f} s {r['prompt_tokens_p50']:>10.0f} "
                     f"{r['first_token_s_p50']:>8.1f}/{r['first_token_s_p95']:<6.1f} s {r['decode_tokens_per_s_p50'] or 0:>12.1f} "
                     f"{r['ceiling_tokens_per_s'] or 0:>8.1f} {r['decode_share_of_ceiling'] or 0:>6.2f} "
                     f"{r['answer_s_p50']:>6.1f}/{r['answer_s_p95']:<6.1f} s {r['retrieve_ms_p50']:>9.0f} ms {r['peak_rss_mb_so_far']:>6.0f} MB")
    return "\n".join(lines)


__all__ = ["CONFIGS", "QueryCache", "answer_bench", "answer_table", "memory_bandwidth", "percentile", "retrieval_bench", "save",
           "startup_bench", "stop_process", "synthetic_index", "table"]
