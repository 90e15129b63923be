"""`rag eval --suite DIR`: every question set of an eval folder, each over its own corpus, in one table.

The sets and their corpora are data (`SETS`, paths relative to the suite folder, as its README lists them).
Each corpus gets an index of its own under the work folder, built once and reused while the corpus and the
embedder are unchanged; the language model is loaded once for all sets.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InputError
from rag.evaluate import load_items, rescore, run_items, summarise
from rag.settings import Settings

Log = Callable[[str], None]


@dataclass(frozen=True)
class QuestionSet:
    name: str
    questions: str  # the question file, relative to the suite folder
    corpus: str  # the folder or .jsonl archive its questions are about, relative to the suite folder
    embedder: str = ""  # "": the configured embedder
    rows: dict[str, str] = field(default_factory=dict)  # item type -> a row of its own in the table


# The seed pages are indexed with the default embedder, as the product does. The two news archives are
# indexed with m3e-small, which embeds them in minutes on two cores (EmbeddingGemma takes over 25 minutes
# for the CRUD-RAG archive alone).
SETS: tuple[QuestionSet, ...] = (
    QuestionSet("dev", "dev.jsonl", "../seeds"),
    QuestionSet("dev_en", "dev_en.jsonl", "../seeds"),
    QuestionSet("crud", "../peer/crud_qa_dev.jsonl", "../peer/crud_news_1k.jsonl", "m3e-small"),
    QuestionSet("rgb", "rgb/rgb_qa.jsonl", "rgb/rgb_corpus.jsonl", "m3e-small",
                rows={"peer-noise": "rgb noise", "unanswerable": "rgb rejection",
                      "peer-integration": "rgb integration"}),
)


def sample(items: list[dict], n: int) -> list[dict]:
    """`n` items spread evenly over the file (all of them when `n` is 0 or not smaller), so that a sample
    of a file ordered by kind still holds every kind."""
    if n <= 0 or n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def corpus_folder(corpus: Path, work: Path) -> Path:
    """A folder to index that holds just `corpus`: the folder itself, or, for one archive file, a folder of
    the work area with a link to it (a copy where links cannot be made)."""
    if corpus.is_dir():
        return corpus
    if not corpus.is_file():
        raise InputError(f"corpus {corpus} does not exist")
    folder = work / f"{corpus.stem}-corpus"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / corpus.name
    if not target.exists():
        try:
            os.symlink(corpus.resolve(), target)
        except OSError:
            shutil.copyfile(corpus, target)
    return folder


def select(names: str) -> tuple[QuestionSet, ...]:
    """The sets named, comma-separated ("" or "all": every one)."""
    if not names or names == "all":
        return SETS
    known = {s.name: s for s in SETS}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise InputError(f"unknown question set {', '.join(unknown)} (known: {', '.join(known)})")
    return tuple(known[n] for n in wanted)


def set_settings(settings, qs: QuestionSet, folder: Path, work: Path):
    """The settings for answering `qs`: its embedder, its corpus, and that corpus's index in the work folder."""
    name = qs.embedder or settings.embedder
    corpus = corpus_folder(folder / qs.corpus, work)
    return settings.replace(embedder=name, seeds_dir=str(corpus), index_dir=str(work / f"{corpus.name}-{name}"))


def run_suite(settings, folder: Path, work: Path, sets: Sequence[QuestionSet] = SETS, n: int = 0,
              log: Log = print, progress=None, label: str = "suite", base=None, make_embedder=None) -> dict:
    """Answer every set's questions (a sample of `n` per set when `n` > 0) and summarise them: one row per
    set, and per item type where the set names rows, and one for the whole. The answers go to
    `work/answers-<label>/<set>.jsonl`, each question's outcome to `work/results-<label>.jsonl`. `base` (a Pipeline: its generator answers every set) and
    `make_embedder` (settings -> Embedder) default to the models the settings name."""
    from rag.factory import embedder_for
    from rag.pipeline import Pipeline

    folder, work = Path(folder), Path(work)
    if not folder.is_dir():
        raise InputError(f"suite folder {folder} does not exist")
    answers = work / f"answers-{label}"
    answers.mkdir(parents=True, exist_ok=True)
    # one small line per question (ids and outcomes, no question text): what the next change compares against
    results = work / f"results-{label}.jsonl"
    results.write_text("", encoding="utf-8")
    base = base or Pipeline.from_settings(settings, progress)
    make_embedder = make_embedder or (lambda s: embedder_for(s, progress))
    embedders = {settings.embedder: base.embedder}
    rows, everything = [], []
    for qs in sets:
        items = sample(load_items(folder / qs.questions), n)
        s = set_settings(settings, qs, folder, work)
        name = s.embedder
        if name not in embedders:
            embedders[name] = make_embedder(s)
        pipe = Pipeline(s, embedders[name], base.generator, notice=base.notice)
        log(f"[{qs.name}] index: {pipe.ensure_index(progress=progress) or 'up to date'}".strip())

        def show(i: int, total: int, item: dict, answer, set_name: str = qs.name) -> None:
            flag = "refused" if answer.refused else "answered"
            log(f"[{set_name} {i}/{total}] {item.get('id', '')} {flag} {answer.timings.get('total_ms', 0) / 1000:.1f}s "
                f"{answer.text[:50]}".replace("\n", " "))

        records = run_items(items, pipe.ask, answers / f"{qs.name}.jsonl", show,
                            search=lambda q, p=pipe: p.retrieve(q, 10))
        everything += records
        with results.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"set": qs.name, **r}, ensure_ascii=False) + "\n" for r in records)
        rows += _rows(qs, embedders[name].name, records)
    rows.append({"set": "all", "embedder": "", **summarise(everything)})
    return {"backend": base.generator.name if base.generator else "extractive", "sample": n, "rows": rows}


def rescore_suite(folder: Path, work: Path, sets: Sequence[QuestionSet] = SETS, label: str = "suite",
                  settings=None, make_embedder=None) -> dict:
    """The figures of a run's saved answers (`work/answers-<label>/`), scored again with no language model
    loaded: for a change to scoring, or a set answered in a run of its own. Recall@k is then judged on each
    answer's own passages. With `settings`, what the model said is checked again with the answer steps those
    settings switch on: the share of a checking step (an ablation of it), for the same model output."""
    rows, everything = [], []
    for qs in sets:
        records = _rescored(folder, work, qs, label, settings, make_embedder)
        everything += records
        rows += _rows(qs, qs.embedder or (settings.embedder if settings is not None else Settings().embedder), records)
    rows.append({"set": "all", "embedder": "", **summarise(everything)})
    return {"backend": "", "sample": 0, "rescored": True, "rows": rows}


def is_right(record: dict) -> bool:
    """A correct answer, or a refusal of a question the pages do not answer."""
    return bool(record["correct"]) if record["answerable"] else bool(record["refused"])


def ablate_suite(folder: Path, work: Path, settings, steps: Sequence[str], sets: Sequence[QuestionSet] = SETS,
                 label: str = "suite", make_embedder=None) -> list[dict]:
    """For each checking step: what the saved answers of run `label` become, checked again with that step
    switched the other way (off when the settings have it on, on when off), against all of them checked
    again as the settings are. One row a step: answers that change, right -> wrong, wrong -> right, and
    the sets whose figures move."""
    from rag.answer.steps import STEPS, steps_of

    unknown = [x for x in steps if x not in STEPS]
    if unknown:
        raise InputError(f"unknown answer step(s): {', '.join(unknown)}; known: {', '.join(STEPS)}")
    on = steps_of(settings.steps)
    embedder = _embedders(make_embedder)

    def checked(step_set: frozenset[str]) -> tuple[dict, dict]:
        return _checked(folder, work, settings.replace(steps=",".join(sorted(step_set))), sets, label, embedder)

    base = checked(on)
    return [_ablation_row(step, step in on, base, checked(on - {step} if step in on else on | {step}))
            for step in steps]


def confirm_report(folder: Path, work: Path, settings, thresholds: Sequence[float], sets: Sequence[QuestionSet] = SETS,
                   label: str = "suite", make_embedder=None) -> tuple[list[dict], dict]:
    """What the confirm step does to run `label`'s saved answers (with the step's doubts saved), from one check
    of them with the step off: for each threshold, a row as `ablate_suite`'s for the answers refused above
    it against none refused (the curve the default threshold is chosen from); and how well the saved doubts
    tell the wrong answers the checks let through from the right ones: the chance that a wrong answer was
    doubted more than a right one (AUC; 0.5 is no better than chance), with how many answers and how many of
    them wrong."""
    off, rows = confirm_curve(folder, work, settings, thresholds, sets, label, make_embedder)
    return rows, doubt_separation(off)


def confirm_curve(folder: Path, work: Path, settings, thresholds: Sequence[float], sets: Sequence[QuestionSet] = SETS,
                  label: str = "suite", make_embedder=None) -> tuple[dict, list[dict]]:
    """Run `label`'s saved answers checked once with the confirm step off (a record per (set, id)), and for each
    threshold the row of what refusing above it changes against them (see `confirm_report`)."""
    from rag.answer.steps import steps_of

    if any(not 0.0 <= t <= 1.0 for t in thresholds):
        raise InputError("confirm thresholds are between 0 and 1")
    embedder = _embedders(make_embedder)
    on = steps_of(settings.steps) | {"confirm"}
    base = _checked(folder, work, settings.replace(steps=",".join(sorted(on - {"confirm"}))), sets, label, embedder)
    rows = [_ablation_row(f"confirm above {t:g}", False, base,
                          _checked(folder, work, settings.replace(steps=",".join(sorted(on)), confirm_threshold=t),
                                   sets, label, embedder))
            for t in thresholds]
    return base[1], rows


def doubt_separation(records: dict) -> dict:
    """The AUC of the doubts of the answered records: wrong answers doubted more than right ones."""
    doubted = [r for r in records.values() if not r["refused"] and r.get("doubt") is not None]
    wrong = [r["doubt"] for r in doubted if not is_right(r)]
    right = [r["doubt"] for r in doubted if is_right(r)]
    return {"answers": len(doubted), "wrong": len(wrong), "auc": wrong_above(wrong, right)}


def wrong_above(wrong: Sequence[float], right: Sequence[float]) -> float | None:
    """The AUC of a signal that should be higher for wrong answers: the chance that a wrong answer's value is
    above a right one's (ties count half); None without both."""
    pairs = len(wrong) * len(right)
    return sum((w > r) + 0.5 * (w == r) for w in wrong for r in right) / pairs if pairs else None


def _embedders(make_embedder=None):
    """settings -> embedder, one of each embedder for all the checks of an ablation."""
    from rag.factory import embedder_for

    made: dict[str, object] = {}

    def embedder(s):
        if s.embedder not in made:
            made[s.embedder] = (make_embedder or embedder_for)(s)
        return made[s.embedder]

    return embedder


def _rescored(folder: Path, work: Path, qs: QuestionSet, label: str, settings=None, make_embedder=None) -> list[dict]:
    """The records of set `qs` in run `label`'s saved answers, scored again; with `settings`, what the model
    said is checked again first, with the answer steps those settings switch on."""
    folder, work = Path(folder), Path(work)
    saved = work / f"answers-{label}" / f"{qs.name}.jsonl"
    if not saved.is_file():
        raise InputError(f"no saved answers for {qs.name} in {saved.parent}")
    check = _checker(settings, qs, folder, work, make_embedder) if settings is not None else None
    return rescore(load_items(folder / qs.questions), saved, check)


def _checked(folder: Path, work: Path, settings, sets: Sequence[QuestionSet], label: str, embedder):
    """A run's saved answers checked again under `settings`: (summary per set, record per (set, id))."""
    rows, records = {}, {}
    for qs in sets:
        got = _rescored(folder, work, qs, label, settings, embedder)
        rows[qs.name] = summarise(got)
        records.update({(qs.name, r["id"]): r for r in got})
    return rows, records


def _ablation_row(step: str, was_on: bool, base: tuple[dict, dict], other: tuple[dict, dict]) -> dict:
    (base_rows, before), (rows, after) = base, other
    moved = [f"{name} {what} {_f(base_rows[name][key])} → {_f(row[key])}"
             for name, row in rows.items()
             for key, what in (("answer_accuracy", "accuracy"), ("refusal_accuracy", "correct refusals"),
                               ("false_refusal_rate", "false refusals"))
             if _f(row[key]) != _f(base_rows[name][key])]  # as the tables show them
    flips = [(is_right(before[k]), is_right(r)) for k, r in after.items()]
    return {"step": step, "switched": "off" if was_on else "on",
            "changed": sum((before[k]["refused"], before[k]["correct"]) != (r["refused"], r["correct"])
                           for k, r in after.items()),
            "right_to_wrong": sum(a and not b for a, b in flips),
            "wrong_to_right": sum(b and not a for a, b in flips), "moved": moved}


def ablation_table(rows: list[dict]) -> str:
    head = "| step | switched | answers that change | right → wrong | wrong → right | what moves |"
    lines = [head, "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| `{r['step']}` | {r['switched']} | {r['changed']} | {r['right_to_wrong']} | "
                     f"{r['wrong_to_right']} | {'; '.join(r['moved']) or 'nothing'} |")
    return "\n".join(lines)


def _checker(settings, qs: QuestionSet, folder: Path, work: Path, make_embedder=None):
    """(question, raw, passages) -> Answer: the set's pipeline with no language model, its index loaded
    for the articles' text."""
    from rag.factory import embedder_for
    from rag.pipeline import Pipeline

    s = set_settings(settings, qs, folder, work)
    pipe = Pipeline(s, (make_embedder or embedder_for)(s), None)
    pipe.load_index()
    return lambda question, raw, passages, doubt=None, timings=None: pipe.finish(
        question, raw, list(passages), dict(timings or {}), doubt=doubt)


def _rows(qs: QuestionSet, embedder: str, records: list[dict]) -> list[dict]:
    """The set's row, and one per item type it names."""
    rows = [{"set": qs.name, "embedder": embedder, **summarise(records)}]
    for kind, kind_label in qs.rows.items():
        part = [r for r in records if r["type"] == kind]
        if part:
            rows.append({"set": kind_label, "embedder": embedder, **summarise(part)})
    return rows


def _f(value, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _s(ms) -> str:
    return "" if ms is None else f"{ms / 1000:.1f} s"


def table(result: dict) -> str:
    """The suite's figures as a Markdown table, one row per set."""
    head = ("| set | embedder | questions | accuracy | correct refusals | false refusals | checker kept "
            "| citation precision | citation recall | recall@5 | prompt tokens p50 | first token p50 | first token p95 "
            "| answer p50 | model calls: mean / max |")
    lines = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for r in result["rows"]:
        cells = [r["set"], r["embedder"], str(r["items"]), _f(r["answer_accuracy"]), _f(r["refusal_accuracy"]),
                 _f(r["false_refusal_rate"]), _f(r.get("checker_kept")), _f(r["citation_precision"]),
                 _f(r["citation_recall"]), _f(r["recall"]["@5"]), str(r.get("prompt_filled_p50") or ""),
                 _s(r["first_token_ms_p50"]), _s(r.get("first_token_ms_p95")), _s(r["latency_ms"].get("p50")),
                 f"{_f(r['model_calls_mean'])} / {r['model_calls_max']:.0f}" if r.get("model_calls_mean") is not None
                 else ""]
        if r["set"] == "all":
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


__all__ = ["SETS", "QuestionSet", "ablate_suite", "ablation_table", "confirm_curve", "confirm_report", "corpus_folder",
           "doubt_separation", "is_right", "wrong_above", "rescore_suite", "run_suite", "sample", "save", "select", "table"]
