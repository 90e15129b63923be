"""How sure the model was of its answer, from the log-probabilities of the words it wrote."""
from __future__ import annotations

import math

import pytest

from rag.answer.certainty import certainty, word_logprobs


@pytest.mark.parametrize(("tokens", "kept"), [
    ([("共", -0.1), ("接待", -0.2), ("12", -1.5), ("万", -0.3), ("[", -0.01), ("1", -0.02), ("]", -0.01),
      ("。", -0.05)], [-0.1, -0.2, -1.5, -0.3]),  # the mark's digit is not a figure of the answer
    ([("About", -0.4), (" 12", -0.9), (" thousand", -0.3), (" [1", -0.01), ("].", -0.02)], [-0.4, -0.9, -0.3]),
    ([("，", -0.3), (" ", -0.1), ("\n", -0.2)], []),  # no word at all
])
def test_only_the_tokens_that_carry_words_count(tokens, kept) -> None:
    assert word_logprobs(tokens) == kept


def test_the_summaries_weigh_the_least_sure_words() -> None:
    sure = certainty([("共", -0.1), ("接待", -0.2), ("12", -2.0), ("万", -0.3), ("人次", -0.1)])
    assert sure["logprob_min"] == -2.0
    assert sure["logprob_low3"] == pytest.approx((-2.0 - 0.3 - 0.2) / 3, abs=1e-4)
    assert sure["p_geomean"] == pytest.approx(math.exp(-2.7 / 5), abs=1e-4)
    assert certainty([("。", -0.1)]) is None and certainty([]) is None


def test_the_answer_s_certainty_reaches_its_result_record(fake_pipeline) -> None:
    """What the model's tokens said of its sureness goes with the answer into the suite's record, beside the
    confirm step's doubt, so the two can be compared on saved runs."""
    from rag.evaluate import score_item

    pipe = fake_pipeline("签约采购金额约3亿元[1]。")
    pipe.generator.last_logprobs = [("签约", -0.1), ("采购", -0.2), ("金额", -0.1), ("约", -0.9), ("3", -0.4),
                                    ("亿元", -0.3), ("[", -0.01), ("1", -0.01), ("]。", -0.01)]
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.timings["logprob_min"] == -0.9
    record = score_item({"id": "x", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"]}, answer)
    assert record["logprob_low3"] == pytest.approx(-0.5333, abs=1e-3)


def test_the_certainty_threshold_is_chosen_like_the_doubt_s(tmp_path) -> None:
    """On saved answers: right ones sure, an unanswerable question answered unsure; refusing below a threshold
    wins the unsure one back, and the AUC says the wrong answers were the less sure."""
    import json

    from rag.bench.confirm_fit import certainty_fit

    off = {("t", f"r{i}"): {"answerable": True, "correct": True, "refused": False} for i in range(8)}
    off[("t", "u1")] = {"answerable": False, "correct": False, "refused": False}
    off[("t", "u2")] = {"answerable": False, "correct": False, "refused": True}
    sure = {f"r{i}": -0.1 - 0.05 * i for i in range(8)} | {"u1": -2.0}
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps({"set": "t", "id": i, "logprob_low3": v}) + "\n" for i, v in sure.items()))
    fit = certainty_fit(off, results)
    assert fit["answers"] == 9 and fit["auc"] == 1.0
    assert fit["curve"][0]["right"] == 9  # refusing nothing: eight right answers and one right refusal
    best = max(fit["curve"], key=lambda c: c["right"])
    assert best["right"] == 10 and best["wrong_to_right"] == 1 and best["right_to_wrong"] == 0
    assert certainty_fit(off, tmp_path / "none.jsonl") is None


@pytest.mark.parametrize(("least", "steps", "refused"), [
    (-2.0, "kind_check,certainty", True),  # unsure of its figure: a refusal, with no second call
    (-0.2, "kind_check,certainty", False),
    (-2.0, "kind_check", False),  # the step off: the answer stands however unsure
])
def test_the_certainty_step_refuses_an_answer_the_model_was_unsure_of(fake_pipeline, least, steps, refused) -> None:
    pipe = fake_pipeline("签约采购金额约3亿元[1]。", steps=steps)
    pipe.generator.last_logprobs = [("签约", -0.1), ("采购", least), ("金额", least), ("约", least), ("3", -0.1),
                                    ("亿元", -0.1), ("[", -0.01), ("1", -0.01), ("]。", -0.01)]
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.refused is refused and answer.timings["model_calls"] == 1.0
    assert ("3亿元" in answer.text) is not refused


def test_a_saved_answer_checked_again_keeps_its_certainty_step(fake_pipeline) -> None:
    """`rag eval --rescore --recheck` hands the saved timings back, so the step judges the saved certainty."""
    pipe = fake_pipeline("签约采购金额约3亿元[1]。", steps="kind_check,certainty")
    passages = pipe.retrieve("对接会签约采购金额是多少？")
    raw = "签约采购金额约3亿元[1]。"
    assert pipe.finish("对接会签约采购金额是多少？", raw, passages, {"logprob_low3": -1.5}).refused
    assert not pipe.finish("对接会签约采购金额是多少？", raw, passages, {"logprob_low3": -0.3}).refused
    assert not pipe.finish("对接会签约采购金额是多少？", raw, passages).refused  # nothing recorded: it stands


@pytest.mark.parametrize("raw", ["0.5", "1"])
def test_a_certainty_threshold_above_zero_is_refused(raw: str) -> None:
    from rag.errors import ConfigError
    from rag.settings import load_settings

    with pytest.raises(ConfigError, match="certainty_threshold"):
        load_settings(env={"RAG_CERTAINTY_THRESHOLD": raw})
