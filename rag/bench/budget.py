"""`rag bench budget`: the prompt's token budget against the answers it gives and the wait for them.

Each budget answers the same sample of every question set of the suite (`rag/suite.py`) with one loaded
model, so accuracy, refusals and times are measured side by side in one run. Budget 0 is the earlier prompt
(each passage cut to `passage_chars` around its best sentence), so the first row is the before and the
ratios of the others are against it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rag.suite import SETS, QuestionSet, run_suite

Log = Callable[[str], None]


def budget_bench(settings, folder: Path, work: Path, budgets: Sequence[int], sets: Sequence[QuestionSet] = SETS,
                 n: int = 10, log: Log = print, progress=None, base=None) -> dict:
    """For each budget: the suite's whole-row figures over `n` questions per set, and each set's accuracy."""
    from rag.pipeline import Pipeline

    base = base or Pipeline.from_settings(settings, progress)
    rows = []
    for budget in budgets:
        log(f"[budget {budget}] answering {len(sets)} sets, {n or 'all'} questions each")
        result = run_suite(settings.replace(prompt_tokens=budget), folder, work, sets, n, log, progress,
                           label=f"budget-{budget}", base=base)
        whole = result["rows"][-1]
        rows.append({"budget": budget, **whole,
                     "sets": {r["set"]: r["answer_accuracy"] if r["answer_accuracy"] is not None
                              else r["refusal_accuracy"] for r in result["rows"][:-1]}})
    return {"backend": base.generator.name if base.generator else "extractive", "sample": n, "rows": rows}


def _ratio(value, before) -> str:
    return f"{value / before:.2f}" if value and before else ""


def budget_table(result: dict) -> str:
    """The curve as a Markdown table; × columns are times against the first row's."""
    head = ("| prompt budget | questions | accuracy | correct refusals | false refusals | citation precision "
            "| prompt filled p50 | first token p50 / p95 | answer p50 / p95 | second looks: answer p50 | × first token "
            "| × answer | per set |")
    lines = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    first = result["rows"][0] if result["rows"] else {}

    def f(v) -> str:
        return "" if v is None else f"{v:.2f}"

    def s(ms) -> str:
        return "" if ms is None else f"{ms / 1000:.1f}"

    for r in result["rows"]:
        per_set = ", ".join(f"{k} {f(v)}" for k, v in r["sets"].items())
        lines.append("| " + " | ".join([
            str(r["budget"]) if r["budget"] else "0 (before: passage_chars)", str(r["items"]), f(r["answer_accuracy"]),
            f(r["refusal_accuracy"]), f(r["false_refusal_rate"]), f(r["citation_precision"]),
            str(r.get("prompt_filled_p50") or ""),
            f"{s(r['first_token_ms_p50'])} / {s(r.get('first_token_ms_p95'))} s",
            f"{s(r['latency_ms'].get('p50'))} / {s(r['latency_ms'].get('p95'))} s",
            f"{r.get('looked_again', 0)}: {s(r.get('looked_again_ms_p50')) or '-'} s",
            _ratio(r["first_token_ms_p50"], first.get("first_token_ms_p50")),
            _ratio(r["latency_ms"].get("p50"), first.get("latency_ms", {}).get("p50")), per_set]) + " |")
    return "\n".join(lines)


__all__ = ["budget_bench", "budget_table"]
