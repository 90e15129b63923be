"""`rag bench confirm`: the confirm step's threshold chosen on held-out training questions, not on the suite.

The confirm step refuses an answer the model doubts (P(否) above `confirm_threshold`). Where that line lies is a
choice between right answers lost and wrong ones stopped, so it is made on data that no evaluation set shares:
the CRUD-RAG training questions of the choosing split (by article, `reader.heldout.split_of`, the reader's own
split), answerable ones and CRUD-RAG's unanswerable ones alike, answered over the training news archive by the
whole pipeline with its doubts saved. Each threshold of a grid is then applied to those saved answers
(`suite.confirm_report`, no model), counting right outcomes (a right answer, or a refusal of a question the
pages do not answer). A hundred-odd questions cannot tell apart thresholds a question or two apart, so the one
chosen is the highest whose count is within one standard error of the best (Breiman's one-standard-error
rule): of the thresholds the data cannot tell apart, the one that refuses least.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

from rag.errors import InputError

GRID = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 1.0)  # 1.0: the step refuses nothing
SEED = 0


def choosing_questions(train: Path, n: int) -> list[dict]:
    """Up to `n` answerable and `n` unanswerable CRUD-RAG training questions of the choosing split, drawn with a
    fixed seed (the same on every machine)."""
    from rag.evaluate import load_items
    from rag.reader.heldout import split_of
    from rag.reader.mine import crud_group

    qa = train / "crud_train_qa.jsonl"
    if not qa.is_file():
        raise InputError(f"{train} holds no crud_train_qa.jsonl: give the training folder with --train")
    items = [it for it in load_items(qa) if it.get("sources") and split_of(crud_group(it["sources"][0])) == "choose"]
    rng = random.Random(SEED)
    picked = []
    for answerable in (True, False):
        group = [it for it in items if bool(it.get("answerable", True)) is answerable]
        picked += rng.sample(group, min(n, len(group)))
    return picked


def fit_confirm(settings, train: Path, work: Path, n: int, log=print, progress=None, base=None,
                make_embedder=None, answer: bool = True) -> dict:
    """Answer the choosing questions (saved under `work`; with `answer` False, the answers saved there by an
    earlier run are used), then the right outcomes at each threshold of `GRID` and the threshold chosen.
    `base` and `make_embedder` as for `suite.run_suite`."""
    from rag import suite

    work.mkdir(parents=True, exist_ok=True)
    questions = work / "confirm-choose.jsonl"
    qs = suite.QuestionSet("train_choose", str(questions.resolve()), str((train / "crud_train_news.jsonl").resolve()),
                           "m3e-small")
    if answer:
        questions.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in choosing_questions(train, n)),
                             encoding="utf-8")
        suite.run_suite(settings, Path("/"), work, (qs,), 0, log, progress, label="confirm-fit", base=base,
                        make_embedder=make_embedder)
    elif not questions.is_file():
        raise InputError(f"no saved answers in {work}: run `rag bench confirm` without --reuse first")
    off, rows = suite.confirm_curve(Path("/"), work, settings, GRID, (qs,), label="confirm-fit",
                                    make_embedder=make_embedder)
    right_off = sum(suite.is_right(r) for r in off.values())
    separation = suite.doubt_separation(off)
    curve = [{"threshold": t, "right": right_off + row["wrong_to_right"] - row["right_to_wrong"],
              "right_to_wrong": row["right_to_wrong"], "wrong_to_right": row["wrong_to_right"]}
             for t, row in zip(GRID, rows)]
    return {"questions": len(off), "right_with_step_off": right_off, "curve": curve, "threshold": chosen(curve, len(off)),
            "doubt_auc": separation["auc"], "answers_doubted": separation["answers"],
            "certainty": certainty_fit(off, work / "results-confirm-fit.jsonl")}


def certainty_fit(off: dict, results: Path, key: str = "logprob_low3") -> dict | None:
    """The same choice for the model's own certainty (`answer.certainty`: no second call), on the same answers:
    an answer whose least sure words are below a threshold is refused. The thresholds are the deciles of the
    answers' values; the AUC is of wrong answers being less sure than right ones. `off`: the run's records
    checked with the confirm step off, by (set, id); `results`: its records as written, which hold the
    certainty."""
    from rag import suite

    if not results.is_file():
        return None
    rows = map(json.loads, results.read_text(encoding="utf-8").splitlines())
    sure = {(r.get("set"), r["id"]): r.get(key) for r in rows}
    answered = [(r, sure.get(k)) for k, r in off.items() if not r["refused"] and sure.get(k) is not None]
    if not answered:
        return None
    right_off = sum(suite.is_right(r) for r in off.values())
    # less sure is worse: the values negated, wrong answers should stand above right ones
    auc = suite.wrong_above([-v for r, v in answered if not suite.is_right(r)],
                            [-v for r, v in answered if suite.is_right(r)])
    values = sorted(v for _, v in answered)
    curve = []
    for t in sorted({values[int(q / 10 * (len(values) - 1))] for q in range(10)}):
        refused = [r for r, v in answered if v < t]
        lost = sum(suite.is_right(r) for r in refused)
        won = sum(not r.get("answerable", True) for r in refused)
        curve.append({"threshold": round(t, 4), "right": right_off - lost + won, "right_to_wrong": lost,
                      "wrong_to_right": won})
    # one standard error, as for the doubts; of the thresholds within it, the lowest refuses least
    pick = chosen([{**c, "threshold": -c["threshold"]} for c in curve], len(off))
    return {"signal": key, "auc": auc, "answers": len(answered), "curve": curve, "threshold": -pick}


def chosen(curve: list[dict], questions: int) -> float:
    """The highest threshold whose right count is within one standard error of the best count."""
    best = max(c["right"] for c in curve)
    share = best / questions if questions else 0.0
    margin = math.sqrt(share * (1 - share) / questions) * questions if questions else 0.0
    return max(c["threshold"] for c in curve if c["right"] >= best - margin)


def confirm_fit_table(result: dict) -> str:
    lines = [f"{result['questions']} held-out training questions (choosing split); right with the step off: "
             f"{result['right_with_step_off']}; AUC of the doubts over {result['answers_doubted']} answers: "
             f"{result['doubt_auc']:.2f}" if result["doubt_auc"] is not None else "no doubts saved",
             "", "| refuses above | right | right → wrong | wrong → right |", "| --- | --- | --- | --- |"]
    lines += [f"| {c['threshold']:g} | {c['right']} | {c['right_to_wrong']} | {c['wrong_to_right']} |"
              for c in result["curve"]]
    lines.append(f"\nchosen: {result['threshold']:g}")
    if sure := result.get("certainty"):
        lines += [f"\nthe model's own certainty instead ({sure['signal']}, no second call): AUC {sure['auc']:.2f} over "
                  f"{sure['answers']} answers", "", "| refuses below | right | right → wrong | wrong → right |",
                  "| --- | --- | --- | --- |"]
        lines += [f"| {c['threshold']:g} | {c['right']} | {c['right_to_wrong']} | {c['wrong_to_right']} |"
                  for c in sure["curve"]]
        lines.append(f"\nchosen: {sure['threshold']:g}")
    return "\n".join(lines)


__all__ = ["GRID", "certainty_fit", "choosing_questions", "chosen", "confirm_fit_table", "fit_confirm"]
