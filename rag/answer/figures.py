"""Chinese figures said in English: "约3亿元" is "about 300 million yuan", "不到70公里" "less than 70 km".

Chinese counts large amounts in 万 (10^4) and 亿 (10^8); English in thousands, millions and billions, so a
figure read digit for digit is wrong by a factor of ten or more ("3亿元" is not "3 billion yuan"). A small model
converts them unreliably and drops the words around them (不到 "less than" became "approximately"). For an English
question the prompt shows each such figure of the passages in English instead (`annotate`), and the model
is asked to give figures as the passages do.
"""
from __future__ import annotations

import re

_MAGNITUDE = {"万亿": 1e12, "万": 1e4, "亿": 1e8, "千": 1e3, "百": 1e2, "thousand": 1e3, "million": 1e6,
              "billion": 1e9, "bn": 1e9, "trillion": 1e12}
_VALUE = re.compile(r"(?<![A-Za-z\d.])(\d+(?:,\d{3})*(?:\.\d+)?)\s*(?:(thousand|million|billion|trillion|bn)(?![A-Za-z])|"
                    r"(万亿|万|亿|千|百))?", re.I)
_QUALIFIER_BEFORE = {"不到": "less than", "不足": "less than", "少于": "less than", "低于": "less than",
                     "约": "about", "大约": "about", "接近": "nearly", "将近": "nearly", "近": "nearly",
                     "超过": "over", "逾": "over", "多于": "more than", "高于": "over", "至少": "at least"}
_QUALIFIER_AFTER = {"多": "more than", "余": "over", "以上": "over", "左右": "about", "以下": "up to"}
_UNITS = {"元": "yuan", "美元": "US dollars", "公里": "km", "千米": "km", "米": "m", "吨": "tonnes",
          "平方米": "square metres", "亩": "mu", "人次": "visits", "人": "people", "户": "households",
          "辆": "vehicles", "台": "units", "家": "", "个": "", "项": "", "支": "", "篇": "", "次": "times"}
_BEFORE = "|".join(sorted(_QUALIFIER_BEFORE, key=len, reverse=True))
_SCALE = "万亿|亿|万|千"  # read by value in _MAGNITUDE
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))
FIGURE = re.compile(rf"(?P<before>{_BEFORE})?(?P<number>\d+(?:,\d{{3}})*(?:\.\d+)?)(?P<scale>{_SCALE})?"
                    rf"(?P<after1>多|余)?(?P<unit>{_UNIT})?(?P<after2>以上|左右|以下)?")


def values(text: str) -> set[float]:
    """Numeric values written in `text`: "3亿" -> 3e8, "6800万" -> 6.8e7, "300 million" -> 3e8. Digits inside a
    code ("B00001", "MU5735") are no value."""
    out = set()
    for m in _VALUE.finditer(text):
        unit = (m.group(2) or m.group(3) or "").lower()
        out.add(round(float(m.group(1).replace(",", "")) * _MAGNITUDE.get(unit, 1), 6))
    return out


def _number(value: float) -> str:
    """300000000 -> "300 million", 406346000000 -> "406.346 billion", 68000 -> "68,000"."""
    for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if value >= size:
            return f"{_plain(value / size)} {word}"
    return f"{value:,.6f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


def _plain(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def in_english(figure: str) -> str | None:
    """The English of a Chinese figure, or None when `figure` is not one.

    >>> in_english("约3亿元")
    'about 300 million yuan'
    >>> in_english("不到70公里")
    'less than 70 km'
    """
    m = FIGURE.fullmatch(figure.strip())
    if m is None:
        return None
    value = float(m["number"].replace(",", "")) * _MAGNITUDE.get(m["scale"] or "", 1)
    words = [_qualifier(m), _number(value), _UNITS.get(m["unit"] or "", "")]
    return " ".join(w for w in words if w)


def _qualifier(m: re.Match) -> str:
    """The English of a figure's word of degree ("不到": "less than", "多": "more than"), or ""."""
    return (_QUALIFIER_BEFORE.get(m["before"] or "") or _QUALIFIER_AFTER.get(m["after1"] or "")
            or _QUALIFIER_AFTER.get(m["after2"] or "") or "")


# Words of degree by what they say of the figure: roughly it, below it, above it.
_DEGREE = {"less than": "below", "up to": "below", "about": "about", "nearly": "about", "over": "above",
           "more than": "above", "at least": "above"}
_ENGLISH_DEGREE = re.compile(
    r"\b(?P<word>about|approximately|around|roughly|nearly|almost|close to|less than|under|fewer than|below|"
    r"up to|over|more than|above|at least|upwards of)\s+(?P<figure>\d[\d,]*(?:\.\d+)?(?:\s*(?:thousand|million|"
    r"billion|trillion))?)", re.I)
_ENGLISH_CLASS = {"approximately": "about", "around": "about", "roughly": "about", "almost": "about",
                  "close to": "about", "under": "below", "fewer than": "below", "upwards of": "above"}


def _value(figure: str) -> float:
    found = values(figure.replace(",", ""))
    return max(found) if found else -1.0


def _chinese_degrees(text: str) -> dict[float, str | None]:
    out: dict[float, str | None] = {}
    for m in FIGURE.finditer(text):
        out[_value(m["number"] + (m["scale"] or ""))] = _DEGREE.get(_qualifier(m))
    return out


def degree_conflict(claim: str, span: str) -> bool:
    """Whether an English claim says a figure with another degree than its Chinese span: "approximately 70 km"
    over "不到70公里" (less than 70), or "70 km" bare over it. "About" against a bare figure is no conflict."""
    said = {_value(m["figure"]): _DEGREE.get(m["word"].lower()) or _ENGLISH_CLASS.get(m["word"].lower())
            for m in _ENGLISH_DEGREE.finditer(claim)}
    given = values(claim.replace(",", ""))  # every figure of the claim, said with a degree or bare
    for value, degree in _chinese_degrees(span).items():
        told = said.get(value)
        if degree in ("below", "above") and told != degree:
            if value in given:
                return True
        elif told in ("below", "above") and told != degree:
            return True
    return False


def annotate(text: str) -> str:
    """`text` with each figure that has a scale (万, 亿), or a unit and a word of degree (不到, 约, 超过 …), in
    English instead: "总金额约3亿元。" -> "总金额 about 300 million yuan 。". A plain figure ("16家") is left alone: it
    reads the same in English. (Written beside the Chinese, "1000亿元（100 billion yuan）", the model gave both:
    "1000 billion yuan (100 billion yuan)".) Only the prompt is changed: claims are checked against the
    passage as written, by value."""
    def note(m: re.Match) -> str:
        # a word of degree needs a unit too: "近3年" is "the last 3 years", not "nearly 3"
        if not (m["scale"] or (m["unit"] and (m["before"] or m["after1"] or m["after2"]))):
            return m.group(0)
        return f" {in_english(m.group(0))} "

    return FIGURE.sub(note, text)


__all__ = ["FIGURE", "annotate", "degree_conflict", "in_english", "values"]
