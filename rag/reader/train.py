"""`rag reader train`: the reader's weights, made again from `../shared/train` by one command.

The split and the threshold rule are `heldout.py`'s.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from rag.reader.features import base_features, expand, feature_names
from rag.reader.heldout import (
    CMRC_QUESTIONS,
    FALSE_REFUSALS,
    figures,
    question_scores,
    split_of,
    threshold_for,
)
from rag.reader.mine import Item, cmrc_items, crud_items
from rag.reader.model import WEIGHTS


def _matrix(items: list[Item]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and the item each row belongs to."""
    xs, ys, owners = [], [], []
    for n, item in enumerate(items):
        x = expand(base_features(item.question, list(item.candidates)))
        xs.append(x)
        ys.append(np.asarray(item.labels))
        owners.append(np.full(len(x), n))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(owners)


def train(train_dir: Path, out: Path = WEIGHTS, log=print) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    t0 = time.time()
    items = list(crud_items(train_dir)) + list(cmrc_items(train_dir, CMRC_QUESTIONS))
    parts = {name: [i for i in items if split_of(i.group) == name] for name in ("fit", "choose", "report")}
    log(f"{len(items)} questions mined in {time.time() - t0:.0f} s: "
        + ", ".join(f"{k} {len(v)}" for k, v in parts.items()))
    data = {k: _matrix(v) for k, v in parts.items()}
    x, y, _ = data["fit"]
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced")
    model.fit((x - mean) / scale, y)
    log(f"fitted on {len(x)} sentences ({int(y.sum())} answering) in {time.time() - t0:.0f} s")

    def probs(name: str) -> np.ndarray:
        return model.predict_proba((data[name][0] - mean) / scale)[:, 1]

    best, _ = question_scores(probs("choose"), data["choose"][2], parts["choose"])
    news = np.array([i.source == "crud" for i in parts["choose"]])  # the pages it will read are news
    answerable = np.array([i.answerable for i in parts["choose"]])
    threshold = threshold_for(best[news], answerable[news])
    report = {"trained_on": "../shared/train: crud_train_qa.jsonl + crud_train_news.jsonl (CRUD-RAG, Apache-2.0), "
                            f"cmrc2018 dev+trial, first {CMRC_QUESTIONS} questions (CC BY-SA 4.0)",
              "split": "by article: 70 % fit, 15 % choose the threshold, 15 % report",
              "threshold_rule": f"highest with at most {FALSE_REFUSALS:.0%} of the choosing split's answerable "
                                "news questions refused",
              "fit_sentences": len(x)}  # no time in it: the same data make the same bytes
    for name in ("choose", "report"):
        p = probs(name)
        best, right = question_scores(p, data[name][2], parts[name])
        report[name] = figures(best, right, parts[name], threshold)
        report[name]["sentence_auc"] = round(float(roc_auc_score(data[name][1], p)), 3)
    weights = {"features": feature_names(), "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
               "mean": mean.tolist(), "scale": scale.tolist(), "threshold": threshold, "report": report}
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(weights, ensure_ascii=False, indent=1) + "\n"
    out.write_text(text, encoding="utf-8")
    out.with_suffix(".sha256").write_text(f"{hashlib.sha256(text.encode('utf-8')).hexdigest()}  {out.name}\n",
                                          encoding="utf-8")
    log(json.dumps(report, ensure_ascii=False, indent=1) + f"\ntrained in {time.time() - t0:.0f} s")
    return report


def cmd_reader(args) -> int:
    """`rag reader train`: fit the reader on the training folder and write its weights and their sha256."""
    from rag.errors import InputError

    train_dir = Path(args.train)
    if not (train_dir / "crud_train_qa.jsonl").is_file():
        raise InputError(f"{train_dir} holds no crud_train_qa.jsonl: give the training folder with --train")
    if args.kind == "cross":  # m3e-small fine-tuned as a cross-encoder: a folder of weights
        from rag.cli_common import _settings
        from rag.models import resolve
        from rag.reader.cross import train_cross

        base = resolve("m3e-small", "embedder", _settings(args).cache_path)
        out = Path(args.out) if args.out != str(WEIGHTS) else Path("bench/.work/reader-cross")
        train_cross(train_dir, out, base, epochs=args.epochs)
        print(f"saved {out}")
        return 0
    train(train_dir, Path(args.out))
    print(f"saved {args.out} and {Path(args.out).with_suffix('.sha256').name}")
    return 0


def add_reader_parser(sub) -> None:
    p = sub.add_parser("reader", help="the trained reader: `rag reader train` makes its weights from ../shared/train")
    p.add_argument("action", choices=["train"])
    p.add_argument("--train", default="../shared/train", help="the training folder (default ../shared/train)")
    p.add_argument("--out", default=str(WEIGHTS), help="where the weights go (default: the ones the product loads)")
    p.add_argument("--kind", choices=["features", "cross"], default="features",
                   help="features: the logistic regression the product ships (seconds); cross: m3e-small fine-tuned "
                        "as a cross-encoder (about 15 minutes on two cores), measured with `rag bench reader --cross`")
    p.add_argument("--epochs", type=int, default=1, help="cross: passes over the training pairs")
    p.set_defaults(func=cmd_reader)


__all__ = ["FALSE_REFUSALS", "add_reader_parser", "split_of", "train"]
