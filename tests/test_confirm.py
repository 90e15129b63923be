"""The confirm step (rag/answer/confirm.py): the model's doubt that the cited sentences state what was asked."""
from __future__ import annotations

import dataclasses

import pytest
from fakes import DoubtingGenerator

from rag.answer.confirm import answered_question, asked_questions, cited_texts, confirm_messages, doubt, doubt_of
from rag.answer.prompt import REFUSAL_ZH
from rag.errors import ConfigError
from rag.settings import Settings, load_settings
from rag.types import Answer, Chunk, Citation, Passage

QUESTION = "对接会签约采购金额是多少？"
REPLY = "总签约采购金额约3亿元[1]。"


@pytest.mark.parametrize("probabilities,expected", [
    ({"是": 0.8, "否": 0.2}, 0.2),
    ({"yes": 0.9, " No": 0.1, "The": 0.5}, 0.1),  # case and spacing of the token do not matter
    ({"不是": 0.3, "是": 0.3}, 0.5),
    ({"好": 1.0, "可以": 0.2}, None),  # neither yes nor no: no doubt to judge by
    ({}, None),
])
def test_doubt_is_the_share_of_no(probabilities: dict, expected: float | None) -> None:
    assert doubt_of(probabilities) == (pytest.approx(expected) if expected is not None else None)


def _answer(text: str, quotes: list[str], passage: str) -> Answer:
    chunk = Chunk("c1", "a1", passage, 0, len(passage), title="t")
    cites = tuple(Citation(1, "a1", "t", "", passage.find(q), passage.find(q) + len(q), q, claim=q) for q in quotes)
    return Answer("q", text, False, cites, (Passage(chunk, 1, 1.0),))


def test_cited_sentences_are_the_quotes_or_come_with_the_sentences_before() -> None:
    passage = "博物馆收到了一批信件。这批资料将在隆平厅展出。门票免费。"
    answer = _answer("资料将在隆平厅展出[1]。", ["这批资料将在隆平厅展出。"], passage)
    assert cited_texts(answer, before=0) == ["这批资料将在隆平厅展出。"]
    assert cited_texts(answer) == ["博物馆收到了一批信件。这批资料将在隆平厅展出。"]
    first = _answer("x", ["博物馆收到了一批信件。"], passage)
    assert cited_texts(first, before=1) == ["博物馆收到了一批信件。"]  # nothing before it


def test_overlapping_spans_of_one_passage_are_one_text_and_a_lost_quote_is_kept() -> None:
    passage = "第一句。第二句。第三句。"
    texts = cited_texts(_answer("x", ["第二句。", "第三句。", "别处的句子。"], passage), before=1)
    assert texts == ["第一句。第二句。第三句。", "别处的句子。"]
    assert cited_texts(_answer("x", ["第二句。第三句。", "第三句。"], passage), before=0) == ["第二句。第三句。"]


def test_the_prompt_holds_the_question_and_the_cited_sentences_not_the_answer() -> None:
    answer = _answer("展览设在隆平厅[1]。", ["这批资料将在隆平厅展出。"], "博物馆收到了一批信件。这批资料将在隆平厅展出。")
    (zh,) = confirm_messages("信件在哪里展出？", answer)
    assert "信件在哪里展出？" in zh["content"] and "这批资料将在隆平厅展出。" in zh["content"]
    assert "展览设在" not in zh["content"] and "只回答“是”或“否”" in zh["content"]
    assert "博物馆收到了一批信件。这批资料" in zh["content"]  # with the sentence before it, which names its subject
    (en,) = confirm_messages("Where are the letters shown?", answer)
    assert 'Answer only "yes" or "no"' in en["content"]


@pytest.mark.parametrize("question,missing,expected", [
    ("展览是哪天开幕的？那幅画是谁画的？", (), "展览是哪天开幕的？那幅画是谁画的？"),
    ("展览是哪天开幕的？那幅画是谁画的？", ("那幅画是谁画的",), "展览是哪天开幕的？"),
    ("省运会湘潭和衡阳代表团人数？", ("省运会衡阳代表团人数",), "省运会湘潭代表团人数？"),
    ("When did it open? Who built it?", ("Who built it",), "When did it open?"),
])
def test_a_part_said_to_be_missing_is_not_asked_about(question: str, missing: tuple, expected: str) -> None:
    answer = dataclasses.replace(_answer("x", ["第一句。"], "第一句。"), missing=missing)
    assert answered_question(question, answer) == expected
    assert expected in confirm_messages(question, answer)[0]["content"]


def _pipe(fake_pipeline, no: float | None, **settings):
    pipe = fake_pipeline(reply=REPLY, **settings)
    pipe.generator = DoubtingGenerator(REPLY, no)
    return pipe


@pytest.mark.parametrize("no,refused", [(0.05, False), (0.25, False), (0.26, True), (0.9, True)])
def test_an_answer_the_model_doubts_beyond_the_threshold_is_a_refusal(fake_pipeline, no: float,
                                                                     refused: bool) -> None:
    pipe = _pipe(fake_pipeline, no)
    answer = pipe.ask(QUESTION)
    assert answer.refused is refused and answer.doubt == pytest.approx(no)
    assert len(pipe.generator.confirms) == 1 and "confirm_ms" in answer.timings
    assert answer.timings["model_calls"] == 2  # the answer and the confirm step's question
    if refused:
        assert answer.text == REFUSAL_ZH and answer.citations == ()
        assert any("3亿元" in c for c in answer.unsupported)  # what was doubted is kept for the record
    else:
        assert "3亿元" in answer.text and answer.citations
    assert "3亿元" in pipe.generator.confirms[0][0]["content"]


def test_the_step_switched_off_asks_nothing(fake_pipeline) -> None:
    steps = ",".join(s for s in Settings().steps.split(",") if s != "confirm")
    pipe = _pipe(fake_pipeline, 0.9, steps=steps)
    answer = pipe.ask(QUESTION)
    assert not answer.refused and answer.doubt is None and pipe.generator.confirms == []


def test_a_refusal_is_not_confirmed(fake_pipeline) -> None:
    pipe = fake_pipeline(reply=REFUSAL_ZH)
    pipe.generator = DoubtingGenerator(REFUSAL_ZH, 0.9)
    assert pipe.ask(QUESTION).refused and pipe.generator.confirms == []


def test_a_backend_without_probabilities_or_a_failing_one_leaves_the_answer_as_checked(fake_pipeline) -> None:
    pipe = _pipe(fake_pipeline, None)  # next_token_probs raises ModelError
    answer = pipe.ask(QUESTION)
    assert not answer.refused and answer.doubt is None and "3亿元" in answer.text
    assert pipe.generator is not None  # a failed confirm is no reason to drop the model
    plain = fake_pipeline(reply=REPLY)  # ScriptedGenerator has no next_token_probs
    assert not plain.ask(QUESTION).refused


def test_a_saved_doubt_is_applied_again_when_rechecked(fake_pipeline) -> None:
    pipe = _pipe(fake_pipeline, 0.05)
    passages = pipe.retrieve(QUESTION)
    assert pipe.finish(QUESTION, REPLY, passages, doubt=0.4).refused
    assert not pipe.finish(QUESTION, REPLY, passages, doubt=0.1).refused
    assert not pipe.finish(QUESTION, REPLY, passages).refused  # never asked
    off = _pipe(fake_pipeline, 0.05, confirm_threshold=0.5)
    assert not off.finish(QUESTION, REPLY, passages, doubt=0.4).refused


@pytest.mark.parametrize("raw", ["1.5", "-0.1"])
def test_a_threshold_outside_zero_to_one_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="confirm_threshold"):
        load_settings(env={"RAG_CONFIRM_THRESHOLD": raw})


TWO_PARTS = "展览是哪天开幕的？那幅画是谁画的？"


def test_a_question_of_several_parts_is_asked_whole_and_part_by_part() -> None:
    answer = _answer("x", ["第一句。"], "第一句。")
    assert asked_questions(TWO_PARTS, answer) == [TWO_PARTS, "展览是哪天开幕的", "那幅画是谁画的"]
    assert asked_questions("对接会签约采购金额是多少？", answer) == ["对接会签约采购金额是多少？"]
    missing = dataclasses.replace(answer, missing=("那幅画是谁画的",))
    assert asked_questions(TWO_PARTS, missing) == ["展览是哪天开幕的？"]  # one part left: asked once


@pytest.mark.parametrize("by_question,expected", [
    ({TWO_PARTS: 0.5, "展览是哪天开幕的": 0.05, "那幅画是谁画的": 0.6}, 0.05),  # one part is answered
    ({TWO_PARTS: 0.5, "展览是哪天开幕的": 0.4, "那幅画是谁画的": 0.6}, 0.4),  # none is
    ({TWO_PARTS: 0.1}, 0.1),
])
def test_the_doubt_is_the_least_over_the_question_and_its_parts(by_question: dict, expected: float) -> None:
    generator = DoubtingGenerator("x", 0.9, by_question)
    answer = _answer("5月8日开幕[1]。", ["5月8日，湘江美术馆的书信展开幕。"], "5月8日，湘江美术馆的书信展开幕。")
    assert doubt(generator, TWO_PARTS, answer) == pytest.approx(expected)
    assert len(generator.confirms) == 3
