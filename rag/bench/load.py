"""A bounded load run against a served chat page: N concurrent sessions through gradio_client, each asking
its own questions on /chat, then a check that every answer is complete, cited and its own.

Used by tests/test_load.py (against the app served over fake and over real models); `run_load` takes the URL of
any served page.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from rag.sessions import bubble_text as _text


@dataclass
class SessionResult:
    session: int
    question: str
    expect: str
    seconds: float = 0.0
    sources_seconds: float = 0.0  # until the retrieved passages were on screen
    max_queue_rank: int = -1  # the highest queue position this session was told; -1: never queued
    answer: str = ""
    error: str = ""
    problems: list[str] = field(default_factory=list)


def _one(url: str, n: int, question: str, expect: str, auth: tuple[str, str] | None, start: threading.Barrier,
         log: Callable[[str], None]) -> SessionResult:
    from gradio_client import Client

    result = SessionResult(n, question, expect)
    try:
        client = Client(url, auth=auth, verbose=False)  # its own session: its own conversation state
        start.wait(timeout=120)
        t0 = time.perf_counter()
        job = client.submit(question, [], api_name="/chat")
        seen = 0  # streamed outputs already looked at for the sources panel
        while not job.done():
            status = job.status()
            rank = getattr(status, "rank", None)
            if rank is not None:
                result.max_queue_rank = max(result.max_queue_rank, int(rank))
            if not result.sources_seconds:
                outputs = job.outputs()
                if any('class="src-card"' in str(o[1]) for o in outputs[seen:] if o):
                    result.sources_seconds = time.perf_counter() - t0
                seen = len(outputs)
            time.sleep(0.2)
        history, panel, _ = job.result()
        result.seconds = time.perf_counter() - t0
        result.sources_seconds = result.sources_seconds or result.seconds
        roles = [m.get("role") for m in history]
        result.answer = _text(history[-1].get("content")) if history else ""
        if roles != ["user", "assistant"] or _text(history[0].get("content")) != question:
            result.problems.append(f"history is not this session's own turn: {history!r:.200}")
        if expect not in result.answer:
            result.problems.append(f"answer lacks {expect!r}: {result.answer[:120]!r}")
        if "#src-" not in result.answer or "<mark>" not in panel:
            result.problems.append("answer is not cited")
    except Exception as exc:  # a load run reports every failure rather than stopping at the first
        result.error = f"{exc.__class__.__name__}: {exc}"
    log(f"session {n:2d}: {result.seconds:5.1f} s (sources after {result.sources_seconds:4.1f} s), "
        f"queue rank ≤ {result.max_queue_rank}, "
        f"{'ERROR ' + result.error if result.error else ('; '.join(result.problems) or 'ok')}")
    return result


def run_load(url: str, cases: list[tuple[str, str]], sessions: int = 20, auth: tuple[str, str] | None = None,
             log: Callable[[str], None] = lambda _: None) -> dict:
    """`sessions` clients at once, session i asking cases[i % len(cases)] = (question, text its answer must hold).
    Returns the figures: requests, errors, wrong or uncited answers, p50/p95/max seconds, queue ranks seen."""
    start = threading.Barrier(sessions)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [pool.submit(_one, url, i, *cases[i % len(cases)], auth, start, log) for i in range(sessions)]
        results = [f.result() for f in futures]
    wall = time.perf_counter() - t0
    from rag.bench.common import percentile  # the percentile every benchmark of the project reports

    times = [r.seconds for r in results if not r.error]
    sources = [r.sources_seconds for r in results if not r.error]
    return {
        "sessions": sessions, "requests": len(results), "errors": sum(bool(r.error) for r in results),
        "wrong_or_uncited": sum(bool(r.problems) for r in results),
        "p50_s": percentile(times, 50), "p95_s": percentile(times, 95), "max_s": percentile(times, 100), "wall_s": round(wall, 1),
        "sources_p50_s": percentile(sources, 50),
        "queued_sessions": sum(r.max_queue_rank > 0 for r in results),
        "max_queue_rank": max((r.max_queue_rank for r in results), default=-1),
        "failures": [{"session": r.session, "question": r.question, "error": r.error, "problems": r.problems}
                     for r in results if r.error or r.problems],
    }


__all__ = ["SessionResult", "run_load"]
