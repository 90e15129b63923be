"""Extractive answering: the best-matching source sentence, cited. Needs no LLM; the fallback and baseline."""
from __future__ import annotations


from rag.chunk import sentence_spans
from rag.cite import _bigrams
from rag.claims import split_clauses
from rag.prompt import refusal_for
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


# A part's clause must hold this much of the part's wording (rarity-weighted) and clearly more than any
# other clause: "以及在审及境外上市待备案企业14家" holds 0.87 of "湖南在审及境外上市待备案的企业有多少家",
# the next clause ("其中境外上市待备案企业7家") 0.63.
PART_QUOTE_MIN = 0.75
PART_QUOTE_MARGIN = 0.15
_LEAD_WORDS = ("还有", "同时", "其中有")  # clause openers jieba does not tag as conjunctions


def strip_lead(clause: str) -> str:
    """A clause without the connective it opens with ("以及在审企业14家" -> "在审企业14家"): a leading word
    jieba tags as a conjunction, or one of `_LEAD_WORDS`. A name or word that merely starts like one stays
    whole ("和平路", "及时")."""
    from rag.names import tagged

    words = tagged(clause)
    if words and words[0][1] == "c":
        return clause[len(words[0][0]):]
    for lead in _LEAD_WORDS:
        if clause.startswith(lead):
            return clause[len(lead):]
    return clause


def part_quote(part: str, question: str, passages: list[Passage]) -> str:
    """For a part of the question that asks for a number, date, ratio, place or organisation and that the
    model's answer left out or got wrong, the one passage clause that states it, cited ("在审及境外上市待
    备案企业14家[1]。"); "" when no clause stands out.

    Only parts with at least three content words are quoted: "分别是在哪个赛道" (two words) matches a
    clause about another 赛道 as well as the right one. Passages on another matter and passages holding
    planted instructions are not quoted from.
    """
    from rag.asked import asked_kinds, gives
    from rag.cite import is_about
    from rag.guard import has_instructions
    from rag.retrieve import content_words, rarity_weights

    words, kinds = content_words(part), asked_kinds(part)
    if len(words) < 3 or not kinds:
        return ""
    clauses = [(p.rank, c) for p in passages if not has_instructions(p.chunk.text) and is_about(question, p)
               for c in split_clauses(p.chunk.text)]
    weights = rarity_weights(words, [c.lower() for _, c in clauses])
    total = sum(weights.values())
    if not total:
        return ""
    scored = sorted(((sum(v for w, v in weights.items() if w in c.lower()) / total, -rank, c)
                     for rank, c in clauses if any(gives(k, c, question) for k in kinds)), reverse=True)
    if not scored:
        return ""
    best, rank, clause = scored[0]
    runner_up = next((s for s, _, c in scored[1:] if c != clause), 0.0)
    if best < PART_QUOTE_MIN or best - runner_up < PART_QUOTE_MARGIN:
        return ""
    return f"{strip_lead(clause)}[{-rank}]。"
