"""Cite stage: answer text -> claims with checked Citations pointing at exact spans of the passages.

A claim is supported by a passage when most of its character bigrams occur in one or two adjacent
sentences of that passage and every number in it, and every name it adds to the question, appears there
exactly. A claim citing the wrong
passage gets its citation moved to the one that supports it; a claim nothing supports is dropped.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from rag.answer.claims import CONTENT as _CONTENT
from rag.answer.claims import claim_clauses, split_claims
from rag.answer.english import Meaning, anchored, english_span, values
from rag.asked import Question, in_scope, question_of
from rag.guard import source_windows
from rag.names import names
from rag.types import Citation, Passage

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")
# A refusal says that the documents hold no answer: "没有找到", "资料中并未提及……", or "没有提到……" with no
# subject of its own. "该补贴不包含住房公积金" has a subject, and is a claim to check like any other.
_REFUSAL = re.compile(
    r"没有找到|未找到|无法回答|无法确定|没有相关(?:的)?(?:信息|内容|资料|报道|数据|说明)|"
    r"(?:资料|材料|文章|报道|文中|原文|上述|以上|所给|提供的|这些)[^，。；,.;]{0,8}?(?:没有|未|不)[^，。；,.;]{0,4}?"
    r"(?:提到|提及|包含|涉及|说明|给出|介绍|记载)|"
    r"(?:^|[，,；;])\s*(?:但是?|而|不过)?\s*(?:并)?(?:没有|未)(?:具体|明确|直接)?(?:提到|提及|说明)|"
    r"do(?:es)? not contain|not mention|cannot find|can't find|no information", re.I)
SUPPORT_THRESHOLD = 0.5


def _chars(text: str) -> list[str]:
    """The characters of `text` that carry content, lower-cased: what bigrams are made of."""
    return [c.lower() for c in text if _CONTENT.match(c)]


def _bigrams(text: str) -> set[str]:
    chars = _chars(text)
    return {a + b for a, b in zip(chars, chars[1:])}


_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?%?")  # "3,499": thousands, grouped by commas


def _numbers(text: str) -> set[str]:
    """The figures written in `text`, a grouped one as its plain digits ("RMB 3,499" holds 3499)."""
    return {n.replace(",", "") if _GROUPED.fullmatch(n) else n for n in (m.rstrip(".,") for m in _NUMBER.findall(text))}


# A code of letters and digits ("MU5735", "C919", "B00001"): it stands in the source as written, or not at all.
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9][A-Za-z0-9-]+")


def _identifiers(text: str) -> set[str]:
    return {m.group(0).lower().strip("-") for m in _IDENTIFIER.finditer(text)}


def is_latin(claim: str) -> bool:
    """A claim written mostly in Latin letters (an English answer)."""
    return len(re.findall(r"[\u4e00-\u9fff]", claim)) < 0.3 * len(_CONTENT.findall(claim))


# Full-width digits, letters and ％ ("６.５％", "ＣＰＩ") as the model writes them; full-width punctuation stays,
# for a comma between figures ("12，15") does not make one figure.
_HALF_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in [0xFF05, *range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                                                *range(0xFF41, 0xFF5B)]})


def support(claim: str, span: str, question: str = "") -> float:
    """Share of the claim's character bigrams found in `span`, 0 when a number of the claim is missing.

    Bigrams the claim merely repeats from the question are left out when enough remain, so that
    "X的总部设在长沙" is judged by "长沙", not by the restated "X的总部设在" (bigrams across the seam
    are left out too). When three or fewer bigrams are left to judge by, all of them must be there.
    """
    claim, span, question = (t.translate(_HALF_WIDTH) for t in (claim, span, question))
    if not _identifiers(claim) - _identifiers(question) <= _identifiers(span):
        return 0.0  # an identifier the source does not hold is made up
    if is_latin(claim):
        # an English claim over Chinese text shares no bigrams: its numbers and pinyin names are what can be
        # matched here (a claim with neither is judged by meaning in `check_answer`)
        return 1.0 if anchored(claim, span, question) else 0.0
    in_span = {n.rstrip("%") for n in _numbers(span)}  # whole numbers: "100" does not stand in "1000亿元"
    if any(n.rstrip("%") not in in_span for n in _numbers(claim)):
        return 0.0
    if not values(claim) - values(question) <= values(span):
        return 0.0  # the same digits with another scale: "3182吨" is not "3182万吨"
    if any(name not in span for name in names(claim) - names(question) if name not in question):
        return 0.0  # a place, person or organisation the claim brings in must be named by its source
    grams = _bigrams(claim)
    asked = grams & _bigrams(question)
    novel = _novel(claim, asked)
    if len(novel) >= 2:
        grams = novel
    elif novel and all(any(ch.isdigit() for ch in g) for g in novel):
        # The claim restates the question and adds only a number ("…龙舟赛共有12支队伍参赛"): it is judged by
        # that number with its unit, which must stand in the span as written.
        counted = [m for m in re.findall(r"\d+(?:\.\d+)?[^\d\s，。、；：,.;:“”\[\]]?", claim) if m not in question]
        if counted and all(re.search(r"(?<![\d.])" + re.escape(m), span) for m in counted):
            return 1.0
    if not grams:
        return 0.0
    share = len(grams & _bigrams(span)) / len(grams)
    return share if share == 1.0 or len(grams) > 3 else share / 2


def _novel(claim: str, asked: set[str]) -> set[str]:
    """The claim's bigrams that say something new: not restated from the question (`asked`), and not a seam,
    a bigram with a character of a restated stretch at that place in the claim ("大会在…举办" restated around
    a new name makes "在杭" no evidence of the name)."""
    chars = _chars(claim)
    restated = [False] * len(chars)
    for i in range(len(chars) - 1):
        if chars[i] + chars[i + 1] in asked:
            restated[i] = restated[i + 1] = True
    return {chars[i] + chars[i + 1] for i in range(len(chars) - 1) if not restated[i] and not restated[i + 1]}


_ENDS_SENTENCE = re.compile(r"[。！？；!?;…][”」』）)]*\s*$")


# How well each sentence of a passage answers the question, by the trained reader (the `reader_cite` step):
# (start, end, P) of each sentence, offsets in the passage's text, by passage rank.
Answering = dict[int, list[tuple[int, int, float]]]


def answering(reader, question: str, passages: list[Passage]) -> Answering:
    """The reader's probability that each sentence of `passages` answers `question`, read together."""
    table: Answering = {p.rank: [] for p in passages}
    for r in reader.read(question, passages):
        table[passages[r.passage].rank].append((r.start, r.end, r.p))
    return table


def _answers(table: Answering | None, rank: int, start: int, end: int) -> float:
    """The best reader probability among the sentences of passage `rank` that overlap [start, end)."""
    if not table:
        return 0.0
    return max((p for s, e, p in table.get(rank, ()) if s < end and start < e), default=0.0)


def best_span(claim: str, passage: Passage, question: str = "") -> tuple[float, int, int]:
    """(score, start, end) of the best 1-2 sentence window of the passage, offsets in the article."""
    text = passage.chunk.text
    windows = [(support(claim, text[s:e], question), s, e) for s, e in source_windows(text)]
    if not windows:
        return 0.0, passage.chunk.start, passage.chunk.end
    top = max(w[0] for w in windows)
    # Among windows nearly as good as the best, prefer the one that also holds most of what the claim
    # restates from the question (so a headline that merely names the figure loses to the sentence that
    # states it), then the shortest, the most exact quote.
    claim_grams = _bigrams(claim) or {""}
    near = [(len(claim_grams & _bigrams(text[w[1]:w[2]])) / len(claim_grams), w) for w in windows if w[0] >= top - 0.05]
    best_full = max(full for full, _ in near)
    # A body sentence beats a headline line that merely repeats the figure (English claims share no
    # wording with either, so this is what picks the sentence for them).
    score, s, e = min((w for full, w in near if full >= best_full - 0.2),
                      key=lambda w: (not _ENDS_SENTENCE.search(text[w[1]:w[2]]), w[2] - w[1], -w[0]))
    return score, passage.chunk.start + s, passage.chunk.start + e


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text))


def check_answer(answer: str, passages: list[Passage], question: Question | str = "", meaning: Meaning | None = None,
                 source: Callable[[Passage], str] | None = None,
                 clauses: bool = True, reader=None) -> tuple[str, list[Citation], list[str]]:
    """Check every claim of `answer` against the passages; `meaning` (see `embed.Similarity`) judges English
    claims by what they say as well as by their numbers and names; with `source` (a passage's whole
    article), only passages whose article names the year, edition or holiday the question is scoped to
    (`asked.in_scope`); with `clauses`, a claim no one passage supports is checked clause by clause
    (`_fact_clauses`); with `reader` (a trained `Reads`), a claim that several spans hold alike is cited to
    the one the reader says best answers a Chinese question.

    Returns (clean answer text with corrected [n] markers, citations, dropped unsupported claims).
    """
    q = question_of(question)
    question = q.text  # the claims are judged against its words; its analysis is `q`'s
    by_rank = {p.rank: p for p in passages}
    about = [p for p in passages if source is None or in_scope(q, source(p))]
    table = answering(reader, question, passages) if reader is not None and not q.english and passages else None
    kept, citations, dropped = [], [], []
    seen: set[str] = set()
    for claim in split_claims(answer):
        # a small model caught in a loop says the same sentence again: once is enough
        if (said := claim.text.rstrip("。！？!?；;.")) in seen:
            continue
        if is_refusal(claim.text):  # "资料中没有找到……" for one part of a question states no fact
            continue
        seen.add(said)
        if found := _supporting(claim.text, claim.cited, about, question, meaning, table=table):
            pieces = [(claim.text, found)]
            seen.update(claim_clauses(claim.text))  # a later claim's clause that says one of them again is not shown
        else:
            # A claim that joins facts from two passages ("美国CPI上涨6.5%，中国CPI上涨1.8%"), or a true
            # clause to a made-up one, stands in no one passage: each clause that adds a fact and stands in
            # a passage of its own is kept with its own citation; the others are dropped.
            parts = [c for c in _fact_clauses(claim.text, question) if c not in seen] if clauses else []
            seen.update(parts)
            pieces = [(c, f) for c in parts
                      if (f := _supporting(c, claim.cited, about, question, meaning, claim.text, table))]
            shown = {c for c, _ in pieces}
            dropped += [c for c in parts if c not in shown] if pieces else [claim.text]
        for text, (rank, start, end) in pieces:
            p = by_rank[rank]
            quote = p.chunk.text[start - p.chunk.start:end - p.chunk.start]
            citations.append(Citation(n=rank, article_id=p.chunk.article_id, title=p.chunk.title, source=p.chunk.source,
                                      start=start, end=end, quote=quote, claim=text, supported=True))
        if pieces:
            kept.append(_marked(claim.text, pieces))
    return "".join(_join(kept)), citations, dropped


def _supporting(text: str, cited: tuple[int, ...], about: list[Passage], question: str,
                meaning: Meaning | None, claim: str = "", table: Answering | None = None) -> tuple[int, int, int] | None:
    """(rank, start, end) of the span that best supports `text` (a claim, or a clause of `claim`) among the
    passages `about`, the ones the model cited winning a tie, then (with the reader's `table`) the one that
    best answers the question; None when none does."""
    scored = []
    if is_latin(text):
        # a claim of figures alone ("132人") is found by its values; meaning is for words, and a clause's
        # meaning is its sentence's
        words = meaning if re.search(r"[A-Za-z]{2}", claim or text) else None
        if found := english_span(text, about, question, words, meant=claim):
            score, rank, start, end = found
            scored.append((True, 1 if rank in cited else 0, score, 0.0, rank, start, end))
    else:
        for p in about:
            score, start, end = best_span(text, p, question)
            read = _answers(table, p.rank, start - p.chunk.start, end - p.chunk.start)
            scored.append((score >= SUPPORT_THRESHOLD, 1 if p.rank in cited else 0, score, read, p.rank, start, end))
    if not scored:
        return None
    ok, _, _, _, rank, start, end = max(scored, key=lambda t: (t[0], t[1], t[2], round(t[3], 2)))
    return (rank, start, end) if ok else None


def _fact_clauses(claim: str, question: str) -> list[str]:
    """The clauses of a claim of several that each add a fact to the question: a figure, a code or a name it
    does not hold. "具体如下" or a restated "四川" is no answer on its own."""
    clauses = claim_clauses(claim)
    if len(clauses) < 2:
        return []
    return [c for c in clauses if len(_CONTENT.findall(c)) >= 2 and (
        _numbers(c) - _numbers(question) or _identifiers(c) - _identifiers(question) or names(c) - names(question))]


def _marked(claim: str, pieces: list[tuple[str, tuple[int, int, int]]]) -> str:
    """What is shown of `claim`: the claim, or its supported clauses, each with its citation marker, ending as
    the claim ends."""
    end = claim[-1] if re.search(r"[。！？!?；;.]$", claim) else ""
    english = bool(re.search(r"[A-Za-z]", claim)) and is_latin(claim)
    marked = [f"{text.rstrip('。！？!?；;.')}[{rank}]" for text, (rank, _, _) in pieces]
    return (", " if english else "，").join(marked) + end


def _join(sentences: list[str]) -> list[str]:
    # English sentences need a space between them; Chinese ones do not.
    out = []
    for s in sentences:
        if out and re.search(r"[A-Za-z0-9.\]]$", out[-1]) and re.match(r"[A-Za-z]", s):
            out.append(" ")
        out.append(s)
    return out
