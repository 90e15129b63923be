"""Follow-up rewriting, re-ranking and the approximate index switch."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fakes import HashingEmbedder, ScriptedGenerator

from rag.index import build_index, load_index
from rag.rewrite import Turn, is_follow_up, rewrite, rule_rewrite

YIYANG = "益阳为什么能成为长株潭都市圈扩群的首选？"


@pytest.mark.parametrize("previous,follow_up,expected,method", [
    (YIYANG, "那株洲呢？", "株洲为什么能成为长株潭都市圈扩群的首选？", "swap"),
    ("发展新兴产业，株洲要建哪几个基地？", "那益阳呢", "发展新兴产业，益阳要建哪几个基地？", "swap"),
    ("全省电机企业有多少家？", "总产值呢？", "全省电机企业有多少家？总产值呢？", "context"),
    ("麓宇光电拟在益阳投资什么项目", "它的总投资是多少？", "麓宇光电拟在益阳投资什么项目？它的总投资是多少？", "context"),
    ("What was signed at the Changsha matchmaking event?", "How many units signed it?",
     "What was signed at the Changsha matchmaking event? How many units signed it?", "context"),
    (YIYANG, "人工智能大赛设置了多少赛题？", "人工智能大赛设置了多少赛题？", "none"),
    (YIYANG, "新聘的参事有多少位？", "新聘的参事有多少位？", "none"),
])
def test_rule_rewrite(previous: str, follow_up: str, expected: str, method: str) -> None:
    rw = rule_rewrite(follow_up, [Turn(previous)])
    assert (rw.question, rw.method) == (expected, method)
    assert rw.original == follow_up.strip()


@pytest.mark.parametrize("question,follow", [
    ("那株洲呢？", True), ("它的总投资是多少？", True), ("其中民营企业有几家？", True),
    ("What about Zhuzhou?", True), ("When did it open?", True),
    ("益阳为什么能成为长株潭都市圈扩群的首选？", False), ("How many teams entered the AI contest?", False),
    ("What is the value that was signed?", False),
    ("它" * 50, False),  # long text is a question of its own
])
def test_is_follow_up(question: str, follow: bool) -> None:
    assert is_follow_up(question) is follow


def test_no_history_means_no_rewrite() -> None:
    assert rewrite("那株洲呢？", []).method == "none"
    assert rewrite("那株洲呢？", [Turn(YIYANG)], mode="off").question == "那株洲呢？"


@pytest.mark.parametrize("reply,method", [
    ("湖南湘江新区麓宇光电有限公司光电子集成产业化项目的总投资是多少？", "llm"),
    ("改写后的问题：麓宇光电项目的总投资是多少？", "llm"),
    ("", "context"),  # nothing useful: the rules' answer is kept
    ("它的总投资是多少？", "context"),  # still leans on a pronoun
    ("麓宇光电拟在益阳投资什么项目？", "context"),  # repeats the previous question, drops what is asked now
])
def test_llm_rewrite_is_checked(reply: str, method: str) -> None:
    gen = ScriptedGenerator(reply)
    rw = rewrite("它的总投资是多少？", [Turn("麓宇光电拟在益阳投资什么项目？", "光电子集成产业化项目[1]。")], gen, "llm")
    assert rw.method == method
    assert "它" not in rw.question or method == "context"
    if method == "llm":
        assert "总投资" in rw.question and not rw.question.startswith("改写")
        assert "上一个问题：麓宇光电" in gen.prompts[0][1]["content"]


def test_follow_up_retrieves_with_the_rewritten_question(fake_pipeline) -> None:
    pipe = fake_pipeline("约3亿元[1]。", backend="extractive")
    events = list(pipe.stream("那株洲呢？", history=[Turn("发展新兴产业，益阳要建哪几个基地？")]))
    wanted = "发展新兴产业，株洲要建哪几个基地？"
    assert events[0].kind == "passages" and events[0].text == wanted
    assert any("北斗之城" in p.chunk.text for p in events[0].passages)
    answer = events[-1].answer
    assert answer.question == "那株洲呢？" and answer.query == wanted
    plain = list(pipe.stream(wanted))
    assert plain[0].text == "" and plain[-1].answer.query == ""


def test_sources_panel_shows_the_rewritten_question(fake_pipeline) -> None:
    from rag import ui

    pipe = fake_pipeline(backend="extractive")
    answer = pipe.ask("那株洲呢？", history=[Turn("发展新兴产业，益阳要建哪几个基地？")])
    assert "检索用问题：发展新兴产业，株洲要建哪几个基地？" in ui.sources_html(answer)


def test_large_corpus_switches_to_hnsw_with_recall_recorded(seeds_copy: Path, tmp_path: Path) -> None:
    from rag.retrieve import HybridRetriever

    emb = HashingEmbedder()
    build_index(seeds_copy, tmp_path / "idx", emb, ann_threshold=10)
    index = load_index(tmp_path / "idx")
    info = index.manifest["dense_index"]
    assert info["type"] == "faiss.IndexHNSWFlat" and info["recall_at_10_vs_flat"] >= 0.9
    assert index.store.dense.hnsw.efSearch == info["efSearch"]
    hits = HybridRetriever(index, emb, mode="dense").search("对接会签约采购金额约3亿元", 3)
    assert any("3亿元" in p.chunk.text for p in hits)
    build_index(seeds_copy, tmp_path / "small", emb)
    assert load_index(tmp_path / "small").manifest["dense_index"] == {"type": "faiss.IndexFlatIP"}


def test_dense_index_recall_on_random_vectors() -> None:
    from rag.store.local import dense_index

    vecs = np.random.default_rng(1).standard_normal((3000, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ann, info = dense_index(vecs, ann_threshold=1000)
    assert ann.ntotal == 3000 and info["checked_queries"] == 500 and info["recall_at_10_vs_flat"] > 0.8


@pytest.mark.parametrize("tokens,text,expected", [
    (["益阳", "企业", "多少"], "益阳已有18家企业", 1.0),  # 多少 is a question word, not content
    (["3", "亿元", "签约"], "签约金额约3亿元", 1.0),
    (["3", "亿元", "签约"], "签约金额约5亿元", 0.5),  # the missing number weighs double: (1 + 1) / (2 + 1 + 1)
    (["什么", "的"], "任何文本", 0.0),
])
def test_coverage(tokens: list[str], text: str, expected: float) -> None:
    from rag.retrieve import coverage

    assert coverage(tokens, text) == pytest.approx(expected)


@pytest.mark.parametrize("question,expected", [
    ("人民银行岳阳市分行的评级体系", ["人民银行", "岳阳市", "分行", "评级", "体系"]),  # "人民", "银行" once, inside 人民银行
    ("5月8日当天，湘潭有哪两场展览？", ["5月8日", "当天", "湘潭", "两场", "展览"]),  # the date as one word
    ("2025年有哪些活动", ["2025年", "活动"]),
    ("什么是哪个？", []),
])
def test_content_words(question: str, expected: list[str]) -> None:
    from rag.retrieve import content_words

    assert content_words(question) == expected


def test_rarity_weights_favour_the_word_few_units_hold() -> None:
    from rag.retrieve import rarity_weights

    units = ["市农商行湘潭分行联合签约", "市农商行湘潭分行举办活动", "该行推出三级信用积分制度"]
    w = rarity_weights(["农商行", "积分", "货币"], units)
    assert w["积分"] > w["农商行"] / 2  # in one unit against two; 农商行 weighs more as a longer word
    assert "货币" not in w  # found in no unit: it cannot tell them apart


def test_rarity_coverage_prefers_the_passage_with_the_rare_words() -> None:
    """Several passages of one article share its name; the one holding the question's specific words wins.
    (Counting every word alike, the passages naming the bank branch cover more.)"""
    from rag.retrieve import rarity_coverage

    texts = [f"湘潭农村商业银行雨湖支行联合部门开展第{i}次走访活动，共商共议。" for i in range(1, 5)]
    texts.append("当前，该行在雨湖区推出三级信用积分制度，将守信记录与贷款利率直接挂钩。")
    shares = rarity_coverage("雨湖支行的三级信用积分制度是怎么起作用的？", texts)
    assert shares[-1] == max(shares) and shares[-1] > shares[0] + 0.2
    assert rarity_coverage("什么？", texts) == [0.0] * 5


ARTICLE = "".join(f"第{i}句话。" for i in range(1, 30))  # each sentence 5 characters


def _found(*spans: tuple[str, int, int]) -> list:
    """Passages of ranks 1, 2, … over (article id, start, end) of ARTICLE."""
    from rag.types import Chunk, Passage

    return [Passage(Chunk(f"c{r}", art, ARTICLE[s:e], s, e, title=art), r, 1.0 / r) for r, (art, s, e) in
            enumerate(spans, 1)]


@pytest.mark.parametrize("spans,k,expected", [
    # neighbours sharing a sentence are one passage; the place freed goes to the next one
    ([("a", 10, 30), ("a", 25, 45), ("b", 0, 20)], 2, [("a", 10, 45, 2), ("b", 0, 20, 1)]),
    ([("a", 25, 45), ("a", 10, 30), ("b", 0, 20)], 2, [("a", 10, 45, 2), ("b", 0, 20, 1)]),  # either order
    ([("a", 10, 30), ("b", 25, 45), ("c", 0, 20)], 2, [("a", 10, 30, 1), ("b", 25, 45, 1)]),  # other articles
    ([("a", 0, 20), ("a", 40, 60), ("b", 0, 20)], 2, [("a", 0, 20, 1), ("a", 40, 60, 1)]),  # apart: two passages
    ([("a", 0, 20), ("a", 40, 60), ("a", 15, 45)], 2, [("a", 0, 45, 2), ("a", 40, 60, 1)]),
    ([("a", 0, 20), ("a", 15, 35), ("a", 30, 50), ("a", 45, 65)], 1, [("a", 0, 50, 3)]),  # at most 3 chunks
    ([], 4, []),
])
def test_join_touching(spans: list, k: int, expected: list) -> None:
    from rag.retrieve import join_touching

    joined = join_touching(_found(*spans), k)
    assert [(p.chunk.article_id, p.chunk.start, p.chunk.end, p.joined) for p in joined] == expected
    assert [p.rank for p in joined] == list(range(1, len(expected) + 1))
    for p in joined:  # the joined text is the article's text between the offsets, once
        assert p.chunk.text == ARTICLE[p.chunk.start:p.chunk.end]


def test_coverage_rerank_lifts_the_passage_with_every_query_word(fake_pipeline) -> None:
    plain = fake_pipeline(backend="extractive", rerank="off").retrieve("桃江县名片", 1)[0]
    assert "桃江" not in plain.chunk.text  # the hashing embedder and BM25 alone rank another story first
    top = fake_pipeline(backend="extractive", rerank="coverage").retrieve("桃江县名片", 1)[0]
    assert "南竹之乡" in top.chunk.text


def test_retrieval_bench_runs_on_small_inputs(tmp_path: Path) -> None:
    import json

    from rag.bench import retrieval as bench
    from rag.bench.common import save

    shared = Path(__file__).resolve().parent.parent.parent / "shared"
    if not (shared / "peer" / "crud_news_1k.jsonl").is_file():
        pytest.skip("../shared/peer is not here")
    lines = (shared / "peer" / "crud_news_1k.jsonl").read_text(encoding="utf-8").splitlines()[:60]
    ids = {json.loads(line)["id"] for line in lines}
    news = tmp_path / "news.jsonl"
    news.write_text("\n".join(lines) + "\n", encoding="utf-8")
    questions = [q for q in (shared / "peer" / "crud_qa_dev.jsonl").read_text(encoding="utf-8").splitlines()
                 if set(json.loads(q)["sources"]) & ids]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(questions) + "\n", encoding="utf-8")
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    result = bench.retrieval_bench(HashingEmbedder(), seeds, shared / "eval" / "dev.jsonl", news, qa,
                                   tmp_path / "work", synthetic=1500, log=lambda _: None)
    assert set(result["seeds"]["configs"]) == set(bench.CONFIGS)
    assert result["peer"]["questions"] == len(questions) > 0
    assert result["synthetic"]["hnsw"]["dense_index"]["type"] == "faiss.IndexHNSWFlat"
    text = bench.table(result)
    assert "hybrid+coverage" in text and "synthetic: 1500 chunks" in text
    save(result, tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["embedder"] == "hashing-test"
