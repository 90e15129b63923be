"""The confirm step: do the sentences the answer cites answer what was asked? The model says, with a probability.

The support check proves that every claim stands in its span; it cannot tell that the span is about another
year, season or event than the question ("2021年粮食产量连续7年稳定在1.3万亿斤以上" for 2022's harvest, a
film's 5月6日 for ChatGPT's release). The model can, shown only the cited sentences and the question: its
next-token probabilities of "是" and "否" (llama.cpp's top log-probabilities) give P(否), the model's doubt,
and an answer it doubts more than `confirm_threshold` is a refusal. The answer itself is not shown: on the
suite's 277 answered questions the model told wrong answers from right ones better without it (AUC 0.73
against 0.69 with it; README, *Figures*), a fluent answer being easy to agree with. The threshold is chosen on
held-out training questions, not on the suite (`rag bench confirm`, docs/evaluation.md).
"""
from __future__ import annotations

import logging

from rag.asked import Question, question_of
from rag.chunk import sentence_spans
from rag.errors import ModelError
from rag.types import Answer

log = logging.getLogger("rag")

PROMPTS = {
    "zh": "资料：\n{quotes}\n\n问题：{question}\n\n"
          "这段资料是否回答了这个问题（同一个对象、同一年份、同一届或同一事件）？只回答“是”或“否”。",
    "en": "Source:\n{quotes}\n\nQuestion: {question}\n\n"
          "Does the source answer this question, about the same subject, year, edition or event? "
          "Answer only \"yes\" or \"no\".",
}
# The first token of a reply that says yes, or no (llama.cpp's tokens of the Qwen models: "是", "否", "不是" …).
YES = frozenset({"是", "yes"})
NO = frozenset({"否", "不是", "不", "no"})


def cited_texts(answer: Answer, before: int = 1) -> list[str]:
    """The answer's cited spans, each with the `before` sentences of its passage that lead up to it; spans of
    one passage that overlap are one text. One before, by default: a news sentence often names its subject
    only in the sentence before it ("长沙文旅持续升温。全市全年接待游客1.8亿人次"). On the suite's answers it
    refused fewer right answers than the cited spans alone (3 against 5 at 0.2) for fewer wrong ones refused
    (8 against 12), with the same AUC (0.73)."""
    ranges: dict[int, list[list[int]]] = {}  # passage index -> [start, end] ranges in its text
    loose: list[str] = []  # quotes not found in a passage (answers saved without their passages)
    for c in answer.citations:
        at, i = -1, -1
        for i, p in enumerate(answer.passages):
            if p.chunk.article_id == c.article_id and c.quote and (at := p.chunk.text.find(c.quote)) >= 0:
                break
        if at < 0:
            loose.append(c.quote.strip())
            continue
        text = answer.passages[i].chunk.text
        starts = [s for s, _ in sentence_spans(text) if s <= at]
        first = at if before <= 0 else starts[-1 - before] if len(starts) > before else 0
        ranges.setdefault(i, []).append([first, at + len(c.quote)])
    texts = []
    for i, spans in ranges.items():
        merged: list[list[int]] = []
        for s, e in sorted(spans):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        texts += [answer.passages[i].chunk.text[s:e].strip() for s, e in merged]
    return list(dict.fromkeys(texts + loose))


def _kept_parts(q: Question, answer: Answer) -> list[str]:
    return [p.text for p in q.parts if p.text not in answer.missing]


def answered_question(question: Question | str, answer: Answer) -> str:
    """What the answer answers of `question`: the question itself, or, when parts of it are said to be missing
    (`Answer.missing`), only its other parts. A part the pages do not cover is not what the cited sentences
    are to be judged against: the parts found are still answered."""
    q = question_of(question)
    if not answer.missing:
        return q.text
    kept = _kept_parts(q, answer)
    return ("? " if q.english else "？").join(kept) + ("?" if q.english else "？") if kept else q.text


def _asking(q: Question, quotes: str, asked: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPTS["en" if q.english else "zh"].format(quotes=quotes, question=asked)}]


def confirm_messages(question: Question | str, answer: Answer, before: int = 1,
                     quotes: str | None = None) -> list[dict[str, str]]:
    """The confirming prompt for a checked answer: its cited sentences (see `cited_texts`; `quotes`, when the
    caller has them already) and what it answers of the question (`answered_question`)."""
    quotes = "\n".join(cited_texts(answer, before)) if quotes is None else quotes
    return _asking(question_of(question), quotes, answered_question(question, answer))


def doubt_of(probabilities: dict[str, float]) -> float | None:
    """P(no) among the yes and no tokens of a reply's first-token probabilities; None when it has neither."""
    yes = sum(p for token, p in probabilities.items() if token.strip().lower() in YES)
    no = sum(p for token, p in probabilities.items() if token.strip().lower() in NO)
    return no / (yes + no) if yes + no > 0 else None


def asked_questions(question: Question | str, answer: Answer) -> list[str]:
    """What the confirm step asks about: what the answer answers of `question` (`answered_question`) and, when
    that is several parts, each part alone. The parts found are still answered: an answer stands when its
    cited sentences answer one part, though the model doubts the question as a whole (of the suite's 23
    answered questions of several parts, it changed two at 0.2, wrong answers both, and refused none)."""
    q = question_of(question)
    parts = _kept_parts(q, answer)
    return [answered_question(q, answer)] + parts if len(parts) > 1 else [answered_question(q, answer)]


def doubt(generator, question: Question | str, answer: Answer) -> float | None:
    """How much the model doubts that the answer's cited sentences answer `question` (0-1): the least of its
    doubts over `asked_questions`. None for a refusal, a backend that gives no token probabilities, or a model
    that fails (the answer then stands as checked)."""
    probabilities = getattr(generator, "next_token_probs", None)
    if answer.refused or not answer.citations or probabilities is None:
        return None
    q = question_of(question)
    try:
        quotes = "\n".join(cited_texts(answer))  # the same sentences for the question and each part
        doubts = [doubt_of(probabilities(_asking(q, quotes, asked))) for asked in asked_questions(q, answer)]
    except ModelError as exc:
        log.warning("the confirm step was skipped: %s", exc)
        return None
    doubts = [d for d in doubts if d is not None]
    return min(doubts) if doubts else None


__all__ = ["NO", "PROMPTS", "YES", "answered_question", "asked_questions", "cited_texts", "confirm_messages", "doubt", "doubt_of"]
