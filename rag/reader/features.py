"""What the reader sees of one candidate sentence for a question: a few numbers, the same in training and in
use. Each is about the question's own words and the kind of fact it asks, never about a topic, so what is
learned on the training news carries over to other pages.

The candidates of a question are read together: how rare a question word is, whether it stands anywhere at
all, and how a sentence ranks against the others are measured among them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from rag.asked import asked_kinds, gives
from rag.chunk import sentence_spans
from rag.retrieve import content_words, word_weight

_CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")
_FIGURE = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Candidate:
    sentence: str
    before: str = ""  # the sentence before it in its article: news names its subject there
    rank: int = 0  # its passage's place in the retrieval (0: first); training candidates come unranked


# The base features, in the order of the vector; the model also sees their pairwise products.
BASE = ("cover", "cover_context", "cover_best", "cover_margin", "words_found", "plain_cover", "pairs",
        "kind_asked", "kind_given", "figures_kept", "length", "passage_rank")
# What an embedder says of the same candidate, when the reader was trained with one (`rag reader train
# --similarity NAME`): how alike the question and the sentence are (and the sentence with the one before it),
# against the others. The words miss a question asked in other words; the meaning does not.
DENSE = ("sim", "sim_margin", "sim_best", "sim_z", "sim_context")


def sentences_of(text: str, rank: int = 0) -> list[tuple[int, int, Candidate]]:
    """Each sentence of `text` with its offsets, as the reader reads it: with the sentence before it."""
    out, before = [], ""
    for s, e in sentence_spans(text):
        out.append((s, e, Candidate(text[s:e], before, rank)))
        before = text[s:e]
    return out


def _pairs(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1) if _CJK_PAIR.fullmatch(text[i:i + 2])}


def _weights(words: list[str], units: list[str]) -> dict[str, float]:
    """Rarer words among the candidates weigh more; a word found in none of them weighs most: it is what the
    pages do not say."""
    found = {w: sum(w in u for u in units) for w in words}
    return {w: word_weight(w) * math.log(1 + len(units) / (1 + df)) for w, df in found.items()}


def base_features(question: str, candidates: list[Candidate]) -> np.ndarray:
    """One row of BASE per candidate."""
    if not candidates:
        return np.zeros((0, len(BASE)), dtype=np.float32)
    words = content_words(question)
    sentences = [c.sentence.lower() for c in candidates]
    contexts = [(c.before + c.sentence).lower() for c in candidates]
    weights = _weights(words, contexts)
    total = sum(weights.values()) or 1.0
    plain_total = sum(word_weight(w) for w in words) or 1.0

    def cover(text: str) -> float:
        return sum(w for word, w in weights.items() if word in text) / total

    covers = np.array([cover(s) for s in sentences])
    context_covers = np.array([cover(c) for c in contexts])
    found = sum(w for word, w in weights.items() if any(word in c for c in contexts)) / total
    asked = [k for k in asked_kinds(question)]
    q_pairs = _pairs(question)
    figures = set(_FIGURE.findall(question))
    best = context_covers.max()
    rows = []
    for i, c in enumerate(candidates):
        others = np.delete(context_covers, i)
        margin = context_covers[i] - (others.max() if len(others) else 0.0)
        pairs = len(q_pairs & _pairs(contexts[i])) / len(q_pairs) if q_pairs else 0.0
        kept = sum(f in contexts[i] for f in figures) / len(figures) if figures else 1.0
        rows.append([
            covers[i], context_covers[i], float(context_covers[i] >= best - 1e-9), margin, found,
            sum(word_weight(w) for w in words if w in sentences[i]) / plain_total, pairs,
            float(bool(asked)), float(any(gives(k, c.sentence, question) for k in asked)), kept,
            math.log(1 + len(c.sentence)) / 5, 1.0 / (1 + c.rank),
        ])
    return np.asarray(rows, dtype=np.float32)


def dense_features(sims: np.ndarray, before_sims: np.ndarray) -> np.ndarray:
    """One row of DENSE per candidate, from the question's cosine with each sentence and with the sentence
    before it (0 where there is none). Relative figures carry over between embedders' scales."""
    sims = np.asarray(sims, dtype=np.float64)
    if not len(sims):
        return np.zeros((0, len(DENSE)), dtype=np.float32)
    context = np.maximum(sims, np.asarray(before_sims, dtype=np.float64))
    top = sims.max()
    second = np.sort(sims)[-2] if len(sims) > 1 else 0.0
    margin = np.where(sims >= top, sims - second, sims - top)  # against the best other candidate
    z = (sims - sims.mean()) / (sims.std() + 1e-6)
    return np.column_stack([sims, margin, (sims >= top - 1e-9).astype(float), z, context]).astype(np.float32)


def candidate_features(question: str, candidates: list[Candidate], similarity=None) -> np.ndarray:
    """The base features, and the dense ones when a `similarity` (query, texts -> cosines) is given."""
    base = base_features(question, candidates)
    if similarity is None:
        return base
    texts = [c.sentence for c in candidates]
    sims = np.asarray(similarity(question, texts)) if candidates else np.zeros(0)
    befores = [c.before for c in candidates if c.before]
    before_of = dict(zip(befores, similarity(question, befores))) if befores else {}
    before_sims = np.array([before_of.get(c.before, 0.0) for c in candidates])
    return np.hstack([base, dense_features(sims, before_sims)])


def expand(base: np.ndarray) -> np.ndarray:
    """The base features and their pairwise products (a linear model then weighs "covers the words *and*
    gives a figure" apart from either alone)."""
    n = base.shape[1]
    products = [base[:, i] * base[:, j] for i in range(n) for j in range(i, n)]
    return np.column_stack([base, *products]) if len(base) else np.zeros((0, n + n * (n + 1) // 2), np.float32)


def feature_names(dense: bool = False) -> list[str]:
    names = BASE + DENSE if dense else BASE
    n = len(names)
    return list(names) + [f"{names[i]}*{names[j]}" for i in range(n) for j in range(i, n)]


__all__ = ["BASE", "DENSE", "Candidate", "base_features", "candidate_features", "dense_features", "expand",
           "feature_names", "sentences_of"]
