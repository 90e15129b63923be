"""What kind of fact a question asks for, and whether an answer gives one.

A small model that finds a passage on the right topic but without the asked figure tends to answer with
what the passage does say: "收益按约定比例分配" to "按几比几分配？", "覆盖率还有提升空间" to "覆盖率是多少？".
Every word of that is supported, yet it does not answer the question. When each part of a question asks
for a number, a ratio, a date, a place or an organisation and the answer holds none of the kind asked, the
answer is a refusal.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer.claims import MARKER, claim_clauses
from rag.names import organisations, places

_CN_DIGITS = "一二两三四五六七八九十百千万亿半几"
_CLASSIFIERS = "个家位道项名支条次所座台辆款种批场届元人年天岁倍成户亩吨件份期轮处篇本部只架艘分秒米层周小"

Gives = Callable[[str, str], bool]  # (answer, question) -> whether the answer gives a fact of the kind


def _written(pattern: str) -> Gives:
    """Given by wording the pattern matches, other than wording repeated from the question."""
    given = re.compile(pattern, re.I)
    return lambda answer, question: any(m.group(0) not in question for m in given.finditer(answer))


def _named(find: Callable[[str], list[str]]) -> Gives:
    """Given by a name `find` finds in the answer (see `names.places`, `names.organisations`) that the
    question does not already hold."""
    return lambda answer, question: any(w not in question for w in find(answer))


# (kind, what in a question asks for it, what in an answer gives it)
KINDS: tuple[tuple[str, re.Pattern, Gives], ...] = (
    ("ratio",
     re.compile(r"几比几|什么比例|多少比例|比例(?:是|为)?多少|占比(?:是|为)?多少|几成|\bwhat (?:ratio|share|proportion)\b", re.I),
     _written(r"\d+(?:\.\d+)?\s*[:：比]\s*\d+|\d+(?:\.\d+)?\s*%|百分之|[" + _CN_DIGITS + r"\d]+成|[一二三四五六七八九十]比[一二三四五六七八九十]|percent")),
    ("rate",
     re.compile(r"(?:率|比重|比例|占比)(?:是|为|有|达到?|达到了|能达到)?多少|what (?:\S+ )*(?:rate|percentage)\b", re.I),
     _written(r"\d+(?:\.\d+)?\s*%|百分之|\d+(?:\.\d+)?\s*个百分点|[" + _CN_DIGITS + r"]成|percent")),
    ("date",
     re.compile(r"几月几[号日]|哪一?天|哪一?年|哪个月|几月份?|几号|什么时候|什么时间|何时|\bwhen\b|what (?:date|day|year|time)\b", re.I),
     _written(r"\d{1,4}\s*[年月日号]|[一二三四五六七八九十〇零]+[年月日号]|(?<![\d.])(?:1[89]|20)\d\d(?![\d.%万亿千百元])|今年|去年|明年|前年|昨天|今天|当天|"
              r"周[一二三四五六日末]|星期|春节|清明|元旦|国庆|\b(?:January|February|March|April|May|June|July|"
              r"August|September|October|November|December|19\d\d|20\d\d)\b")),
    ("quantity",
     re.compile(r"多少|(?<![哪比])几[" + _CLASSIFIERS + r"多]|多大|多长|多高|多久|\bhow (?:many|much|long)\b", re.I),
     _written(r"\d|[" + _CN_DIGITS + r"]+[" + _CLASSIFIERS + r"]|\b(?:one|two|three|four|five|six|seven|eight|"
              r"nine|ten|twelve|twenty|hundred|thousand|million|billion)\b")),
    # "哪里" is left out: "转移到安全区域" answers it
    ("place", re.compile(r"哪(?:个|座)(?:城市|市|省|县|区|镇)"), _named(places)),
    # "由谁" is left out: it asks for a person as often as for an organisation
    ("organisation", re.compile(r"哪个(?:部门|单位|机构)|哪家(?:单位|机构|公司|企业|银行)|什么(?:部门|单位|机构)"),
     _named(organisations)),
)

_PART_END = re.compile(r"[？?；;]+|(?<=[。!！])")


_MARKUP = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^<>]*>", re.S | re.I)


def is_english(text: str) -> bool:
    """A question with more Latin letters than Chinese characters is answered in English. Markup pasted
    with the question ("<img src=x onerror=…>") is not its words and does not count."""
    words = _MARKUP.sub(" ", text)
    latin = len(re.findall(r"[A-Za-z]", words))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", words))
    return latin > cjk


def asked_kinds(part: str) -> list[str]:
    """The kinds of fact one question part asks for ("按几比几分配" -> ["ratio"])."""
    return [kind for kind, asks, _ in KINDS if asks.search(part)]


def gives(kind: str, answer: str, question: str = "") -> bool:
    """Whether `answer` gives a fact of `kind`; what it merely repeats from the question does not count
    (the "端午" of "端午龙舟赛" is not the date asked for, the "湖南" of "湖南哪个城市" not the city)."""
    return any(k == kind and given(answer, question) for k, _, given in KINDS)


_CN_NUMERALS = "零一二三四五六七八九"


def _chinese_number(n: int) -> str:
    """1-99 in Chinese numerals: 6 -> 六, 16 -> 十六, 24 -> 二十四."""
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else _CN_NUMERALS[tens]) + "十" if tens else "") + (_CN_NUMERALS[ones] if ones or not tens else "")


def _number_of(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    for n in range(1, 100):
        if _chinese_number(n) == text:
            return n
    return None


def _year_scope(m: re.Match) -> str:
    """A year is named as such, or as the end of a season ("2021-22赛季" for 2022)."""
    y = int(m.group(1))
    return rf"(?<!\d){y}(?!\d)|(?<!\d){y - 1}\s*[-–—/~至]\s*{y % 100:02d}(?!\d)"


def _ordinal_scope(m: re.Match) -> str:
    """"第六届" is also written "第6届"."""
    n = _number_of(m.group(1))
    forms = {m.group(1)} | ({str(n), _chinese_number(n)} if n else set())
    return "第(?:" + "|".join(sorted(map(re.escape, forms))) + ")" + re.escape(m.group(2))


_HOLIDAYS = (("春节", "除夕", "农历新年"), ("国庆", "十一黄金周"), ("五一", "劳动节"), ("端午",), ("中秋",), ("元旦",),
             ("清明",), ("元宵",))


def _holiday_scope(m: re.Match) -> str:
    names = next(group for group in _HOLIDAYS if m.group(0) in group)
    return "|".join(names)


# What a question is scoped to, and how a source must name it: a passage about another year, another
# edition of an event or another holiday does not answer it ("2022年的冠军" is not last season's champion).
SCOPES: tuple[tuple[str, re.Pattern, Callable[[re.Match], str]], ...] = (
    ("year", re.compile(r"(?<![\d.])((?:19|20)\d\d)(?![\d.%万亿千百元])"), _year_scope),
    ("edition", re.compile(r"第([0-9]{1,2}|[一二三四五六七八九十]{1,3})(届|次|期|季)"), _ordinal_scope),
    ("holiday", re.compile("|".join(n for group in _HOLIDAYS for n in group)), _holiday_scope),
)


def scopes(question: str) -> tuple[re.Pattern, ...]:
    """What a source must name to be about the year, edition or holiday the question asks of."""
    found = dict.fromkeys(build(m) for _, pattern, build in SCOPES for m in pattern.finditer(question))
    return tuple(re.compile(p) for p in found)


def in_scope(question: Question | str, source: str) -> bool:
    """Whether `source` (an article's title, date and text) names every year, edition and holiday that the
    question, or one of its parts, is scoped to: for "2019年和2020年的冠军" a page on 2019 will do."""
    q = question_of(question)
    return not q.scopes or any(all(p.search(source) for p in part.scopes or q.scopes) for part in q.parts)


@dataclass(frozen=True)
class Part:
    text: str
    kinds: tuple[str, ...]  # the kinds of fact it asks for (see KINDS): () for "谁拍的", "哪些领域" …
    scopes: tuple[re.Pattern, ...]  # the year, edition or holiday it is about (see SCOPES)


@dataclass(frozen=True)
class Question:
    """A question as the answer steps read it, analysed once (`analyse`)."""

    text: str
    english: bool
    parts: tuple[Part, ...]
    scopes: tuple[re.Pattern, ...]


@functools.lru_cache(maxsize=512)
def analyse(question: str) -> Question:
    """The question's language, its parts with the kinds of fact each asks for, and its scope. The parts are its
    sentences ("…是哪天？…是谁拍的？"), and of a sentence that asks the same of two things joined by 和/及
    ("株洲和湘潭的常住人口？", "2019年和2020年的冠军"), one part for each."""
    sentences = [p.strip() for p in _PART_END.split(question) if p and p.strip()]
    parts = tuple(Part(q, tuple(asked_kinds(q)), scopes(q)) for s in sentences for q in coordinated(s))
    return Question(question, is_english(question), parts, scopes(question))


def question_of(question: Question | str) -> Question:
    """The analysed question: the one the answer path passes along, or one analysed from the text a caller
    outside it gives (a test, a benchmark)."""
    return question if isinstance(question, Question) else analyse(question)


_COORDINATORS = {"和", "及", "以及"}  # not 与: it joins the words of many names ("速度与激情")
_NOMINAL = {"n", "vn", "an", "ns", "nr", "nt", "nz", "j", "eng", "nrt", "nrfg", "t", "mq"}  # things that can be asked of


def coordinated(part: str) -> list[str]:
    """`part` as one question per thing it joins: "2019年和2020年的产量" -> "2019年的产量", "2020年的产量". The
    two things are the one to three words on either side of the first 和/及 that are alike: the same tags,
    ending in a noun or a date, and (for more than one word) not all of one tag, which says nothing of where a
    thing begins. "已经和新区的企业形成…" (和 after an adverb) and "签约和采购" (two verbs) stay whole."""
    from rag.names import tagged

    words = _dates_joined(list(tagged(part)))
    for i in range(1, len(words) - 1):
        before = "".join(w for w, _ in words[:i])
        if words[i][0] not in _COORDINATORS or before.count("《") > before.count("》"):
            continue
        for k in (3, 2, 1):
            x, y = words[i - k:i] if i >= k else [], words[i + 1:i + 1 + k]
            tags = [t for _, t in x]
            if len(x) == k == len(y) and tags == [t for _, t in y] and (tags[-1] in _NOMINAL or tags[-1] == "date") \
                    and (k == 1 or len(set(tags)) > 1) and all(w not in _COORDINATORS for w, _ in x + y):
                head = "".join(w for w, _ in words[:i - k])
                tail = "".join(w for w, _ in words[i + 1 + k:] if w != "分别")  # "分别" spoke of the two together
                return [head + "".join(w for w, _ in x) + tail, head + "".join(w for w, _ in y) + tail]
    return [part]


def _dates_joined(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """jieba's "2022", "年" as one word "2022年" tagged "date", and a bare year too."""
    out: list[tuple[str, str]] = []
    for w, tag in words:
        if w in ("年", "月", "日", "号") and out and re.fullmatch(r"\d{1,4}|[一二三四五六七八九十〇零]+", out[-1][0]):
            out[-1] = (out[-1][0] + w, "date")
        elif re.fullmatch(r"(?:19|20)\d\d", w):
            out.append((w, "date"))
        else:
            out.append((w, tag))
    return out


def answers_asked(question: Question | str, answer: str) -> bool:
    """False only when every part of the question asks for a number, ratio, date, place or organisation and
    the answer gives none of the kinds asked; a question with any other kind of part ("谁拍的", "哪些领域")
    is not judged."""
    q = question_of(question)
    parts = [p.kinds for p in q.parts]
    if not parts or not all(parts):
        return True
    answer = MARKER.sub("", answer)  # a citation's [2] is not a number of the answer
    return any(gives(kind, answer, q.text) for kinds in parts for kind in kinds)


def unanswered_parts(question: Question | str, claims: list[str]) -> list[str]:
    """The parts of a question of several that no claim answers: no claim holds a third of the part's content
    words (see `retrieve.content_words`) and more of them than of another part's, or the part asks for a kind
    of fact and the claims holding most of its words give none. "开幕式由谁主持？" is unanswered by
    "展览是5月8日开幕的". A one-part question has none."""
    from rag.retrieve import content_words

    q = question_of(question)
    analysed = q.parts
    parts = [p.text for p in analysed]
    if len(parts) < 2:
        return []
    # one sentence may answer two parts ("有茶企近300家，综合产值达200亿元"): judged clause by clause
    # ("全年接待游客：3200万人次" is one: the colon joins a label to its value)
    claims = [c for claim in claims for c in claim_clauses(MARKER.sub("", claim).lower()) if c]
    words_of = [content_words(part) for part in parts]
    # share[i][j]: how much of part j's wording claim i holds. A claim speaks to the part it holds most of:
    # "其中民营企业有12家" shares words with "新入驻的企业有多少家" but answers "其中民营企业有几家".
    share = [[sum(w in c for w in words) / len(words) if words else 0.0 for words in words_of] for c in claims]
    left = []
    for j, (part, words) in enumerate(zip(parts, words_of)):
        mine = [i for i, row in enumerate(share) if row[j] >= max(row) and row[j] * 3 >= 1]
        most = max((share[i][j] for i in mine), default=0.0)
        near = [claims[i] for i in mine if share[i][j] == most]  # the claims about it
        kinds = analysed[j].kinds
        if words and not near or near and kinds and not any(gives(k, c, q.text) for k in kinds for c in near):
            left.append(part)
    return left


__all__ = ["KINDS", "SCOPES", "Part", "Question", "analyse", "answers_asked", "asked_kinds", "coordinated", "gives", "in_scope", "is_english", "question_of", "scopes",
           "unanswered_parts"]
