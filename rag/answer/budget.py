"""The passages a prompt shows, cut to a budget of prompt tokens.

On this CPU every prompt token costs about 16 ms before the first word (prefill, ≈ 60 tokens/s), so the
prompt shows the sentences that matter across all the retrieved passages, not a fixed stretch of each:

1. cover the question's words: again and again, the sentence, or pair of adjacent sentences, whose words
   weigh most (rare words weigh more, `prompt.term_weights`), a word counting half as much for each sentence
   already shown that holds it (a tie goes to the cheaper, then to the passage ranked higher). So new words
   come first, and a second sentence on the same words still comes before one on none ("起售价3499元" after
   "起售价429美元"). A pair wins only when its second sentence adds words: "市农商行联合有关部门…"
   followed by "该行推出三级信用积分制度…" covers "市农商行……三级信用积分制度" where neither does
   alone. Each part of a question of several is covered so, wherever its article ranks;
2. context: the sentence before each one taken ("该项目" needs the one naming it), then the one after;
3. the rest of the budget: the other sentences of the passages shown, nearest what was taken first (a
   colloquial "要收钱不" is answered by "免费开放" beside the sentence its other words found); when no word
   matched at all (an English question over Chinese passages), the passages' sentences in rank order.

With the reader's scores (`scores`, the `reader_prompt` step), step 1 is the reader's instead: its sentences,
most likely to answer first, each with the sentence before it (news names its subject there), while they fit.

Sentences are taken while they fit. The taken ones are shown grouped and numbered by passage, in text order,
with "…" where sentences are left out, so the model's [n] still points at the passage the citation check reads
(in full).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from rag.chunk import sentence_spans
from rag.guard import masked
from rag.types import Passage

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_LATIN = re.compile(r"[A-Za-z]+")
_MARK = re.compile(r"[^\sA-Za-z\d\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
# Tokens of Qwen2.5's tokenizer per Chinese character (or full-width mark), digit, Latin word and other mark:
# a least-squares fit to the model's own /tokenize over 56 stretches of the seed pages and both news archives
# (mean error 7 %, worst 20 %).
CJK_TOKENS, DIGIT_TOKENS, WORD_TOKENS, MARK_TOKENS = 0.65, 1.35, 1.3, 0.3
REPEAT = 0.5  # a word already shown in n sentences counts REPEAT**n in the next: new words first, not only


def estimate_tokens(text: str) -> int:
    """About how many prompt tokens `text` costs (see CJK_TOKENS)."""
    return round(len(_CJK.findall(text)) * CJK_TOKENS + sum(c.isdigit() for c in text) * DIGIT_TOKENS
                 + len(_LATIN.findall(text)) * WORD_TOKENS + len(_MARK.findall(text)) * MARK_TOKENS)


@dataclass(frozen=True)
class _Sentence:
    passage: int  # index into the passages
    at: int  # index among its passage's sentences
    cost: int
    words: frozenset[str]  # the question's words it holds


def header(p: Passage, body: str = "") -> str:
    """The passage's number, title and date. A title the shown `body` opens with is left out: an archive
    record without a title of its own is titled by its first words (RGB's passages, many of CRUD-RAG's), and
    repeating them cost some 25 tokens a passage for nothing the body does not say."""
    title = p.chunk.title.strip()
    shown = f" 《{title}》" if title and not (body and body.lstrip().startswith(title)) else ""
    return f"[{p.rank}]{shown}" + (f"（{p.chunk.date}）" if p.chunk.date else "")


def select(passages: list[Passage], weights: dict[str, float], budget: int,
           texts: list[str] | None = None, scores: list[list[float]] | None = None) -> dict[int, list[int]]:
    """For each passage (by index) the sentences (by index) of its text with planted orders masked (`texts`,
    when the caller has them) to show within `budget` tokens, headers included; `weights` weigh the question's
    words, `scores` (each passage's sentences' probability of answering, by the reader) order them instead
    (see the module's steps)."""
    texts = texts if texts is not None else [masked(p.chunk.text) for p in passages]
    rows = []
    for i, text in enumerate(texts):
        rows.append([_Sentence(i, j, estimate_tokens(text[a:b]),
                               frozenset(w for w in weights if w in text[a:b].lower()))
                     for j, (a, b) in enumerate(sentence_spans(text))])
    heads = [estimate_tokens(header(p)) + 1 for p in passages]
    taken: dict[int, set[int]] = {}
    spent = 0

    def cost(unit: tuple[_Sentence, ...]) -> int:
        new = [s for s in unit if s.at not in taken.get(s.passage, ())]
        return sum(s.cost for s in new) + (0 if unit[0].passage in taken else heads[unit[0].passage])

    def take(unit: tuple[_Sentence, ...]) -> bool:
        nonlocal spent
        price = cost(unit)
        if spent + price > budget and taken:  # the first sentence is always shown
            return False
        spent += price
        taken.setdefault(unit[0].passage, set()).update(s.at for s in unit)
        return True

    if scores is not None:  # 1. the reader's sentences, best first, each with the one before it
        for _, i, j in sorted((-p, i, j) for i, row in enumerate(scores) for j, p in enumerate(row)):
            if not take(tuple(rows[i][max(0, j - 1):j + 1])):
                take((rows[i][j],))
    units = [] if scores is not None else [row[j:j + n] for row in rows for n in (1, 2) for j in range(len(row) - n + 1)]
    shown: dict[str, int] = {}  # how many sentences taken hold each word
    while units:  # 1. cover the question's words
        def gain(unit) -> float:
            fresh = [s for s in unit if s.at not in taken.get(s.passage, ())]
            return sum(weights[w] * REPEAT ** shown.get(w, 0) for w in frozenset().union(*(s.words for s in fresh)))

        # over the budget only as the very first, and then a single sentence
        fitting = [u for u in units if cost(u) and gain(u) > 0
                   and (spent + cost(u) <= budget or not taken and len(u) == 1)]
        if not fitting:
            break
        best = max(fitting, key=lambda u: (gain(u), -cost(u), -u[0].passage, -u[0].at))
        for s in best:
            if s.at not in taken.get(s.passage, ()):
                for w in s.words:
                    shown[w] = shown.get(w, 0) + 1
        take(best)
    for i in sorted(taken):  # 2. context beside what was taken, the sentence before first
        for j in sorted(taken[i]):
            for k in (j - 1, j + 1):
                if 0 <= k < len(rows[i]) and k not in taken[i]:
                    take((rows[i][k],))
    # 3. the rest of the passages shown, nearest what was taken first; with nothing shown, all in rank order
    for i in sorted(taken) or range(len(rows)):
        near = sorted(rows[i], key=lambda s: min((abs(s.at - j) for j in taken.get(i, ())), default=s.at))
        for s in near:
            take((s,))
    return {i: sorted(js) for i, js in taken.items()}


def format_budgeted(passages: list[Passage], weights: dict[str, float], budget: int,
                    texts: list[str] | None = None, scores: list[list[float]] | None = None) -> str:
    """The numbered passage blocks of a prompt within `budget` tokens (see `select`), in rank order; a
    passage with no sentence taken is left out. `texts`: the passages' texts with planted orders masked,
    when the caller has them; `scores`: the reader's, as `select` takes them."""
    texts = texts if texts is not None else [masked(p.chunk.text) for p in passages]
    chosen = select(passages, weights, budget, texts, scores)
    blocks = []
    for i, (p, text) in enumerate(zip(passages, texts)):
        if i not in chosen:
            continue
        spans = sentence_spans(text)
        picked = chosen[i]
        body = ""
        for n, j in enumerate(picked):
            gap = j > 0 if n == 0 else j != picked[n - 1] + 1
            body += ("…" if gap else "") + text[spans[j][0]:spans[j][1]].strip()
        body += "…" if picked[-1] < len(spans) - 1 else ""
        blocks.append(f"{header(p, body)}\n{body}")
    return "\n\n".join(blocks)


__all__ = ["estimate_tokens", "format_budgeted", "header", "select"]
