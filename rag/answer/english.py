"""English claims over Chinese spans: what can be checked across the two languages.

An English claim shares no characters with its Chinese source, so it is judged on three things: its numbers
by value ("300 million" stands in "3亿"), its names by sound ("Lin Xiu" is 林秀 in pinyin, "Xiangtan" 湘潭), and
its meaning, by the embedding model, which is cross-lingual. The first two find the span; the third keeps a
claim from being "supported" by a passage on another matter that happens to share a figure.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

from rag.answer.figures import degree_conflict, values
from rag.guard import source_windows
from rag.types import Passage

# How near in meaning (cosine of the embedder's query and document vectors) a claim must be to its source,
# with EmbeddingGemma. A passage (a chunk of several sentences, judged with the question) scores 0.3-0.6 for the
# one that holds the claim and 0.05-0.2 for passages on other matters: a claim's passage is one within
# PASSAGE_MARGIN of the best and above PASSAGE_FLOOR.
# Measured on the suite's English answers (claim against the sentence it was cited to): correct claims
# 0.44-0.69, a ratio taken from a sentence about something else ("a 1:1 ratio" from "1家益阳企业…") 0.38, filler
# the model adds ("This is a significant achievement…") 0.43. So a claim found by its numbers or names needs its
# sentence at ANCHORED_THRESHOLD, and a claim with nothing to find it by needs MEANING_THRESHOLD.
MEANING_THRESHOLD = 0.5
ANCHORED_THRESHOLD = 0.4
PASSAGE_FLOOR = 0.2
PASSAGE_MARGIN = 0.15

_CAPITALISED_RUN = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+(?:[\s-]+[A-Z][a-z]+)*(?![A-Za-z])")  # "Wang一光" too
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")
# Capitalised English words that spell a pinyin syllable but name nothing ("He said", "She is").
_NOT_NAMES = frozenset({"he", "she", "a", "an", "ma", "me", "ban", "long", "die", "men", "hang", "dang", "pan", "fan",
                        "lay", "man", "tan"})

Meaning = Callable[[str, list[str]], list[float]]  # (claim, texts) -> similarity of the claim to each text


@functools.lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable ("deng", "ze", "lv")."""
    from pypinyin.constants import PINYIN_DICT

    out = set()
    for readings in PINYIN_DICT.values():
        for r in readings.split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", r) if not unicodedata.combining(c))
            out.add(plain.replace("ü", "v"))
    return frozenset(out - _INTERJECTIONS)


_INTERJECTIONS = {"n", "m", "ng", "hm", "hng", "r", "ê", "ê̄"}  # 嗯 呣 …: no name is spelled with them ("No" is no n-o)


def _split(word: str) -> list[str] | None:
    """`word` as pinyin syllables ("longping" -> ["long", "ping"]), or None when it is not pinyin."""
    syllables, n = _syllables(), len(word)
    best: list[list[str] | None] = [[]] + [None] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - 6), end):
            if best[start] is not None and word[start:end] in syllables:
                best[end] = best[start] + [word[start:end]]
                break
    return best[n]


def pinyin_names(text: str) -> list[tuple[list[str], bool]]:
    """The capitalised names of an English text written in pinyin, as syllables, each with whether it must
    stand in the source: "Deng Ze" -> (["deng", "ze"], True). In a run that is not pinyin as a whole
    ("Longping Rice Museum") each word that spells pinyin is a name that may ("Longping", but also "Rice":
    English words can spell pinyin too, so a word that is not found is no proof of anything)."""
    out = []
    for run in _CAPITALISED_RUN.finditer(text):
        words = [w.lower() for w in re.split(r"[\s-]+", run.group(0))]
        # a run is a name in pinyin when each of its words is pinyin: "Meixi Lake New Area" run together spells
        # "mei xi la ke ne wa re a", yet "New" is English
        whole = _split("".join(words)) if all(_split(w) for w in words) else None
        if whole and not (len(words) == 1 and words[0] in _NOT_NAMES):
            out.append((whole, True))
            continue
        out += [(syl, False) for w in words if w not in _NOT_NAMES and len(w) >= 4 and (syl := _split(w))]
    return out


def _readings(text: str) -> list[set[str]]:
    from pypinyin import Style, pinyin

    return [{r.replace("ü", "v") for r in rs} for rs in pinyin(text, style=Style.NORMAL, heteronym=True)]


def sounds_in(name: list[str], span: str) -> bool:
    """Whether the syllables `name` are read in `span`, one after another ("deng ze" in "袁隆平邓则夫妻")."""
    reads = _readings(span)
    return any(all(s in reads[i + k] for k, s in enumerate(name)) for i in range(len(reads) - len(name) + 1))


def anchored(claim: str, span: str, question: str = "") -> bool | None:
    """True when the claim's own numbers (those the question does not give) and pinyin names that must stand
    all do stand in `span`, and there is at least one such anchor (a name that may stand counts when it
    does); False when one does not; None when the claim has nothing to check by."""
    wanted = values(claim) - values(question)
    asked = {tuple(n) for n, _ in pinyin_names(question)}
    names = [(n, must) for n, must in pinyin_names(claim) if tuple(n) not in asked]
    # Chinese written into the English claim ("the winner was 湖南星沙智造科技") stands in the span as written
    written = [w for w in _CJK_RUN.findall(claim) if w not in question]
    if not wanted <= values(span) or not all(sounds_in(n, span) for n, must in names if must) \
            or not all(w in span for w in written) or degree_conflict(claim, span):
        return False
    if wanted or written or any(must or sounds_in(n, span) for n, must in names):
        return True
    return None


_MEANING_WINDOWS = 6  # spans compared by meaning, shortest first: each costs one embedding the first time


def english_span(claim: str, passages: list[Passage], question: str = "", meaning: Meaning | None = None,
                 meant: str = "") -> tuple[float, int, int, int] | None:
    """(score, passage rank, start, end) of the span that supports an English claim, offsets in the article,
    or None. With `meaning`, only passages that hold the claim's meaning count, a claim with no number or
    name to find its span by is supported by the sentence that means most what it says, and among several
    spans holding its numbers and names the one nearest in meaning is cited. Without it, only a claim with
    numbers or names can be supported, by the shortest span that holds them. `meant`, when given, is what is
    judged by meaning instead of the claim: the whole sentence a clause was cut from ("On December 13" means
    little alone; its figures are still the clause's own)."""
    meant = meant or claim
    if meaning is not None:  # a short claim ("It is free.") means little alone: the passage is judged with the question
        sims = meaning(f"{question} {meant}".strip(), [p.chunk.text for p in passages])
        bar = max(PASSAGE_FLOOR, max(sims, default=0.0) - PASSAGE_MARGIN)
        passages = [p for p, sim in sorted(zip(passages, sims), key=lambda t: -t[1]) if sim >= bar]
    windows = [(p, s, e) for p in passages for s, e in source_windows(p.chunk.text)]
    marks = [anchored(claim, p.chunk.text[s:e], question) for p, s, e in windows]
    if any(marks):
        found = [w for w, ok in zip(windows, marks) if ok]
        threshold = ANCHORED_THRESHOLD if meaning is not None else -1.0
    elif meaning is None or any(m is False for m in marks):  # no meaning to go by, or anchors not found
        return None
    else:
        found = [w for w, m in zip(windows, marks) if m is None and w[2] - w[1] <= 200]
        threshold = MEANING_THRESHOLD
    found = sorted(found, key=lambda w: w[2] - w[1])[:_MEANING_WINDOWS]
    if not found:
        return None
    scores = meaning(meant, [p.chunk.text[s:e] for p, s, e in found]) if meaning is not None else [1.0] * len(found)
    score, (p, s, e) = max(zip(scores, found), key=lambda t: t[0])
    if score < threshold:
        return None
    return max(score, 0.5), p.rank, p.chunk.start + s, p.chunk.start + e



__all__ = ["ANCHORED_THRESHOLD", "MEANING_THRESHOLD", "Meaning", "anchored", "english_span", "pinyin_names", "sounds_in", "values"]
