"""Chinese figures said in English (rag/answer/figures.py): 万 and 亿 by value, words of degree kept."""
from __future__ import annotations

import pytest

from rag.answer.english import values
from rag.answer.figures import annotate, degree_conflict, in_english
from rag.answer.prompt import build_messages


@pytest.mark.parametrize("figure, english", [
    ("3亿元", "300 million yuan"),
    ("约3亿元", "about 300 million yuan"),
    ("4063.46亿元", "406.346 billion yuan"),
    ("1.2万亿元", "1.2 trillion yuan"),
    ("6800万元", "68 million yuan"),
    ("1.5万吨", "15,000 tonnes"),
    ("2.74亿人次", "274 million visits"),
    ("不到70公里", "less than 70 km"),
    ("不足1万人", "less than 10,000 people"),
    ("近500家", "nearly 500"),
    ("超过50亿元", "over 5 billion yuan"),
    ("50亿元以上", "over 5 billion yuan"),
    ("500多家", "more than 500"),
    ("300余家", "over 300"),
    ("3,499元", "3,499 yuan"),
    ("16家", "16"),
    ("0.5万元", "5,000 yuan"),
])
def test_a_chinese_figure_is_said_in_english_by_value(figure: str, english: str) -> None:
    assert in_english(figure) == english
    # and the checker reads the English as the same value as the Chinese
    assert values(english.replace(",", "")) & values(figure.replace(",", ""))


@pytest.mark.parametrize("text", ["6分钟", "二〇二六年", "第三届", "", "约"])
def test_what_is_no_figure_has_no_english(text: str) -> None:
    assert in_english(text) is None


@pytest.mark.parametrize("text, shown", [
    ("两地相距不到70公里。", "两地相距 less than 70 km 。"),
    ("年产值达1000亿元,企业近500家。", "年产值达 100 billion yuan ,企业 nearly 500 。"),
    ("当天,16家单位签约。", "当天,16家单位签约。"),  # a plain count reads the same in English
    ("近3年来,约有一半。", "近3年来,约有一半。"),  # "近3年" is the last three years, not "nearly 3"
    ("2026年4月2日开幕", "2026年4月2日开幕"),
])
def test_the_prompt_passages_give_their_large_or_qualified_figures_in_english(text: str, shown: str) -> None:
    assert annotate(text) == shown


def test_only_an_english_questions_prompt_carries_them(fake_pipeline) -> None:
    pipe = fake_pipeline("x")
    passages = pipe.retrieve("对接会签约采购金额")
    english = build_messages("How much was signed at the matchmaking meeting?", passages)[1]["content"]
    chinese = build_messages("对接会签约采购金额是多少？", passages)[1]["content"]
    assert "总签约采购金额 about 300 million yuan 。" in english and "约3亿元" not in english
    assert "总签约采购金额约3亿元。" in chinese and "million" not in chinese


SPAN = "两地相距不到70公里。全省有企业近500家，年产值超过1000亿元，签约金额约3亿元，另有16家单位参会。"


@pytest.mark.parametrize("claim, conflict", [
    ("They are approximately 70 km apart.", True),  # 不到70 is less than 70, not about 70
    ("They are 70 km apart.", True),  # the "less than" left out
    ("They are less than 70 km apart.", False),
    ("They are under 70 km apart.", False),
    ("There are nearly 500 companies.", False),
    ("There are about 500 companies.", False),
    ("There are over 500 companies.", True),
    ("Output is over 100 billion yuan.", False),
    ("Output is more than 100 billion yuan.", False),
    ("Output is 100 billion yuan.", True),
    ("About 300 million yuan was signed.", False),
    ("300 million yuan was signed.", False),  # "about" may be left out of an amount
    ("Over 300 million yuan was signed.", True),
    ("16 units attended.", False),
    ("More than 16 units attended.", True),  # a bare 16 said to be more
])
def test_an_english_figure_keeps_the_degree_its_chinese_span_gives_it(claim: str, conflict: bool) -> None:
    assert degree_conflict(claim, SPAN) is conflict


def test_a_claim_that_changes_a_figures_degree_finds_no_span() -> None:
    from rag.answer.english import anchored

    span = "益阳与湘江新区地缘相近，相距不到70公里。"
    assert anchored("Yiyang is approximately 70 km from the new area.", span) is False
    assert anchored("Yiyang is less than 70 km from the new area.", span) is True
