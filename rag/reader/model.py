"""The reader in use: for a question and its retrieved passages, the probability that each sentence answers
it, from the weights `rag reader train` fitted on `../shared/train` (a logistic regression over
`features.expand`; small enough to ship as JSON, checked by its sha256 when loaded).

The question is answerable from the passages when its best sentence reaches `threshold`, which was chosen on
a part of the training data held out by article (the file's `report` says how, and what it gave).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.reader.features import (
    Candidate,
    candidate_features,
    expand,
    feature_names,
    sentences_of,
)
from rag.types import Passage

WEIGHTS = Path(__file__).with_name("weights") / "reader.json"
SHA256 = WEIGHTS.with_suffix(".sha256")


@dataclass(frozen=True)
class Read:
    """One sentence of a passage as the reader scored it."""
    passage: int  # index into the passages given
    start: int  # offsets into the passage's chunk text
    end: int
    sentence: str
    p: float


class Reads:
    """What a reader does with its `probabilities` (question, candidates -> P(answers) each): read a question's
    passages, and judge from the best sentence whether they answer it."""

    threshold: float

    def probabilities(self, question: str, candidates: list[Candidate]) -> np.ndarray:
        raise NotImplementedError

    def read(self, question: str, passages: list[Passage]) -> list[Read]:
        """Every sentence of `passages`, scored, best first."""
        found = [(i, s, e, c) for i, p in enumerate(passages) for s, e, c in sentences_of(p.chunk.text, i)]
        probs = self.probabilities(question, [c for *_, c in found])
        reads = [Read(i, s, e, c.sentence, float(p)) for (i, s, e, c), p in zip(found, probs)]
        return sorted(reads, key=lambda r: -r.p)

    def scores(self, question: str, texts: list[str]) -> list[list[float]]:
        """For each of `texts` (read together), its sentences' probabilities of answering `question`, in text
        order (the sentences of `chunk.sentence_spans`)."""
        found = [(i, c) for i, text in enumerate(texts) for _, _, c in sentences_of(text, i)]
        out: list[list[float]] = [[] for _ in texts]
        for (i, _), p in zip(found, self.probabilities(question, [c for _, c in found])):
            out[i].append(float(p))
        return out

    def answerable(self, reads: list[Read]) -> bool:
        return bool(reads) and reads[0].p >= self.threshold


class Reader(Reads):
    def __init__(self, coef: np.ndarray, intercept: float, mean: np.ndarray, scale: np.ndarray,
                 threshold: float, report: dict | None = None, similarity=None, embedder: str = "") -> None:
        self.coef, self.intercept, self.mean, self.scale = coef, intercept, mean, scale
        self.threshold, self.report = threshold, report or {}
        self.similarity = similarity  # (query, texts) -> cosines, by the embedder the weights were trained with
        self.embedder = embedder  # its name; "" for weights over the words alone

    @staticmethod
    def embedder_of(path: Path = WEIGHTS) -> str:
        """The embedder the weights at `path` read the sentences with ("" for none), to load before them."""
        try:
            return str(json.loads(path.read_bytes()).get("embedder") or "")
        except (OSError, ValueError):
            return ""  # `load` says what is wrong with them

    @classmethod
    def load(cls, path: Path = WEIGHTS, sha256: str | None = None, similarity=None) -> Reader:
        """The weights at `path`, refused if their sha256 is not the one shipped beside them. Weights trained
        with an embedder's similarity need that embedder's (`embedder_of` names it), as `similarity`."""
        try:
            data = path.read_bytes()
            want = sha256 or path.with_suffix(".sha256").read_text(encoding="utf-8").split()[0]
        except OSError as exc:
            raise RagError(f"the reader's weights could not be read ({path}): {exc}; "
                           "`rag reader train` makes them from ../shared/train") from exc
        got = hashlib.sha256(data).hexdigest()
        if got != want:
            raise RagError(f"the reader's weights at {path} are not the ones shipped (sha256 {got[:12]}…, "
                           f"expected {want[:12]}…)")
        w = json.loads(data)
        embedder = str(w.get("embedder") or "")
        if w["features"] != feature_names(dense=bool(embedder)):
            raise RagError(f"the reader's weights at {path} were made for other features; retrain them")
        if embedder and similarity is None:
            raise RagError(f"the reader's weights at {path} read sentences with the embedder {embedder}: "
                           "give its similarity")
        return cls(np.asarray(w["coef"], np.float64), float(w["intercept"]), np.asarray(w["mean"], np.float64),
                   np.asarray(w["scale"], np.float64), float(w["threshold"]), w.get("report"),
                   similarity if embedder else None, embedder)

    def probabilities(self, question: str, candidates: list[Candidate]) -> np.ndarray:
        x = expand(candidate_features(question, candidates, self.similarity)).astype(np.float64)
        if not len(x):
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


__all__ = ["SHA256", "WEIGHTS", "Read", "Reader", "Reads"]
