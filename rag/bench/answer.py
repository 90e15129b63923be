"""`rag bench` (answer speed): model load, retrieval, prompt tokens, first token, decode speed against the
machine's own memory-bandwidth ceiling, whole answer and peak memory, per backend (a benchmark, not a test)."""
from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rag.bench.common import percentile, stop_process


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
            rows.append(_timed_answer(pipe, gen, item["question"]))
            log(f"[{backend}] {n}/{len(items)} first token {rows[-1]['first_token_s']:.1f} s, "
                f"answer {rows[-1]['answer_s']:.1f} s")
        out[backend] = {"model": gen.name, "load_first_s": round(first_load, 1), "load_again_s": round(cached_load, 1),
                        **_summary(rows, _weight_bytes(gen), bandwidth_gbs)}
        log(f"[{backend}] {json.dumps(out[backend], ensure_ascii=False)}")
        del pipe, gen
    return out


def _timed_answer(pipe, gen, question: str) -> dict:
    """One answer streamed: retrieval, prompt tokens (all, and those filled), first token, whole answer and
    decode speed (llama.cpp's own count, else pieces over time)."""
    pieces, first, start = 0, None, time.perf_counter()
    answer = None
    for event in pipe.stream(question):
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
    return {"retrieve_ms": answer.timings.get("retrieve_ms", 0.0) if answer else 0.0,
            "prompt_tokens": timings.get("prompt_n", 0) + timings.get("cache_n", 0),
            "prompt_tokens_filled": timings.get("prompt_n", 0),
            "first_token_s": (first or end) - start, "answer_s": end - start, "decode": decode}


def _summary(rows: list[dict], weights: int, bandwidth_gbs: float) -> dict:
    """The answers' p50/p95 figures, and decode against the ceiling that `weights` bytes a token set."""
    decodes = [r["decode"] for r in rows if r["decode"]]
    ceiling = bandwidth_gbs * 1e9 / weights if weights else None
    decode_p50 = statistics.median(decodes) if decodes else None

    def pct(key: str, q: int) -> float:
        return percentile([r[key] for r in rows], q)

    return {
        "weight_bytes": weights, "questions": len(rows),
        "retrieve_ms_p50": pct("retrieve_ms", 50), "retrieve_ms_p95": pct("retrieve_ms", 95),
        "prompt_tokens_p50": pct("prompt_tokens", 50), "prompt_tokens_filled_p50": pct("prompt_tokens_filled", 50),
        "first_token_s_p50": pct("first_token_s", 50), "first_token_s_p95": pct("first_token_s", 95),
        "decode_tokens_per_s_p50": round(decode_p50, 1) if decode_p50 else None,
        "ceiling_tokens_per_s": round(ceiling, 1) if ceiling else None,
        "decode_share_of_ceiling": round(decode_p50 / ceiling, 2) if decode_p50 and ceiling else None,
        "answer_s_p50": pct("answer_s", 50), "answer_s_p95": pct("answer_s", 95),
        "peak_rss_mb_so_far": _peak_rss_mb(),
    }


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


__all__ = ["answer_bench", "answer_table", "memory_bandwidth", "startup_bench"]
