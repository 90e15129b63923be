"""`rag bench ceiling`: how much the model gets right when the prompt is as good as it can be.

For every answerable suite question the passages are retrieved as an answer retrieves them, and the model is
asked twice with one loaded model:
- the product's first prompt (the passages' sentences within the prompt budget, `Prompts.first`);
- the answer's own sentences: of those passages, only the sentences that hold a gold answer, each with the
  sentence before it (news names its subject there), still grouped and numbered by passage. This is the prompt
  a perfect reader would write: it holds the answer and nothing else.

Counted for each: how often the model's draft holds the gold answer (as `rag eval` counts a draft), the prompt
tokens filled and the first token's wait. The second prompt is an oracle (it is made from the gold answers), so
its figures are a ceiling for anything that chooses the prompt's sentences (a reader, the budget), never a
figure of the product. A question whose passages do not hold its answers gets no second prompt.
"""
from __future__ import annotations

import dataclasses
import json
import statistics
import time
from pathlib import Path

from rag.answer.prompt import SYSTEM, Prompts, build_messages
from rag.bench.common import set_pipeline
from rag.chunk import sentence_spans
from rag.evaluate import draft_holds_answer, load_items, normalized
from rag.types import Passage


def answer_sentences(item: dict, passages: list[Passage]) -> list[Passage] | None:
    """`passages` cut to the sentences that hold `item`'s gold answers (each with the sentence before it),
    renumbered from 1; passages holding none are left out. A sentence is taken for a gold answer no sentence
    taken before holds; with match "any" one answer is enough. None when their sentences do not hold the golds
    as `rag eval` would count them (each gold within one sentence)."""
    golds = [g for g in (normalized(a) for a in item.get("answers", [])) if g]
    want_all = item.get("match", "all") == "all"
    held: set[str] = set()
    cut = []
    for p in passages:
        text = p.chunk.text
        spans = sentence_spans(text)
        keep: set[int] = set()
        for j, (a, b) in enumerate(spans):
            if held and not want_all:
                break
            found = {g for g in golds if g in normalized(text[a:b])} - held
            if found:
                keep.update({max(0, j - 1), j})
                held |= found
        if keep:
            body = "".join(text[spans[j][0]:spans[j][1]] for j in sorted(keep))
            chunk = dataclasses.replace(p.chunk, text=body, start=0, end=len(body))
            cut.append(dataclasses.replace(p, chunk=chunk, rank=len(cut) + 1, joined=1))
    complete = held == set(golds) if want_all else bool(held)
    return cut if golds and complete else None


def _ask(generator, messages: list[dict], max_tokens: int) -> dict:
    """The model's draft for `messages`, with the first token's wait and the prompt tokens it filled."""
    start, first, raw = time.perf_counter(), None, ""
    for piece in generator.stream(messages, max_tokens):
        first = first or time.perf_counter()
        raw += piece
    filled = (getattr(generator, "last_timings", None) or {}).get("prompt_n")
    return {"raw": raw, "first_ms": round((first - start) * 1000) if first else None, "filled": filled}


def ask_both(generator, prompts: Prompts, item: dict, passages: list[Passage], max_tokens: int,
             oracle: bool = True) -> dict:
    """One question's record: the product's prompt and (with `oracle`, where the passages hold the answer) the
    answer's sentences, each with whether the draft holds the gold answer."""
    record = {"id": item["id"], "type": item.get("type", "")}
    product = _ask(generator, prompts.first(item["question"], passages), max_tokens)
    record["product"] = product | {"right": draft_holds_answer(item, product["raw"])}
    cut = answer_sentences(item, passages)
    record["held"] = cut is not None
    if cut is not None and oracle:
        told = _ask(generator, build_messages(item["question"], cut, 0, SYSTEM, 0), max_tokens)
        record["answer_sentences"] = told | {"right": draft_holds_answer(item, told["raw"])}
    return record


def ceiling_rows(name: str, records: list[dict], rows: dict[str, str] | None = None) -> list[dict]:
    """The figures of `records` per row (a set, or its item types' rows as the suite names them)."""
    groups: dict[str, list[dict]] = {}
    for r in records:
        groups.setdefault((rows or {}).get(r["type"], name), []).append(r)

    def p50(values) -> int | None:
        values = [v for v in values if v is not None]
        return round(statistics.median(values)) if values else None

    out = []
    for row, group in groups.items():
        held = [r for r in group if r["held"]]
        asked = [r["answer_sentences"] for r in held if "answer_sentences" in r]
        out.append({
            "set": row, "questions": len(group), "answer_in_passages": len(held),
            "product_right": sum(r["product"]["right"] for r in group),
            "product_right_where_held": sum(r["product"]["right"] for r in held),
            "sentences_right": sum(a["right"] for a in asked) if asked else None,
            "product_filled_p50": p50(r["product"]["filled"] for r in group),
            "sentences_filled_p50": p50(a["filled"] for a in asked),
            "product_first_ms_p50": p50(r["product"]["first_ms"] for r in group),
            "sentences_first_ms_p50": p50(a["first_ms"] for a in asked)})
    return out


def slim(record: dict) -> dict:
    """A question's record without the model's words (RGB's passages are never copied into the repository)."""
    return {k: ({n: x for n, x in v.items() if n != "raw"} if isinstance(v, dict) else v) for k, v in record.items()}


def ceiling_bench(settings, folder: Path, work: Path, sets=None, sample: int = 0, log=print,
                  drafts: Path | None = None, oracle: bool = True) -> dict:
    """`ask_both` over the answerable questions of each suite set (`sample` per set, 0: all), with one model.
    The product's prompt is the one the settings make (the reader orders its sentences when the `reader_prompt`
    step is on). Each question's record is appended to `drafts` (the model's words included) as it comes; the
    result holds the rows and the records without the words."""
    from rag.answer.steps import steps_of
    from rag.factory import generator_for, reader_for
    from rag.suite import SETS
    from rag.suite import sample as spread

    generator = generator_for(settings)
    prompts = Prompts.of(settings, reader_for(settings) if "reader_prompt" in steps_of(settings.steps) else None)
    embedders: dict = {}
    rows, questions = [], []
    if drafts:
        drafts.parent.mkdir(parents=True, exist_ok=True)  # a fresh --work folder
    sink = drafts.open("w", encoding="utf-8") if drafts else None
    try:
        for qs in sets or SETS:
            pipe = set_pipeline(settings, qs, folder, work, embedders, log)
            items = spread([it for it in load_items(Path(folder) / qs.questions) if it.get("answerable", True)],
                           sample)
            records = []
            for n, item in enumerate(items, 1):
                passages = pipe.retrieve(item["question"], None, "hybrid")
                records.append({"set": qs.name} | ask_both(generator, prompts, item, passages,
                                                          settings.max_new_tokens, oracle))
                if sink:
                    sink.write(json.dumps(records[-1], ensure_ascii=False) + "\n")
                    sink.flush()
                log(f"[{qs.name}] {n}/{len(items)}")
            rows += ceiling_rows(qs.name, records, qs.rows)
            questions += [slim(r) for r in records]
    finally:
        if sink:
            sink.close()
    return {"budget": settings.prompt_tokens, "steps": settings.steps, "rows": rows, "questions": questions}


def ceiling_table(result: dict) -> str:
    head = ("| set | questions | answer in the passages | right: product prompt | right: product prompt, answer in "
            "passages | right: answer's sentences | tokens filled p50: product / sentences | first token p50: "
            "product / sentences |")
    lines = [head, "| " + " | ".join(["---"] * 8) + " |"]

    def s(ms) -> str:
        return "" if ms is None else f"{ms / 1000:.1f} s"

    for r in result["rows"]:
        lines.append(f"| {r['set']} | {r['questions']} | {r['answer_in_passages']} | {r['product_right']} | "
                     f"{r['product_right_where_held']} | {_or_blank(r['sentences_right'])} | "
                     f"{r['product_filled_p50']} / {_or_blank(r['sentences_filled_p50'])} | "
                     f"{s(r['product_first_ms_p50'])} / {s(r['sentences_first_ms_p50'])} |")
    return "\n".join(lines)


def _or_blank(value) -> str:
    return "" if value is None else str(value)


__all__ = ["answer_sentences", "ask_both", "ceiling_bench", "ceiling_rows", "ceiling_table", "slim"]
