"""The held-out parts of the training questions, and the figures the readers report on them.

The questions are split by article (a hash of its id, so the split is the same on every machine): 70 % to
fit on, 15 % to choose the refusal threshold on, 15 % to report on. The threshold is the highest at which
at most `FALSE_REFUSALS` of the answerable news questions of the choosing split would be refused: a refusal
decided before generation is never seen by the model, so it must rarely be wrong.
"""
from __future__ import annotations

import hashlib

import numpy as np

from rag.reader.mine import Item

FALSE_REFUSALS = 0.05
CMRC_QUESTIONS = 2000  # Wikipedia questions beside the news ones: enough for the sentence ranking


def split_of(group: str) -> str:
    h = int(hashlib.sha256(group.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "fit" if h < 70 else "choose" if h < 85 else "report"


def question_scores(p: np.ndarray, owners: np.ndarray, items: list[Item]) -> tuple[np.ndarray, np.ndarray]:
    """Each item's best sentence probability, and whether that best sentence is one that answers."""
    best = np.zeros(len(items))
    right = np.zeros(len(items), dtype=bool)
    for n in range(len(items)):
        rows = np.flatnonzero(owners == n)
        if len(rows):
            top = rows[np.argmax(p[rows])]
            best[n], right[n] = p[top], bool(items[n].labels[top - rows[0]])
    return best, right


def threshold_for(best: np.ndarray, answerable: np.ndarray) -> float:
    ok = np.sort(best[answerable])
    return float(ok[int(np.floor(FALSE_REFUSALS * len(ok)))]) if len(ok) else 0.5


def figures(best: np.ndarray, right: np.ndarray, items: list[Item], threshold: float) -> dict:
    from sklearn.metrics import roc_auc_score

    crud = np.array([i.source == "crud" for i in items])
    answerable = np.array([i.answerable for i in items])
    out = {"questions": len(items), "crud_questions": int(crud.sum())}
    if crud.any() and len(set(answerable[crud])) == 2:
        b, a = best[crud], answerable[crud]
        out["answerable_auc"] = round(float(roc_auc_score(a, b)), 3)
        out["refused_right"] = round(float((b[~a] < threshold).mean()), 3)  # unanswerable, refused
        out["refused_wrongly"] = round(float((b[a] < threshold).mean()), 3)  # answerable, refused
        out["accuracy_at_threshold"] = round(float(((b >= threshold) == a).mean()), 3)
    for src in ("crud", "cmrc"):
        mask = answerable & np.array([i.source == src for i in items])
        if mask.any():
            out[f"top_sentence_right_{src}"] = round(float(right[mask].mean()), 3)
    return out


def judged(parts: dict[str, list[Item]], scored: dict[str, tuple[np.ndarray, np.ndarray]]) -> tuple[float, dict]:
    """The threshold chosen on the choosing split's news questions, and both held-out splits' figures at it;
    `scored[name]` is each candidate's probability and the index of the question it belongs to."""
    from sklearn.metrics import roc_auc_score

    best, _ = question_scores(*scored["choose"], parts["choose"])
    news = np.array([i.source == "crud" for i in parts["choose"]])  # the pages it will read are news
    answerable = np.array([i.answerable for i in parts["choose"]])
    threshold = threshold_for(best[news], answerable[news])
    out = {}
    for name in ("choose", "report"):
        p, owners = scored[name]
        best, right = question_scores(p, owners, parts[name])
        out[name] = figures(best, right, parts[name], threshold)
        labels = np.concatenate([np.asarray(i.labels) for i in parts[name]])
        out[name]["sentence_auc"] = round(float(roc_auc_score(labels, p)), 3)
    return threshold, out


__all__ = ["CMRC_QUESTIONS", "FALSE_REFUSALS", "figures", "judged", "question_scores", "split_of", "threshold_for"]
