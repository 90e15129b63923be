"""Answers and passages cut into what gets checked: claims (sentences with the [n] they cite) and clauses."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A citation marker [n], also a malformed one such as [-1] (taken out of the text; it cites no passage).
MARKER = re.compile(r"[\[【]\s*(-?\d+(?:\s*[,，、]\s*-?\d+)*)\s*[\]】]")
_CLAIM_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+|\n+")
# A marker with the spaces before it ("yuan [1]."), and what one cut off by the token limit leaves at the end
# of an answer ("… is [1] [2] [").
_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern)
_CUT_MARKER = re.compile(r"\s*[\[【]\s*-?\d*\s*$")
CONTENT = re.compile(r"[\w\u4e00-\u9fff]")  # a character that carries content (not punctuation or space)
# Talk about the sources, which states no fact and is no part of a claim: "根据资料[1]和[2]，" at the start (its
# markers already taken out), "资料中提到的" inside ("吴京是资料中提到的……演员"). Examples in tests/test_rules.py.
SOURCE_TALK = re.compile(r"^(?:根据|据|从)(?:以上|上述)?资料(?:和|与|及|、|中)*(?:显示|所述|可知|来看)?[，,:：]\s*"
                         r"|资料中(?:提到|所说|所述|给出)的")


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without its [n] markers
    cited: tuple[int, ...]


def split_claims(answer: str) -> list[Claim]:
    """Sentences of the answer with the passage numbers each one cites.

    Example:
        >>> split_claims("金额约3亿元[1]。共18家[2][3]。")
        [Claim(text='金额约3亿元。', cited=(1,)), Claim(text='共18家。', cited=(2, 3))]
    """
    claims = []
    for raw in _CLAIM_END.split(answer):
        if not raw or not raw.strip():
            continue
        cited = tuple(int(n) for m in MARKER.finditer(raw) for n in re.split(r"[,，、]", m.group(1))
                      if n.strip() and not n.strip().startswith("-"))
        # the markers out with the spaces before them ("yuan [1] [2] [3]." is "yuan.")
        bare = re.sub(r"\s{2,}", " ", _CUT_MARKER.sub("", _SPACED_MARKER.sub("", raw)))
        text = SOURCE_TALK.sub("", bare.strip()).strip()
        if len(CONTENT.findall(text)) >= 2:
            claims.append(Claim(text, tuple(dict.fromkeys(cited))))
        elif claims and cited:  # a marker left alone after the sentence end belongs to the sentence before
            prev = claims[-1]
            claims[-1] = Claim(prev.text, tuple(dict.fromkeys(prev.cited + cited)))
    return claims


# Where a claim's clauses part when each is checked on its own: at a comma or semicolon, not at the comma that
# groups a figure ("3,499"), and not at a colon ("重庆：2.6%" is one clause).
_CLAIM_CLAUSE = re.compile(r"(?<!\d)[,，]|[,，](?!\d)|[；;]")


def claim_clauses(claim: str) -> list[str]:
    """The clauses of one claim, trimmed of spaces and its end mark: "甲市增长6.2%，乙市增长4.9%。" ->
    ["甲市增长6.2%", "乙市增长4.9%"]; "起售价为RMB 3,499。" is one."""
    return [c.strip(" 。.") for c in _CLAIM_CLAUSE.split(claim)]



__all__ = ["CONTENT", "MARKER", "SOURCE_TALK", "Claim", "claim_clauses", "split_claims"]
