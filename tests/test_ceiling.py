"""`rag bench ceiling`: the oracle prompt of the answer's own sentences, and the figures over its records.
Texts are made up (甲州, 乙县), not from any question set."""
from __future__ import annotations

import pytest
from fakes import ScriptedGenerator

from rag.answer.prompt import Prompts
from rag.bench.ceiling import (
    answer_sentences,
    ask_both,
    ceiling_rows,
    ceiling_table,
    slim,
)
from rag.types import Chunk, Passage

FIRST = "甲州今年举办了灯会。灯会共展出花灯三百组。门票价格为每人二十元。"
SECOND = "乙县也有灯会。乙县灯会免费开放。展期为一个月。"


def passage(rank: int, text: str) -> Passage:
    return Passage(Chunk(f"c{rank}", f"a{rank}", text, 0, len(text), title=f"报道{rank}"), rank, 1.0 / rank)


@pytest.mark.parametrize("answers, match, shown", [
    # the sentence holding the answer, with the one before it, and nothing else
    (["三百组"], "any", ["甲州今年举办了灯会。灯会共展出花灯三百组。"]),
    # the first sentence of the text: nothing before it
    (["甲州"], "any", ["甲州今年举办了灯会。"]),
    # one of several alternatives is enough, and the first passage holding one is taken
    (["二十元", "免费"], "any", ["灯会共展出花灯三百组。门票价格为每人二十元。"]),
    # every answer of an "all" item, from whichever passage holds it, each passage renumbered
    (["二十元", "免费"], "all", ["灯会共展出花灯三百组。门票价格为每人二十元。", "乙县也有灯会。乙县灯会免费开放。"]),
    # case and spaces ignored, as rag eval matches
    (["乙县 灯会免费"], "any", ["乙县也有灯会。乙县灯会免费开放。"]),
])
def test_answer_sentences_keeps_only_the_answers_sentences(answers, match, shown):
    cut = answer_sentences({"answers": answers, "match": match}, [passage(1, FIRST), passage(2, SECOND)])
    assert [p.chunk.text for p in cut] == shown
    assert [p.rank for p in cut] == list(range(1, len(shown) + 1))
    assert all(p.chunk.end == len(p.chunk.text) for p in cut)


@pytest.mark.parametrize("answers, match", [
    (["五百组"], "any"),  # in no passage
    (["二十元", "五百组"], "all"),  # one of two in no passage
    ([], "any"),  # nothing to find
])
def test_answer_sentences_none_when_the_passages_lack_the_answer(answers, match):
    assert answer_sentences({"answers": answers, "match": match}, [passage(1, FIRST), passage(2, SECOND)]) is None


def test_ask_both_asks_the_product_prompt_then_the_answers_sentences():
    gen = ScriptedGenerator(["展出花灯五百组[1]。", "展出花灯三百组[1]。"])
    item = {"id": "x1", "type": "factoid", "question": "甲州灯会展出了多少组花灯？", "answers": ["三百组"],
            "match": "any"}
    record = ask_both(gen, Prompts(300, 0), item, [passage(1, FIRST), passage(2, SECOND)], 64)
    assert record["product"]["right"] is False and record["answer_sentences"]["right"] is True
    assert "门票" in gen.prompts[0][1]["content"]  # the product prompt shows more than the answer
    oracle = gen.prompts[1][1]["content"]
    assert "三百组" in oracle and "乙县" not in oracle and "门票" not in oracle
    assert "raw" not in slim(record)["product"] and slim(record)["id"] == "x1"


def test_ask_both_skips_the_oracle_when_the_passages_lack_the_answer():
    gen = ScriptedGenerator("资料中没有找到这个问题的答案。")
    item = {"id": "x2", "type": "factoid", "question": "丙市灯会门票多少钱？", "answers": ["三十元"], "match": "any"}
    record = ask_both(gen, Prompts(300, 0), item, [passage(1, FIRST)], 64)
    assert "answer_sentences" not in record and not record["held"] and len(gen.prompts) == 1


def test_ask_both_product_only_still_says_whether_the_answer_was_held():
    gen = ScriptedGenerator("展出花灯三百组[1]。")
    item = {"id": "x3", "type": "factoid", "question": "甲州灯会展出了多少组花灯？", "answers": ["三百组"],
            "match": "any"}
    record = ask_both(gen, Prompts(300, 0), item, [passage(1, FIRST)], 64, oracle=False)
    assert record["held"] and "answer_sentences" not in record and len(gen.prompts) == 1
    row = ceiling_rows("dev", [record])[0]
    assert (row["answer_in_passages"], row["product_right"], row["sentences_right"]) == (1, 1, None)
    assert "| dev | 1 | 1 | 1 | 1 |  |" in ceiling_table({"rows": [row]})


def test_ceiling_rows_split_by_the_suites_rows_and_count_where_the_answer_was_held():
    def rec(kind: str, product: bool, oracle: bool | None) -> dict:
        r = {"type": kind, "held": oracle is not None, "product": {"right": product, "filled": 200, "first_ms": 3000}}
        if oracle is not None:
            r["answer_sentences"] = {"right": oracle, "filled": 80, "first_ms": 1500}
        return r

    records = [rec("noise", True, True), rec("noise", False, True), rec("noise", True, None), rec("pair", False, False)]
    rows = {r["set"]: r for r in ceiling_rows("rgb", records, {"noise": "rgb noise", "pair": "rgb pairs"})}
    noise = rows["rgb noise"]
    assert (noise["questions"], noise["answer_in_passages"], noise["product_right"]) == (3, 2, 2)
    assert (noise["product_right_where_held"], noise["sentences_right"]) == (1, 2)
    assert noise["sentences_filled_p50"] == 80 and noise["product_first_ms_p50"] == 3000
    assert rows["rgb pairs"]["sentences_right"] == 0
    table = ceiling_table({"rows": list(rows.values())})
    assert "| rgb noise | 3 | 2 | 2 | 1 | 2 | 200 / 80 | 3.0 s / 1.5 s |" in table
