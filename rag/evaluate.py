"""`rag eval`: answer accuracy, refusal accuracy, retrieval recall@k and citation precision on a question file."""
from __future__ import annotations

import dataclasses
import json
import re
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from rag.answer.certainty import CERTAINTY
from rag.errors import InputError
from rag.types import Answer, Passage

_SPACE = re.compile(r"\s+")


def normalized(text: str) -> str:
    return _SPACE.sub("", text).lower()


def load_items(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"question file {path} does not exist")
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError:
                raise InputError(f"{path.name}: line {lineno} is not valid JSON") from None
    return items


def holds_golds(item: dict, text: str) -> bool:
    """All gold answers in `text` (match=all) or any one (match=any), whitespace and case ignored."""
    golds = [normalized(a) for a in item.get("answers", [])]
    if not golds:
        return False
    text = normalized(text)
    hits = [g in text for g in golds]
    return all(hits) if item.get("match", "all") == "all" else any(hits)


def answer_correct(item: dict, answer: Answer) -> bool:
    """All gold answers present (match=all) or any one (match=any), whitespace and case ignored."""
    return not answer.refused and holds_golds(item, answer.text)


def draft_holds_answer(item: dict, raw: str) -> bool:
    """Whether what the model said, before any checking, holds the gold answers (as `answer_correct` counts
    them): with the final answer, what the checking layer kept of the model's right answers."""
    return bool(raw) and holds_golds(item, raw)


def evidence_rank(item: dict, passages: Sequence[Passage]) -> int | None:
    """1-based rank of the first passage holding an evidence quote (or from a `sources` article)."""
    quotes = [normalized(q) for q in item.get("evidence", [])]
    sources = set(map(str, item.get("sources", [])))
    for p in passages:
        text = normalized(p.chunk.text)
        if any(q and q in text for q in quotes) or p.chunk.article_id in sources:
            return p.rank
    return None


def rank_metrics(ranks: Sequence[int | None], ks: Sequence[int] = (1, 3, 5, 10)) -> dict:
    """Recall@k (share of items whose evidence ranks within k) and MRR from 1-based ranks (None: not found)."""
    if not ranks:
        return {"recall": {f"@{k}": None for k in ks}, "mrr": None}
    return {"recall": {f"@{k}": round(sum(r is not None and r <= k for r in ranks) / len(ranks), 3) for k in ks},
            "mrr": round(statistics.mean([1 / r if r else 0.0 for r in ranks]), 3)}


def citation_precise(item: dict, answer: Answer) -> list[bool]:
    """Per citation: its quote overlaps an evidence quote (holds it or lies within it), or holds every
    number and name of its claim (when the claim has any)."""
    from rag.names import names

    quotes = [normalized(q) for q in item.get("evidence", [])]
    out = []
    for c in answer.citations:
        quote = normalized(c.quote)
        facts = re.findall(r"\d+(?:\.\d+)?", c.claim) + sorted(names(c.claim))
        out.append(any(q in quote or quote in q for q in quotes if q) or bool(facts) and all(normalized(f) in quote for f in facts))
    return out


def score_item(item: dict, answer: Answer, ranked: Sequence[Passage] | None = None) -> dict:
    """One question's record: what `summarise` counts. `ranked`: the passages recall@k is judged on
    (default the answer's own)."""
    answerable = bool(item.get("answerable", True))
    return {
        "id": item.get("id"), "type": item.get("type", ""), "answerable": answerable,
        "correct": answer_correct(item, answer) if answerable else None,
        "draft_right": draft_holds_answer(item, answer.raw) if answerable else None,
        "refused": answer.refused,
        "rank": evidence_rank(item, answer.passages if ranked is None else ranked) if answerable else None,
        # recall@k is judged only where the item says where its answer stands (RGB items do not)
        "judged": answerable and bool(item.get("evidence") or item.get("sources")),
        "precise": citation_precise(item, answer) if answerable else [],
        "supported": len(answer.citations), "unsupported": len(answer.unsupported),
        "total_ms": answer.timings.get("total_ms", 0.0), "first_token_ms": answer.timings.get("first_token_ms", 0.0),
        "prompt_filled": answer.timings.get("prompt_filled"),
        "looked_again": bool(answer.timings.get("retried")),
        "model_calls": answer.timings.get("model_calls"),
        "confirm_ms": answer.timings.get("confirm_ms"),
        "doubt": answer.doubt,
        **{k: answer.timings[k] for k in CERTAINTY if k in answer.timings},
    }


def run_items(items: list[dict], ask: Callable[[str], Answer], out: Path | None = None,
              on_item: Callable[[int, int, dict, Answer], None] | None = None,
              search: Callable[[str], Sequence[Passage]] | None = None) -> list[dict]:
    """Run every item through `ask` (and `search`, for recall@10 beyond the prompt's passages); the records,
    with each answer written to `out` as it comes (an interrupted run keeps what it answered)."""
    try:
        sink = Path(out).open("w", encoding="utf-8") if out else None
    except OSError as exc:
        raise InputError(f"cannot write results to {out}: {exc.strerror}") from None
    records = []
    try:
        for i, item in enumerate(items):
            answer = ask(item["question"])
            answerable = item.get("answerable", True)
            records.append(score_item(item, answer, search(item["question"]) if search and answerable else None))
            if sink:
                sink.write(json.dumps(dict(answer_to_json(answer), id=item.get("id")), ensure_ascii=False) + "\n")
                sink.flush()
            if on_item:
                on_item(i + 1, len(items), item, answer)
    finally:
        if sink:
            sink.close()
    return records


def _share(xs: list) -> float | None:
    return round(sum(xs) / len(xs), 3) if xs else None


def summarise(records: Sequence[dict]) -> dict:
    """Accuracy over the answerable records, correct refusals over the others, false refusals, recall@k of the
    evidence, citation precision and recall (of all claims made, those a passage supports) and times."""
    answerable = [r for r in records if r["answerable"]]
    supported = sum(r["supported"] for r in records)
    unsupported = sum(r["unsupported"] for r in records)
    latencies = [r["total_ms"] for r in records]
    first_tokens = [r["first_token_ms"] for r in records]
    return {
        "items": len(records),
        "answer_accuracy": _share([r["correct"] for r in answerable]),
        "refusal_accuracy": _share([r["refused"] for r in records if not r["answerable"]]),
        "false_refusal_rate": _share([r["refused"] for r in answerable]),
        # of the answerable questions whose draft held the answer, those shown right: the checker's cost
        "checker_kept": _share([r["correct"] for r in answerable if r.get("draft_right")]),
        **rank_metrics([r["rank"] for r in answerable if r.get("judged", True)]),
        "citation_precision": _share([p for r in answerable for p in r["precise"]]),
        "citation_recall": _share([True] * supported + [False] * unsupported),
        "unsupported_claim_rate": _share([True] * unsupported + [False] * supported),
        "latency_ms": {"mean": round(statistics.mean(latencies)), "p50": round(statistics.median(latencies)),
                       "p95": _p95(latencies)} if latencies else {},
        "first_token_ms_p50": round(statistics.median(first_tokens)) if first_tokens else None,
        "first_token_ms_p95": _p95(first_tokens),
        # prompt tokens the first pass filled beyond the cached prefix (None for saved answers without them)
        "prompt_filled_p50": round(statistics.median(filled)) if (filled := [r["prompt_filled"] for r in records
                                                                              if r.get("prompt_filled")]) else None,
        # the answers that took a second look, and their whole wait: the slow path, apart from the easy ones
        "looked_again": sum(bool(r.get("looked_again")) for r in records),
        "looked_again_ms_p50": round(statistics.median(again)) if (again := [r["total_ms"] for r in records
                                                                             if r.get("looked_again")]) else None,
        # how often the model was called for an answer (first answer, second look, parts asked again, the
        # confirm step's questions), where the answers say (None for saved answers without it)
        "model_calls_mean": round(statistics.mean(calls), 2) if (calls := [r["model_calls"] for r in records
                                                                           if r.get("model_calls") is not None]) else None,
        "model_calls_max": max(calls) if calls else None,
        "one_model_call": _share([c <= 1 for c in calls]),
        # the confirm step's question to the model, for the answers it was asked of
        "confirm_ms_p50": round(statistics.median(asked)) if (asked := [r["confirm_ms"] for r in records
                                                                         if r.get("confirm_ms")]) else None,
    }


def _p95(values: Sequence[float]) -> int | None:
    """The 95th percentile (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, -(-95 * len(ordered) // 100) - 1))])


def evaluate(items: list[dict], ask: Callable[[str], Answer], out: Path | None = None,
             on_item: Callable[[int, int, dict, Answer], None] | None = None,
             search: Callable[[str], Sequence[Passage]] | None = None) -> dict:
    """`run_items`, summarised."""
    return summarise(run_items(items, ask, out, on_item, search))


def answer_to_json(answer: Answer) -> dict:
    """The `rag ask --json` object."""
    return {
        "question": answer.question,
        "query": answer.query or answer.question,
        "answer": answer.text,
        "refused": answer.refused,
        "citations": [{"n": c.n, "article_id": c.article_id, "title": c.title, "source": c.source,
                       "start": c.start, "end": c.end, "quote": c.quote, "claim": c.claim, "supported": c.supported}
                      for c in answer.citations],
        "passages": [{"rank": p.rank, "article_id": p.chunk.article_id, "title": p.chunk.title,
                      "source": p.chunk.source, "text": p.chunk.text, "score": round(p.score, 6)}
                     for p in answer.passages],
        "timings": {k: round(v, 4 if k in CERTAINTY else 1) for k, v in answer.timings.items()},  # ms, or log-probs
        "notice": answer.notice,
        "unsupported_claims": list(answer.unsupported),
        "missing_parts": list(answer.missing),
        "raw": answer.raw,
        **({"doubt": round(answer.doubt, 4)} if answer.doubt is not None else {}),
    }


def answer_from_json(row: dict) -> Answer:
    """An Answer back from its `answer_to_json` object (a saved eval answer), for scoring it again. Answers
    saved before citations carried their claim get it from the answer's sentences, which come in the
    citations' order."""
    from rag.answer.claims import split_claims
    from rag.types import Chunk, Citation

    claims = [c.text for c in split_claims(row["answer"])] if not row["refused"] else []
    citations = tuple(Citation(n=c["n"], article_id=c["article_id"], title=c["title"], source=c["source"],
                               start=c["start"], end=c["end"], quote=c["quote"],
                               claim=c.get("claim") or (claims[i] if i < len(claims) else ""),
                               supported=c.get("supported", True))
                      for i, c in enumerate(row["citations"]))
    passages = tuple(Passage(Chunk(id=f"{p['article_id']}:{p['rank']}", article_id=p["article_id"], text=p["text"],
                                   start=0, end=len(p["text"]), title=p["title"], source=p["source"]),
                             rank=p["rank"], score=p["score"]) for p in row["passages"])
    return Answer(row["question"], row["answer"], row["refused"], citations, passages, row.get("timings", {}),
                  row.get("notice", ""), unsupported=tuple(row.get("unsupported_claims", ())), missing=tuple(row.get("missing_parts", ())), raw=row.get("raw", ""),
                  doubt=row.get("doubt"))


def rescore(items: list[dict], answers: Path,
            check: Callable[..., Answer] | None = None) -> list[dict]:
    """Records of the items answered in a saved answers file (`run_items`' `out`), scored again; recall@k
    is judged on the answer's own passages. With `check` ((question, raw, passages, doubt, timings) -> Answer),
    what the model said is checked again first; `doubt` is the confirm step's saved P(no), None when not asked,
    and `timings` the answer's saved ones (its certainty among them)."""
    by_id = {it.get("id"): it for it in items}
    records = []
    for line in Path(answers).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("id") in by_id:
                answer = answer_from_json(row)
                if check is not None:
                    if "raw" not in row:
                        raise InputError("these answers were saved without what the model said: run them again")
                    checked = check(answer.query or answer.question, answer.raw, answer.passages, answer.doubt,
                                    answer.timings)
                    answer = dataclasses.replace(checked, timings=answer.timings)
                records.append(score_item(by_id[row["id"]], answer))
    return records
