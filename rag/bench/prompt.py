"""`rag bench prompt`: what the first prompt shows, chosen by the question's words or by the reader, at each
budget, without running the model.

For every answerable Chinese question (the training questions of the reader's choosing split over the
training archive, and each suite set over its corpus) the passages are retrieved as an answer retrieves them
and the prompt's passage blocks are made at each budget, once with the sentences that cover the question's
words (`budget.select`) and once in the reader's order (the `reader_prompt` step). Counted: how often the
blocks hold the gold answer (as `rag eval` counts it in an answer) and, for the training questions, the
evidence sentence; and the blocks' tokens. A prompt that leaves the answer out cannot be answered right; one
that holds it can, so this is a ceiling, measured in seconds instead of an hour of the model.

The choice between the two is made on the training questions; the suite's rows only measure.
"""
from __future__ import annotations

import json
import re
import statistics
from collections.abc import Sequence
from pathlib import Path

from rag.answer.budget import estimate_tokens
from rag.answer.prompt import format_passages
from rag.asked import is_english
from rag.evaluate import holds_golds, load_items
from rag.reader.model import Reads

ORDERS = ("words", "reader")
_SPACE = re.compile(r"\s+")


def _plain(text: str) -> str:
    return _SPACE.sub("", text).lower()


def holds_evidence(item: dict, shown: str) -> bool:
    """Whether every evidence sentence of `item` stands whole in `shown` (spaces and case ignored)."""
    evidence = [_plain(e) for e in item.get("evidence", []) if e.strip()]
    return bool(evidence) and all(e in _plain(shown) for e in evidence)


def shown_rows(name: str, questions: list[tuple[dict, list]], budgets: Sequence[int], reader: Reads) -> list[dict]:
    """For each budget and order, over `questions` (item, retrieved passages): the share whose blocks hold the
    answer, the evidence, and the blocks' tokens (p50)."""
    rows = []
    for budget in budgets:
        for order in ORDERS:
            held, evidence, tokens = [], [], []
            for item, passages in questions:
                shown = format_passages(passages, item["question"], 0, budget, reader if order == "reader" else None)
                held.append(holds_golds(item, shown))
                if item.get("evidence"):
                    evidence.append(holds_evidence(item, shown))
                tokens.append(estimate_tokens(shown))
            rows.append({"set": name, "budget": budget, "order": order, "questions": len(questions),
                         "answer_shown": round(sum(held) / len(held), 3) if held else None,
                         "evidence_shown": round(sum(evidence) / len(evidence), 3) if evidence else None,
                         "tokens_p50": statistics.median(tokens) if tokens else None})
    return rows


def prompt_bench(settings, folder: Path, work: Path, train: Path, budgets: Sequence[int], log=print,
                 sets=None, weights: Path | None = None) -> dict:
    """The rows of `shown_rows` for the training questions of the choosing split and for each suite set."""
    from rag.bench.common import set_pipeline
    from rag.bench.confirm_fit import choosing_questions
    from rag.factory import reader_for
    from rag.suite import SETS, QuestionSet

    reader = reader_for(settings, path=weights)
    chosen = work / "confirm" / "prompt-choose.jsonl"
    chosen.parent.mkdir(parents=True, exist_ok=True)
    chosen.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in choosing_questions(train, 10_000)
                              if it.get("answerable", True)), encoding="utf-8")
    training = QuestionSet("train_choose", str(chosen.resolve()), str((train / "crud_train_news.jsonl").resolve()),
                           "m3e-small")
    embedders: dict = {}
    rows = []
    for qs, place in [(training, work / "confirm"), *((s, work / "suite") for s in (sets or SETS))]:
        pipe = set_pipeline(settings, qs, folder, place, embedders, log)
        items = [it for it in load_items(Path(folder) / qs.questions)
                 if it.get("answerable", True) and not is_english(it["question"])]
        questions = [(it, pipe.retrieve(it["question"], None, "hybrid")) for it in items]
        rows += shown_rows(qs.name, questions, budgets, reader)
        for r in rows[-2 * len(budgets):]:
            log(str(r))
    return {"budgets": list(budgets), "rows": rows}


def prompt_table(result: dict) -> str:
    head = "| set | questions | budget | order | answer shown | evidence shown | tokens p50 |"
    lines = [head, "| " + " | ".join(["---"] * 7) + " |"]
    for r in result["rows"]:
        lines.append(f"| {r['set']} | {r['questions']} | {r['budget']} | {r['order']} | {r['answer_shown']} | "
                     f"{'' if r['evidence_shown'] is None else r['evidence_shown']} | {r['tokens_p50']} |")
    return "\n".join(lines)


__all__ = ["holds_evidence", "prompt_bench", "prompt_table", "shown_rows"]
