"""`rag bench typing`: the wait a user sees in the page, for a question typed at a human pace and for one pasted.

Each configuration is a `rag serve` of its own (a fresh model, so no prompt of another configuration is in its
cache), driven by Chromium: a new conversation, the question typed key by key (or pasted at once), Enter, and
the time from Enter to the first word of the draft and to the checked answer. The before configuration is the
earlier prompt (no token budget) with the question pasted: how every question was asked before the page
prefilled while typing.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rag.bench.common import percentile, stop_process
from rag.errors import RagError

Log = Callable[[str], None]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
CHAR_DELAY_MS = {"zh": 250, "en": 70}  # about 4 Chinese characters or 14 Latin letters a second
PAUSE_S = 1.0  # between the last keystroke and Enter


@dataclass(frozen=True)
class Config:
    name: str
    typed: bool
    env: dict  # RAG_* settings of its server


def _server(env: dict, port: int, data: str, log: Log, timeout: float = 300.0) -> subprocess.Popen:
    """`rag serve` with `env`, once its models are warm."""
    full = {**os.environ, **env, "RAG_DATA_DIR": data, "RAG_PORT": str(port), "RAG_HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve"], env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_file = Path(data) / "logs" / "rag.log"
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout and proc.poll() is None:
        if log_file.is_file() and "models warm after" in log_file.read_text(encoding="utf-8"):
            return proc
        time.sleep(0.5)
    proc.kill()
    raise RagError(f"rag serve did not get ready in {timeout:.0f} s (log: {log_file})")


def _ask(page, question: str, typed: bool) -> tuple[float, float]:
    """Seconds from Enter to the draft's first word and to the checked answer."""
    box = page.locator("#question textarea")
    # A question put in the box before the new conversation has landed is emptied by it, and Enter then sends
    # nothing. On a fresh page the panel and the box look emptied already, so a mark is put in the box first:
    # its going proves the reply came.
    box.fill("·")
    page.locator("#new-chat").click()
    page.wait_for_function("() => document.querySelector('#sources').innerText.includes('提问后')"
                           " && document.querySelector('#question textarea').value === ''", timeout=30_000)
    if typed:
        lang = "en" if question.isascii() else "zh"
        box.press_sequentially(question, delay=CHAR_DELAY_MS[lang])
        time.sleep(PAUSE_S)
    else:
        box.fill(question)
    start = time.perf_counter()
    box.press("Enter")
    page.locator("#chat .draft").first.wait_for(timeout=120_000)
    first = time.perf_counter() - start
    page.wait_for_function("() => document.querySelector('#chat .draft') === null", timeout=240_000)
    return first, time.perf_counter() - start


def typing_bench(questions: Sequence[str], configs: Sequence[Config], set_env: dict, log: Log = print) -> dict:
    """For each configuration, the first-word and answer times of `questions` through the page."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RagError("rag bench typing needs playwright (pip install -e '.[test]')") from None
    if not CHROMIUM.is_file():
        raise RagError(f"rag bench typing needs Chromium at {CHROMIUM} (apt-get install chromium)")
    out = {}
    for config in configs:
        with tempfile.TemporaryDirectory() as data:
            port = _free_port()
            proc = _server({**set_env, **config.env}, port, data, log)
            try:
                with sync_playwright() as pw:
                    browser = pw.chromium.launch_persistent_context(
                        str(Path(data) / "profile"), executable_path=str(CHROMIUM), args=FLAGS, headless=True)
                    page = browser.new_page()
                    page.goto(f"http://127.0.0.1:{port}/")
                    page.locator("#question textarea").wait_for(timeout=60_000)
                    rows, failed = [], []
                    for n, question in enumerate(questions, 1):
                        try:
                            first, answer = _ask(page, question, config.typed)
                        except PlaywrightError as exc:  # counted, and the page started afresh
                            failed.append({"question": question, "error": str(exc).splitlines()[0]})
                            log(f"[{config.name}] {n}/{len(questions)} failed: {failed[-1]['error']}")
                            page.goto(f"http://127.0.0.1:{port}/")
                            continue
                        rows.append({"question": question, "first_s": round(first, 2), "answer_s": round(answer, 2)})
                        log(f"[{config.name}] {n}/{len(questions)} first word {first:.1f} s, answer {answer:.1f} s")
                    browser.close()
            finally:
                stop_process(proc)
                if failed:  # the server's log, kept for a look at what went wrong
                    kept = Path("bench") / f"typing-{len(out)}.log"
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    kept.write_bytes((Path(data) / "logs" / "rag.log").read_bytes())
        firsts, answers = [r["first_s"] for r in rows] or [0.0], [r["answer_s"] for r in rows] or [0.0]
        out[config.name] = {"typed": config.typed, "settings": config.env, "questions": len(rows), "failed": failed,
                            "first_s_p50": round(statistics.median(firsts), 2), "first_s_p95": percentile(firsts, 95),
                            "answer_s_p50": round(statistics.median(answers), 2), "answer_s_p95": percentile(answers, 95),
                            "rows": rows}
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def typing_table(result: dict) -> str:
    """One row per configuration; × columns are against the first."""
    head = ("| configuration | questions | failed | first word p50 / p95 | answer p50 / p95 | × first word "
            "| × answer |")
    lines = [head, "| --- | --- | --- | --- | --- | --- | --- |"]
    first = next(iter(result.values()), {})
    for name, r in result.items():
        lines.append(f"| {name} | {r['questions']} | {len(r.get('failed', []))} | {r['first_s_p50']:.1f} / {r['first_s_p95']:.1f} s "
                     f"| {r['answer_s_p50']:.1f} / {r['answer_s_p95']:.1f} s "
                     f"| {r['first_s_p50'] / first['first_s_p50']:.2f} | {r['answer_s_p50'] / first['answer_s_p50']:.2f} |")
    return "\n".join(lines)


__all__ = ["Config", "typing_bench", "typing_table"]
