"""A cross-encoder reader: m3e-small (the packaged Chinese embedder, a 4-layer BERT) fine-tuned with
sentence-transformers' CrossEncoder on the same training questions as the feature reader, reading the question
and each sentence (with the end of the sentence before it) together.

`rag reader train --kind cross` makes it; the hard negatives of each question are the sentences the feature
reader scores highest among those that do not answer. Same split by article, same threshold rule.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import numpy as np

from rag.reader.features import Candidate
from rag.reader.heldout import CMRC_QUESTIONS, judged, split_of
from rag.reader.mine import Item, cmrc_items, crud_items
from rag.reader.model import Reader, Reads

NEGATIVES = 7  # per question, the hardest by the feature reader
BEFORE_CHARS = 30  # of the sentence before, read in front of each sentence
MAX_TOKENS = 160


def pair_text(c: Candidate) -> str:
    return (c.before[-BEFORE_CHARS:] + c.sentence) if c.before else c.sentence


class CrossReader(Reads):
    def __init__(self, folder: Path, threshold: float, report: dict | None = None) -> None:
        from sentence_transformers import CrossEncoder

        self.model = CrossEncoder(str(folder), num_labels=1, max_length=MAX_TOKENS, device="cpu")
        self.threshold, self.report = threshold, report or {}

    @classmethod
    def load(cls, folder: Path) -> CrossReader:
        meta = json.loads((folder / "reader.json").read_text(encoding="utf-8"))
        return cls(folder, float(meta["threshold"]), meta.get("report"))

    def probabilities(self, question: str, candidates: list[Candidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        return np.asarray(self.model.predict([(question, pair_text(c)) for c in candidates], batch_size=32,
                                             show_progress_bar=False), dtype=np.float64)


def _pairs(items: list[Item], feature_reader: Reader, rng: random.Random) -> list:
    from sentence_transformers import InputExample

    out = []
    for item in items:
        cands = list(item.candidates)
        p = feature_reader.probabilities(item.question, cands)
        negatives = sorted((i for i, y in enumerate(item.labels) if not y), key=lambda i: -p[i])[:NEGATIVES]
        for i in [i for i, y in enumerate(item.labels) if y] + negatives:
            out.append(InputExample(texts=[item.question, pair_text(cands[i])], label=float(item.labels[i])))
    rng.shuffle(out)
    return out


def train_cross(train_dir: Path, out: Path, base: Path, epochs: int = 1, log=print) -> dict:
    from sentence_transformers import CrossEncoder
    from torch.utils.data import DataLoader

    from rag.factory import reader_for
    from rag.settings import Settings

    t0 = time.time()
    rng = random.Random(13)
    items = list(crud_items(train_dir)) + list(cmrc_items(train_dir, CMRC_QUESTIONS))
    parts = {name: [i for i in items if split_of(i.group) == name] for name in ("fit", "choose", "report")}
    examples = _pairs(parts["fit"], reader_for(Settings()), rng)
    log(f"{len(examples)} pairs from {len(parts['fit'])} questions in {time.time() - t0:.0f} s")
    model = CrossEncoder(str(base), num_labels=1, max_length=MAX_TOKENS, device="cpu")
    loader = DataLoader(examples, shuffle=False, batch_size=32)
    model.old_fit(train_dataloader=loader, epochs=epochs, warmup_steps=max(1, len(loader) // 10),
                  show_progress_bar=False, callback=None)
    log(f"trained in {time.time() - t0:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    reader = CrossReader(out, 0.5)

    def scored(name: str):
        probs, owners = [], []
        for n, item in enumerate(parts[name]):
            p = reader.probabilities(item.question, list(item.candidates))
            probs.append(p)
            owners.append(np.full(len(p), n))
        return np.concatenate(probs), np.concatenate(owners)

    threshold, held = judged(parts, {name: scored(name) for name in ("choose", "report")})
    report = {"kind": "cross-encoder from m3e-small", "pairs": len(examples), "epochs": epochs,
              "seconds": round(time.time() - t0), **held}
    (out / "reader.json").write_text(json.dumps({"threshold": threshold, "report": report}, ensure_ascii=False,
                                                indent=1) + "\n", encoding="utf-8")
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest() \
        if (out / "model.safetensors").exists() else ""
    log(json.dumps(report, ensure_ascii=False, indent=1) + f"\nweights sha256 {digest}")
    return report


__all__ = ["CrossReader", "pair_text", "train_cross"]
