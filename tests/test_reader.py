"""The trained reader (rag/reader): its features, the shipped weights and their check, mining the training
folder, the split by article, and the refusal before generation. The examples are written for these tests,
not taken from any question set."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import RagError
from rag.reader.features import (
    BASE,
    DENSE,
    Candidate,
    base_features,
    candidate_features,
    dense_features,
    expand,
    feature_names,
)
from rag.reader.heldout import split_of
from rag.reader.mine import cmrc_items, crud_items
from rag.reader.model import WEIGHTS, Reader
from rag.types import Chunk, Passage

QUESTION = "青松县的茶叶节吸引了多少名游客？"
ANSWERING = "本届茶叶节期间，青松县共接待游客12万人次。"
TOPIC_ONLY = "青松县茶叶节以“品茶香、游青山”为主题。"
ELSEWHERE = "白河市今年新建了三座污水处理厂。"


def _passage(text: str, rank: int = 1) -> Passage:
    chunk = Chunk(id=f"c{rank}", article_id=f"a{rank}", title="青松县新闻", date="2026-05-01", source="t.md",
                  start=0, end=len(text), text=text)
    return Passage(chunk, rank, 1.0)


def test_the_features_tell_the_answering_sentence_from_one_on_the_topic_only() -> None:
    x = base_features(QUESTION, [Candidate(ANSWERING), Candidate(TOPIC_ONLY), Candidate(ELSEWHERE)])
    f = dict(zip(BASE, x.T))
    assert f["kind_asked"].tolist() == [1.0, 1.0, 1.0]  # 多少 asks for a quantity
    assert f["kind_given"].tolist() == [1.0, 0.0, 1.0]  # 12万人次 gives one; so does 三座, elsewhere
    assert f["cover"][0] > f["cover"][2] and f["cover"][1] > f["cover"][2]
    assert f["words_found"][0] == f["words_found"][1]  # a question-wide figure, the same on every row
    assert expand(x).shape == (3, len(feature_names()))
    assert base_features(QUESTION, []).shape == (0, len(BASE))


def test_a_question_word_found_nowhere_lowers_what_is_found() -> None:
    """What the pages do not say weighs most: the same sentences, asked about a county they never name."""
    here = base_features(QUESTION, [Candidate(ANSWERING), Candidate(TOPIC_ONLY)])
    elsewhere = base_features("红枫县的茶叶节吸引了多少名游客？", [Candidate(ANSWERING), Candidate(TOPIC_ONLY)])
    found = BASE.index("words_found")
    assert elsewhere[0, found] < here[0, found]


def test_the_dense_features_say_which_sentence_means_most_what_is_asked() -> None:
    x = dense_features(np.array([0.2, 0.7, 0.5]), np.array([0.9, 0.0, 0.1]))
    f = dict(zip(DENSE, x.T))
    assert f["sim_best"].tolist() == [0.0, 1.0, 0.0]
    assert f["sim_margin"][1] == pytest.approx(0.2) and f["sim_margin"][0] == pytest.approx(-0.5)
    assert f["sim_context"][0] == pytest.approx(0.9)  # the sentence before it says more
    assert f["sim_z"][1] > f["sim_z"][2] > f["sim_z"][0]
    assert dense_features(np.zeros(0), np.zeros(0)).shape == (0, len(DENSE))


def test_with_a_similarity_the_candidates_get_both_kinds_of_features() -> None:
    seen = []

    def similarity(query: str, texts: list[str]) -> list[float]:
        seen.append(list(texts))
        return [1.0 if t == ANSWERING else 0.3 for t in texts]

    candidates = [Candidate(TOPIC_ONLY), Candidate(ANSWERING, before=TOPIC_ONLY)]
    x = candidate_features(QUESTION, candidates, similarity)
    assert x.shape == (2, len(BASE) + len(DENSE))
    assert x[1, len(BASE) + DENSE.index("sim_best")] == 1.0
    assert seen == [[TOPIC_ONLY, ANSWERING], [TOPIC_ONLY]]  # the sentences, then the ones before them
    assert candidate_features(QUESTION, candidates).shape == (2, len(BASE))
    assert expand(x).shape == (2, len(feature_names(dense=True)))


def test_the_shipped_weights_load_checked_and_rank_the_answering_sentence_first() -> None:
    reader = Reader.load()
    assert 0.0 < reader.threshold < 1.0 and reader.report["report"]["sentence_auc"] > 0.8
    reads = reader.read(QUESTION, [_passage(TOPIC_ONLY + ELSEWHERE, 1), _passage(ANSWERING, 2)])
    assert reads[0].sentence == ANSWERING and reads[0].passage == 1
    assert reads[0].p > reads[-1].p
    asked_as_written = reader.read("茶叶节期间青松县共接待游客多少人次？", [_passage(TOPIC_ONLY), _passage(ANSWERING, 2)])
    assert reader.answerable(asked_as_written)
    text = _passage(TOPIC_ONLY + ELSEWHERE).chunk.text
    assert all(text[r.start:r.end] == r.sentence for r in reads if r.passage == 0)
    assert not reader.answerable([]) and reader.read(QUESTION, []) == []


@pytest.mark.parametrize("damage", ["changed", "missing", "other features"])
def test_weights_that_are_not_the_shipped_ones_are_refused_with_a_message(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "reader.json"
    shutil.copy(WEIGHTS, path)
    shutil.copy(WEIGHTS.with_suffix(".sha256"), path.with_suffix(".sha256"))
    if damage == "changed":
        path.write_text(path.read_text(encoding="utf-8").replace('"threshold": 0', '"threshold": 1'), encoding="utf-8")
    elif damage == "missing":
        path.unlink()
    else:
        w = json.loads(path.read_text(encoding="utf-8"))
        w["features"] = w["features"][:-1]
        path.write_text(json.dumps(w), encoding="utf-8")
        import hashlib

        path.with_suffix(".sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "  reader.json\n")
    with pytest.raises(RagError, match="reader"):
        Reader.load(path)


def test_weights_that_read_meaning_are_refused_without_their_embedder(tmp_path: Path) -> None:
    import hashlib

    w = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    w = {**w, "embedder": "m3e-small", "features": feature_names(dense=True)}
    path = tmp_path / "reader.json"
    path.write_text(json.dumps(w), encoding="utf-8")
    path.with_suffix(".sha256").write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "  reader.json\n")
    assert Reader.embedder_of(path) == "m3e-small"
    with pytest.raises(RagError, match="embedder m3e-small"):
        Reader.load(path)


def _train_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "train"
    (folder / "cmrc2018").mkdir(parents=True)
    news = [{"id": "n1", "date": "2026-05-01", "text": TOPIC_ONLY + ANSWERING + "活动持续三天。"},
            {"id": "n2", "date": "2026-05-02", "text": "红枫县茶叶节吸引游客8万人次。" + ELSEWHERE}]
    (folder / "crud_train_news.jsonl").write_text("\n".join(json.dumps(n, ensure_ascii=False) for n in news),
                                                  encoding="utf-8")
    qa = [{"id": "q1", "question": QUESTION, "answers": ["12万人次"], "sources": ["n1"], "evidence": [ANSWERING],
           "answerable": True},
          {"id": "q2", "question": "青松县茶叶节的门票多少钱？", "answers": [], "sources": ["n1"], "evidence": [],
           "answerable": False}]
    (folder / "crud_train_qa.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in qa),
                                                encoding="utf-8")
    context = "青松县位于山区。" + ANSWERING + "茶叶是当地特产。"
    cmrc = {"data": [{"id": "d1", "paragraphs": [{"id": "p1", "context": context, "qas": [
        {"id": "x1", "question": "茶叶节接待了多少游客？", "answers": [{"text": "12万人次", "answer_start": context.index("12万")}]}]}]}]}
    (folder / "cmrc2018" / "cmrc2018_dev.json").write_text(json.dumps(cmrc, ensure_ascii=False), encoding="utf-8")
    return folder


def test_mining_labels_the_evidence_sentence_and_brings_other_articles_as_hard_negatives(tmp_path: Path) -> None:
    folder = _train_folder(tmp_path)
    answerable, unanswerable = list(crud_items(folder))
    assert [c.sentence for c, y in zip(answerable.candidates, answerable.labels) if y] == [ANSWERING]
    assert any("红枫县" in c.sentence for c in answerable.candidates)  # the other article, sharing 茶叶节 and 游客
    assert answerable.candidates[1].before == TOPIC_ONLY  # the sentence before, as the reader sees it in use
    assert not unanswerable.answerable and not any(unanswerable.labels)
    assert answerable.group == unanswerable.group == "crud:n1"
    (item,) = list(cmrc_items(folder))
    assert [c.sentence for c, y in zip(item.candidates, item.labels) if y] == [ANSWERING]


def test_the_split_is_by_article_and_the_same_on_every_machine() -> None:
    groups = [f"crud:article-{i}" for i in range(2000)]
    parts = [split_of(g) for g in groups]
    assert parts == [split_of(g) for g in groups]
    share = {p: parts.count(p) / len(parts) for p in ("fit", "choose", "report")}
    assert 0.65 < share["fit"] < 0.75 and 0.1 < share["choose"] < 0.2 and 0.1 < share["report"] < 0.2


def test_a_question_no_sentence_answers_is_refused_before_any_model_call(fake_pipeline) -> None:
    steps = "reader,kind_check"
    pipe = fake_pipeline("总签约采购金额约3亿元[1]。", steps=steps)
    assert pipe.reader is not None
    pipe.reader.threshold = 1.01  # nothing can reach it
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.refused and pipe.generator.prompts == [] and answer.passages
    assert "reader_ms" in answer.timings
    pipe.reader.threshold = 0.0  # everything reaches it: the model answers as before
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert not answer.refused and len(pipe.generator.prompts) == 1


def test_the_reader_leaves_english_questions_and_a_pipeline_without_it_alone(fake_pipeline) -> None:
    pipe = fake_pipeline("About 300 million yuan was signed[1].", steps="reader")
    pipe.reader.threshold = 1.01
    answer = pipe.ask("How much was signed at the matchmaking meeting?")
    assert len(pipe.generator.prompts) == 1 and "reader_ms" not in answer.timings
    assert fake_pipeline("x", steps="kind_check").reader is None


def test_with_reader_prompt_the_model_is_shown_the_readers_order_and_nothing_is_refused_by_it(fake_pipeline) -> None:
    from rag.answer.prompt import build_messages

    question = "对接会上有多少家单位签约？"
    pipe = fake_pipeline("16家单位签约[1]。", steps="reader_prompt")
    assert pipe.reader is None and pipe.prompts.reader is not None  # orders the prompt, refuses nothing
    answer = pipe.ask(question)
    shown = pipe.generator.prompts[0]
    budget = pipe.settings.prompt_tokens
    assert shown == build_messages(question, answer.passages, 0, budget=budget, reader=pipe.prompts.reader)
    assert shown != build_messages(question, answer.passages, 0, budget=budget)  # the words would pick others
    assert fake_pipeline("x", steps="kind_check").prompts.reader is None


@pytest.mark.parametrize("question, reads", [
    ("对接会上有多少家单位签约？", True),  # one thing asked
    ("对接会上有多少家单位签约？签约金额是多少？", False),  # two parts: the words cover each
    ("甲州灯会的开幕时间和地点？", False),  # two parts joined by 和
    ("对接会上有哪些单位签约？", False),  # a list runs over several sentences
    ("甲州和乙县的灯会分别展出了多少组花灯？", False),  # 分别: one answer each
    ("How many units signed at the meeting?", False),  # the reader reads no English
])
def test_the_reader_orders_the_prompt_of_a_question_that_asks_one_thing(question, reads) -> None:
    from rag.answer.prompt import reads_for
    from rag.asked import question_of

    assert reads_for(question_of(question)) is reads


def test_with_reader_prompt_a_question_of_two_parts_is_shown_the_words_choice(fake_pipeline) -> None:
    from rag.answer.budget import format_budgeted
    from rag.answer.prompt import build_messages, term_weights
    from rag.guard import masked

    question = "对接会上有多少家单位签约？签约金额是多少？"
    pipe = fake_pipeline("16家单位签约[1]，金额3亿元[1]。", steps="reader_prompt")
    answer = pipe.ask(question)
    budget = pipe.settings.prompt_tokens
    assert pipe.generator.prompts[0] == build_messages(question, answer.passages, 0, budget=budget)
    # the reader's own order would have shown other sentences
    texts = [masked(p.chunk.text) for p in answer.passages]
    ordered = format_budgeted(answer.passages, term_weights(question, texts), budget, texts,
                              pipe.prompts.reader.scores(question, texts))
    assert ordered not in pipe.generator.prompts[0][1]["content"]


def test_probabilities_are_probabilities() -> None:
    reader = Reader.load()
    p = reader.probabilities(QUESTION, [Candidate(s) for s in (ANSWERING, TOPIC_ONLY, ELSEWHERE, "。", "")])
    assert p.shape == (5,) and np.all((p >= 0) & (p <= 1))


SHARED_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "train"


@pytest.mark.skipif(not (SHARED_TRAIN / "crud_train_qa.jsonl").is_file(), reason="../shared/train is not here")
def test_the_training_command_makes_the_shipped_weights_again(tmp_path: Path) -> None:
    """One command reproduces the model from ../shared/train, byte for byte (about 20 s)."""
    from rag.reader.train import train

    out = tmp_path / "reader.json"
    train(SHARED_TRAIN, out, log=lambda _: None)
    assert out.with_suffix(".sha256").read_text() == WEIGHTS.with_suffix(".sha256").read_text()


def test_the_suite_bench_counts_what_each_threshold_would_lose_and_win() -> None:
    from rag.bench.reader import curve, table

    seen = [{"set": "s", "id": "a", "answerable": True, "right": True, "best": 0.15},   # right, read low
            {"set": "s", "id": "b", "answerable": True, "right": False, "best": 0.35},  # wrong anyway
            {"set": "s", "id": "c", "answerable": False, "right": False, "best": 0.25},  # answered, should not be
            {"set": "s", "id": "d", "answerable": False, "right": True, "best": 0.05}]   # refused already
    rows = {c["threshold"]: c for c in curve(seen, thresholds=(0.1, 0.3, 0.5))}
    assert (rows[0.1]["refused"], rows[0.1]["lost"], rows[0.1]["won"]) == (1, 0, 0)
    assert (rows[0.3]["refused"], rows[0.3]["lost"], rows[0.3]["won"]) == (3, 1, 1)
    assert (rows[0.5]["refused"], rows[0.5]["lost"], rows[0.5]["won"]) == (4, 1, 1)
    text = table({"rows": [{"set": "s", "questions": 4, "right before": 2}], "curve": list(rows.values())})
    assert "| s | 4 | 0 |" in text and "| 0.3 | 3 | 1 | 1 |" in text
