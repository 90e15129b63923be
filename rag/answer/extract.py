"""Extractive answering: the best-matching source sentence, cited. Needs no LLM; the fallback and baseline."""
from __future__ import annotations

from rag.answer.cite import _bigrams
from rag.answer.prompt import refusal_for
from rag.chunk import sentence_spans
from rag.types import Passage

MIN_OVERLAP = 0.25


def extractive_answer(question: str, passages: list[Passage]) -> str:
    """The passage sentence sharing most of the question's character bigrams, with its [n]; a refusal
    when no sentence shares at least a quarter of them."""
    q = _bigrams(question)
    best = (0.0, "", 0)
    for p in passages:
        text = p.chunk.text
        for s, e in sentence_spans(text):
            sentence = text[s:e]
            overlap = len(q & _bigrams(sentence)) / max(1, len(q))
            overlap -= 0.01 * (p.rank - 1)  # break ties toward the better-ranked passage
            if overlap > best[0]:
                best = (overlap, sentence, p.rank)
    score, sentence, rank = best
    if score < MIN_OVERLAP or not sentence:
        return refusal_for(question)
    sentence = sentence.strip()
    if sentence[-1] in "。！？!?；;":
        return f"{sentence[:-1]}[{rank}]{sentence[-1]}"
    return f"{sentence}[{rank}]"
