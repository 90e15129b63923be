"""rag eval's figures, computed over a scripted model so every number is known in advance."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.evaluate import answer_correct, citation_precise, evaluate
from rag.types import Answer, Citation

ITEMS = [
    {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "match": "any", "answerable": True,
     "evidence": ["当天,16家单位签署合作协议,总签约采购金额约3亿元。"]},
    {"id": "b", "question": "道县的清明祭英烈活动是几号举办的？", "answers": [], "answerable": False},
]


def test_eval_counts_supported_and_unsupported_claims(fake_pipeline, tmp_path: Path) -> None:
    pipe = fake_pipeline("总签约采购金额约3亿元[1]。这家企业的总部设在北京[2]。")
    out = tmp_path / "rows.jsonl"
    result = evaluate(ITEMS, pipe.ask, out, search=lambda q: pipe.retrieve(q, 10))
    assert result["answer_accuracy"] == 1.0
    # The scripted model answers the unanswerable question too, but no passage retrieved for it supports
    # either claim, so the checker removes both and the reply becomes a refusal.
    assert result["refusal_accuracy"] == 1.0
    # Claims: item a has one supported and one removed ("总部设在北京" is in no passage); item b two removed.
    assert result["citation_recall"] == 0.25 and result["unsupported_claim_rate"] == 0.75
    assert result["recall"]["@10"] == 1.0 and result["citation_precision"] == 1.0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    assert rows[0]["unsupported_claims"] == ["这家企业的总部设在北京。"]


def test_eval_of_a_refusing_model(fake_pipeline) -> None:
    pipe = fake_pipeline("资料中没有找到这个问题的答案。")
    result = evaluate(ITEMS, pipe.ask)
    assert result["answer_accuracy"] == 0.0 and result["refusal_accuracy"] == 1.0
    assert result["false_refusal_rate"] == 1.0 and result["citation_recall"] is None


def _answer(text: str, claim: str = "", quote: str = "") -> Answer:
    cits = (Citation(1, "x", "t", "s", 0, len(quote), quote, claim),) if quote else ()
    return Answer("q", text, not cits, cits)


@pytest.mark.parametrize("golds,match,text,ok", [
    (["12月13日", "曹正平"], "all", "12月13日，曹正平拍摄[1]。", True),
    (["12月13日", "曹正平"], "all", "12月13日[1]。", False),
    (["3亿元", "3亿"], "any", "约 3 亿元[1]", True),
    (["98%"], "any", "The rate rose to 98%[1].", True),
])
def test_answer_correct(golds: list[str], match: str, text: str, ok: bool) -> None:
    assert answer_correct({"answers": golds, "match": match}, _answer(text, "c", "quote")) is ok


@pytest.mark.parametrize("claim,quote,ok", [
    ("金额约3亿元。", "当天,16家单位签署合作协议,总签约采购金额约3亿元。", True),  # holds the evidence
    ("共有16家单位签约。", "16家单位签署合作协议", True),  # every number of the claim
    ("金额约5亿元。", "省工信厅现场发布供需清单", False),
])
def test_citation_precise(claim: str, quote: str, ok: bool) -> None:
    item = {"evidence": ["当天,16家单位签署合作协议,总签约采购金额约3亿元。"]}
    assert citation_precise(item, _answer(claim, claim, quote)) == [ok]


def test_bandwidth_and_answer_table() -> None:
    from rag.bench import answer as bench

    assert bench.memory_bandwidth(gib=0.05, threads=2, repeats=1) > 0.1
    row = {"load_first_s": 5.1, "load_again_s": 4.3, "prompt_tokens_p50": 492, "first_token_s_p50": 7.0,
           "first_token_s_p95": 7.3, "decode_tokens_per_s_p50": 16.1, "ceiling_tokens_per_s": 26.2,
           "decode_share_of_ceiling": 0.61, "answer_s_p50": 8.2, "answer_s_p95": 8.6, "retrieve_ms_p50": 129,
           "peak_rss_mb_so_far": 5990}
    text = bench.answer_table({"bandwidth_gbs": 29.3, "index": {"chunks": 85}, "backends": {"llamacpp": row}})
    assert "29.3 GB/s" in text and "llamacpp" in text and "0.61" in text


def test_answer_figures_summarise_the_rows_against_the_ceiling() -> None:
    from rag.bench.answer import _summary

    rows = [{"retrieve_ms": 50.0, "prompt_tokens": 400, "prompt_tokens_filled": 300, "first_token_s": t,
             "answer_s": t + 2, "decode": d} for t, d in [(2.0, 10.0), (3.0, None), (4.0, 12.0)]]
    out = _summary(rows, weights=1_000_000_000, bandwidth_gbs=24.0)
    assert out["questions"] == 3 and out["first_token_s_p50"] == 3.0 and out["answer_s_p50"] == 5.0
    assert out["decode_tokens_per_s_p50"] == 11.0 and out["ceiling_tokens_per_s"] == 24.0
    assert out["decode_share_of_ceiling"] == 0.46  # 11 of 24 tokens/s
    assert _summary(rows, weights=0, bandwidth_gbs=24.0)["ceiling_tokens_per_s"] is None


def test_recall_is_judged_only_where_the_item_says_where_its_answer_stands(fake_pipeline) -> None:
    pipe = fake_pipeline("总签约采购金额约3亿元[1]。")
    items = [{"id": "x", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "answerable": True}]
    result = evaluate(items, pipe.ask)
    assert result["answer_accuracy"] == 1.0 and result["recall"]["@5"] is None and result["mrr"] is None


def test_the_follow_up_bench_says_how_much_of_a_follow_ups_prompt_the_previous_one_covers(fake_pipeline) -> None:
    from rag.bench.retrieval import followup_bench

    pipe = fake_pipeline("x")
    items = [{"id": "f1", "history": ["对接会签约采购金额是多少？"], "question": "签约单位有多少家呢？",
              "expect": ["对接会"], "evidence": []},
             {"id": "f2", "history": ["全省电机企业有多少家？"], "question": "总产值呢？",
              "expect": ["电机", "总产值"], "evidence": ["全省拥有电机企业近500家"]}]
    result = followup_bench(pipe.index, pipe.embedder, items)
    full = pipe.prompts.first("全省电机企业有多少家？总产值呢？", pipe.retrieve("全省电机企业有多少家？"))
    assert result["items"] == 2 and result["rewrite_names_the_topic"] == 1.0
    # the rule rewrite carries the previous question along, so its passages and their sentences mostly stay
    assert 0 < result["prompt_tokens_left_p50"] < len(full[1]["content"])


def test_the_checkers_cost_counts_right_drafts_that_were_not_shown_right() -> None:
    """Of the answerable questions whose draft held the answer, the share shown right: a right draft the
    checking layer withdrew counts against it; a wrong draft, and unanswerable questions, do not count."""
    from rag.evaluate import draft_holds_answer, score_item, summarise

    item = {"id": "a", "question": "签约金额是多少？", "answers": ["3亿元"], "match": "any", "answerable": True}
    kept = Answer("q", "约3亿元[1]。", False, (Citation(1, "x", "t", "s", 0, 5, "约3亿元", "约3亿元"),),
                  raw="约3亿元[1]。")
    withdrawn = Answer("q", "资料中没有找到这个问题的答案。", True, raw="签约金额约3亿元。")
    wrong = Answer("q", "资料中没有找到这个问题的答案。", True, raw="约5亿元[1]。")
    unanswerable = {"id": "b", "question": "门票多少钱？", "answers": [], "answerable": False}
    records = [score_item(item, kept), score_item(item, withdrawn), score_item(item, wrong),
               score_item(unanswerable, Answer("q", "约3亿元[1]。", False, raw="约3亿元[1]。"))]
    assert [r["draft_right"] for r in records] == [True, True, False, None]
    assert summarise(records)["checker_kept"] == 0.5
    assert not draft_holds_answer(item, "") and draft_holds_answer({"answers": ["3 亿元"]}, "约3亿元")


def test_model_calls_are_summarised_where_the_answers_count_them() -> None:
    from rag.evaluate import score_item, summarise

    item = {"id": "a", "question": "签约金额是多少？", "answers": ["3亿元"], "match": "any", "answerable": True}
    records = [score_item(item, Answer("q", "约3亿元[1]。", False, timings={"model_calls": float(n)}))
               for n in (1, 1, 2, 4)]
    summary = summarise(records + [score_item(item, Answer("q", "x", False))])  # saved before counting: left out
    assert (summary["model_calls_mean"], summary["model_calls_max"], summary["one_model_call"]) == (2.0, 4.0, 0.5)
    assert summarise([score_item(item, Answer("q", "x", False))])["model_calls_mean"] is None
