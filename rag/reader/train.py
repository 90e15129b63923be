"""`rag reader train`: the reader's weights, made again from `../shared/train` by one command.

The split and the threshold rule are `heldout.py`'s.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from rag.reader.features import candidate_features, expand, feature_names
from rag.reader.heldout import CMRC_QUESTIONS, FALSE_REFUSALS, judged, split_of
from rag.reader.mine import Item, cmrc_items, crud_items
from rag.reader.model import WEIGHTS


def _matrix(items: list[Item], similarity=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and the item each row belongs to."""
    xs, ys, owners = [], [], []
    for n, item in enumerate(items):
        x = expand(candidate_features(item.question, list(item.candidates), similarity))
        xs.append(x)
        ys.append(np.asarray(item.labels))
        owners.append(np.full(len(x), n))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(owners)


def _embed_all(items: list[Item], similarity, log) -> None:
    """Every candidate sentence embedded once, in large batches, before the features read them one question
    at a time (the similarity keeps the vectors)."""
    texts = list(dict.fromkeys(t for i in items for c in i.candidates for t in (c.sentence, c.before) if t))
    t0 = time.time()
    for at in range(0, len(texts), 512):
        similarity.embed(texts[at:at + 512])
        if at % 5120 == 0:
            log(f"embedded {at + min(512, len(texts) - at)} of {len(texts)} sentences in {time.time() - t0:.0f} s")


def train(train_dir: Path, out: Path = WEIGHTS, log=print, similarity=None, embedder: str = "") -> dict:
    """Fit the reader; with `similarity` (the embedder `embedder`'s, keeping every vector), over the dense
    features as well as the words."""
    from sklearn.linear_model import LogisticRegression

    t0 = time.time()
    items = list(crud_items(train_dir)) + list(cmrc_items(train_dir, CMRC_QUESTIONS))
    parts = {name: [i for i in items if split_of(i.group) == name] for name in ("fit", "choose", "report")}
    log(f"{len(items)} questions mined in {time.time() - t0:.0f} s: "
        + ", ".join(f"{k} {len(v)}" for k, v in parts.items()))
    if similarity is not None:
        _embed_all(items, similarity, log)
    data = {k: _matrix(v, similarity) for k, v in parts.items()}
    x, y, _ = data["fit"]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    log(f"fitted on {len(x)} sentences ({int(y.sum())} answering) in {time.time() - t0:.0f} s")

    def probs(name: str) -> np.ndarray:
        return model.predict_proba((data[name][0] - mean) / scale)[:, 1]

    threshold, held = judged(parts, {name: (probs(name), data[name][2]) for name in ("choose", "report")})
    report = {"trained_on": "../shared/train: crud_train_qa.jsonl + crud_train_news.jsonl (CRUD-RAG, Apache-2.0), "
                            f"cmrc2018 dev+trial, first {CMRC_QUESTIONS} questions (CC BY-SA 4.0)",
              "split": "by article: 70 % fit, 15 % choose the threshold, 15 % report",
              "threshold_rule": f"highest with at most {FALSE_REFUSALS:.0%} of the choosing split's answerable "
                                "news questions refused",
              "fit_sentences": len(x), **held}  # no time in it: the same data make the same bytes
    if embedder:
        report["embedder"] = f"{embedder}: the question's and each sentence's cosine, beside the words"
    weights = {"features": feature_names(dense=bool(embedder)), "coef": model.coef_[0].tolist(),
               "intercept": float(model.intercept_[0]), "mean": mean.tolist(), "scale": scale.tolist(),
               "threshold": threshold, "report": report}
    if embedder:  # weights over the words alone stay the bytes they were
        weights = {"embedder": embedder, **weights}
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(weights, ensure_ascii=False, indent=1) + "\n"
    out.write_text(text, encoding="utf-8")
    out.with_suffix(".sha256").write_text(f"{hashlib.sha256(text.encode('utf-8')).hexdigest()}  {out.name}\n",
                                          encoding="utf-8")
    log(json.dumps(report, ensure_ascii=False, indent=1) + f"\ntrained in {time.time() - t0:.0f} s")
    return report


__all__ = ["train"]
