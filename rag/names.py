"""Names in Chinese text (people, places, organisations) found with jieba's part-of-speech tags.

Used where a name must match exactly: a claim naming a place or person its source span does not name is
not supported, and a follow-up "那株洲呢？" swaps one place for another.
"""
from __future__ import annotations

import functools
import re

NAME_TAGS = {"ns", "nr", "nt", "nz", "nrt", "nrfg"}  # place, person, organisation, other proper noun
_LATIN_NAME = re.compile(r"\b[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)*\b")

# The rules below are data: each entry has a positive and a negative example in tests/test_names.py.
# A place is a word jieba tags as one (ns), or a word of three or more characters ending in a place suffix
# ("岳麓区", which jieba tags as a person). Common words jieba's dictionary tags ns are not places.
PLACE_SUFFIXES = ("省", "市", "县", "区", "镇", "乡", "村")
NOT_PLACES = frozenset({"上市", "上门", "城市", "开区", "中心城区"})
# An organisation is a word tagged nt, a word of three or more characters ending in an organisation suffix
# ("教育局", "服务中心"), or a head noun ("银行", "总局", "委") after names or nouns ("长沙银行", "市场监管总局",
# "湖南省发展改革委"); "以人民为中心" is none (为 is no name), and words that merely end like one are not.
ORG_SUFFIXES = ("厅", "局", "委员会", "委", "部门", "办公室", "政府", "中心", "公司", "集团", "银行", "协会",
                "大学", "学院", "医院", "研究院", "研究所", "报社")
ORG_HEADS = frozenset({"总局", "公司", "集团", "银行", "大学", "学院", "医院", "中心", "政府", "协会", "委员会",
                       "办公室", "研究院", "研究所", "部门", "委", "局", "厅"})
NOT_ORGS = frozenset({"格局", "开局", "布局", "结局", "大局", "全局", "变局", "新局", "上市公司"})
_NOUNISH = {"n", "ns", "nr", "nt", "nz", "vn", "j", "an", "nrt", "nrfg", "eng"}


@functools.lru_cache(maxsize=1024)
def tagged(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's (word, part-of-speech tag) for every word of `text`, in order (cached: answers are asked
    about many times)."""
    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(60)
    return tuple((w.word, w.flag) for w in pseg.cut(text))


def entities(text: str) -> list[tuple[str, str]]:
    """(word, tag) for every name of two or more characters, in order."""
    return [(w, tag) for w, tag in tagged(text) if tag in NAME_TAGS and len(w) >= 2]


def places(text: str) -> list[str]:
    """The place names in `text`: "长沙市", "北京", "岳麓区"; not "上市", "社区", "城市"."""
    return [w for w, tag in tagged(text) if w not in NOT_PLACES and len(w) >= 2
            and (tag == "ns" or len(w) >= 3 and w.endswith(PLACE_SUFFIXES))]


def organisations(text: str) -> list[str]:
    """The organisations named in `text`: "国家统计局", "长沙市教育局", "长沙银行", "市场监管总局"; not "新发展
    格局", "良好开局", "以人民为中心", "上市公司"."""
    words = tagged(text)
    found = []
    for i, (w, tag) in enumerate(words):
        if w in NOT_ORGS or w[-2:] in NOT_ORGS:
            continue
        if w in ORG_HEADS:  # the name is the nouns before it: "湖南省/发展/改革/委"
            j = i
            while j > 0 and i - j < 3 and words[j - 1][1] in _NOUNISH:
                j -= 1
            if j < i:
                found.append("".join(x for x, _ in words[j:i + 1]))
        elif tag == "nt" or len(w) >= 3 and w.endswith(ORG_SUFFIXES):
            found.append(w)
    return found


def names(text: str) -> set[str]:
    """The Chinese names in `text` (Latin capitalised words are left out: they translate, not match)."""
    return {word for word, _ in entities(text) if not _LATIN_NAME.fullmatch(word)}


__all__ = ["NAME_TAGS", "entities", "names", "organisations", "places", "tagged"]
