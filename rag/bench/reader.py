"""`rag bench reader`: what the reader's refusal would do to a whole-suite run, without running the model.

The reader decides before any generation, from the retrieved passages alone. So over every suite question
(retrieval only, the same index and settings as the run) its decision is taken, and each question it would
refuse is looked up in a saved run's per-question outcomes (`rag eval --suite` writes them; bench/ keeps one
a run): an answerable question the run answered right is lost, an unanswerable one it failed to refuse is
won. English questions are not read (the reader reads Chinese words) and keep their outcome.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from rag.evaluate import load_items
from rag.asked import is_english
from rag.reader.model import Reads


def reader_bench(settings, folder: Path, work: Path, against: Path, log=print, reader: Reads | None = None) -> dict:
    from rag.bench.common import set_pipeline
    from rag.factory import reader_for
    from rag.suite import SETS

    reader = reader or reader_for(settings)
    saved = {(r["set"], r["id"]): r for r in map(json.loads, against.read_text(encoding="utf-8").splitlines())}
    settings = settings.replace(steps=",".join(s for s in settings.steps.split(",") if s.strip() != "reader"))
    embedders: dict = {}
    rows, times, seen = [], [], []
    for qs in SETS:
        pipe = set_pipeline(settings, qs, folder, work, embedders, log)
        counts: Counter = Counter()
        for item in load_items(Path(folder) / qs.questions):
            before = saved.get((qs.name, item.get("id")))
            if before is None:
                continue
            counts["questions"] += 1
            answerable = bool(item.get("answerable", True))
            right = bool(before["correct"]) if answerable else bool(before["refused"])
            counts["right before"] += right
            if is_english(item["question"]):
                counts["right after"] += right
                continue
            t = time.perf_counter()
            reads = reader.read(item["question"], pipe.retrieve(item["question"], None, "hybrid"))
            times.append((time.perf_counter() - t) * 1000)
            refuses = not reader.answerable(reads)
            seen.append({"set": qs.name, "id": item.get("id"), "answerable": answerable, "right": right,
                         "best": round(reads[0].p, 4) if reads else 0.0})
            counts["refused by the reader"] += refuses
            if refuses and answerable:
                counts["answerable refused"] += 1
                counts["right answers lost"] += right
            elif refuses:
                counts["unanswerable refused"] += 1
                counts["refusals won"] += not right
            counts["right after"] += (not answerable) if refuses else right
        rows.append({"set": qs.name, **counts})
        log(json.dumps(rows[-1], ensure_ascii=False))
    total = Counter()
    for r in rows:
        total.update({k: v for k, v in r.items() if k != "set"})
    rows.append({"set": "all", **total})
    times.sort()
    return {"threshold": reader.threshold, "against": str(against), "rows": rows,
            "read_and_retrieve_ms_p50": round(times[len(times) // 2]) if times else None,
            "curve": curve(seen), "questions": seen}


def curve(seen: list[dict], thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)) -> list[dict]:
    """Right answers won and lost at other thresholds than the trained one: to see whether any would gain,
    never to choose one (the threshold is chosen on the training data's held-out part)."""
    out = []
    for t in thresholds:
        refused = [q for q in seen if q["best"] < t]
        out.append({"threshold": t, "refused": len(refused),
                    "lost": sum(q["answerable"] and q["right"] for q in refused),
                    "won": sum(not q["answerable"] and not q["right"] for q in refused)})
    return out


def table(result: dict) -> str:
    cols = ["questions", "refused by the reader", "answerable refused", "right answers lost", "unanswerable refused",
            "refusals won", "right before", "right after"]
    lines = ["| set | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    lines += ["| " + r["set"] + " | " + " | ".join(str(r.get(c, 0)) for c in cols) + " |" for r in result["rows"]]
    lines += ["", "| threshold | refused | right answers lost | refusals won |", "|---|---|---|---|"]
    lines += [f"| {c['threshold']:.1f} | {c['refused']} | {c['lost']} | {c['won']} |" for c in result.get("curve", [])]
    return "\n".join(lines)


__all__ = ["curve", "reader_bench", "table"]
