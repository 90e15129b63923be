"""How sure the model was of its own answer, from the log-probabilities of the tokens it wrote (llama.cpp gives
them with the answer, at no extra call). Measured beside the confirm step's yes/no, which costs a second call:
whether one could stand in for the other is decided on held-out training questions (`rag bench confirm`
records both), not here.

Only the answer's words count: a citation's "[1]", punctuation and spaces are near-certain for any answer and
would only dilute the figure.
"""
from __future__ import annotations

import math
import re

CERTAINTY = ("logprob_mean", "logprob_min", "logprob_low3", "p_geomean")  # what `certainty` gives
_WORDLIKE = re.compile(r"[\w\u4e00-\u9fff]")


def word_logprobs(tokens: list[tuple[str, float]]) -> list[float]:
    """The log-probabilities of the tokens that carry words, without the digits of a citation mark."""
    out, in_mark = [], False
    for text, logprob in tokens:
        if "[" in text:
            in_mark = True
        if in_mark or not _WORDLIKE.search(text):
            in_mark = in_mark and "]" not in text
            continue
        out.append(logprob)
    return out


def certainty(tokens: list[tuple[str, float]]) -> dict[str, float] | None:
    """Summaries of the word tokens' log-probabilities: the mean, the lowest, and the mean of the lowest three
    (one unsure figure or name is what makes an answer wrong); None when the answer has no word token."""
    values = sorted(word_logprobs(tokens))
    if not values:
        return None
    return {"logprob_mean": round(sum(values) / len(values), 4), "logprob_min": round(values[0], 4),
            "logprob_low3": round(sum(values[:3]) / len(values[:3]), 4),
            "p_geomean": round(math.exp(sum(values) / len(values)), 4)}


__all__ = ["CERTAINTY", "certainty", "word_logprobs"]
