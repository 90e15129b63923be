"""`rag eval --suite`: sets over their own corpora, sampled, summarised per set, per kind and for the whole."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import HashingEmbedder

from rag import suite
from rag.errors import InputError
from rag.suite import QuestionSet

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _one_set(tmp_path: Path, items: list[dict]) -> tuple[Path, tuple]:
    """A suite folder of one set, `items` over the seed pages."""
    folder = tmp_path / "eval"
    _write(folder / "q.jsonl", items)
    (folder / "pages").mkdir()
    for page in SEEDS.iterdir():
        (folder / "pages" / page.name).write_bytes(page.read_bytes())
    return folder, (QuestionSet("pages", "q.jsonl", "pages"),)


@pytest.mark.parametrize(("n", "expected"), [(0, list(range(10))), (10, list(range(10))), (20, list(range(10))),
                                             (5, [0, 2, 4, 6, 8]), (3, [0, 3, 6])])
def test_sample_spreads_over_the_file(n: int, expected: list[int]) -> None:
    assert [it["i"] for it in suite.sample([{"i": i} for i in range(10)], n)] == expected


def test_select_names_sets_and_rejects_unknown_ones() -> None:
    assert suite.select("all") == suite.SETS
    assert [s.name for s in suite.select("rgb,dev")] == ["rgb", "dev"]
    with pytest.raises(InputError, match="unknown question set nope"):
        suite.select("dev,nope")


def test_an_archive_file_is_indexed_from_a_folder_of_its_own(tmp_path: Path) -> None:
    archive = tmp_path / "data" / "news.jsonl"
    _write(archive, [{"id": "x", "text": "一条新闻。"}])
    (archive.parent / "questions.jsonl").write_text("{}\n", encoding="utf-8")  # not to be indexed with it
    folder = suite.corpus_folder(archive, tmp_path / "work")
    assert [p.name for p in folder.iterdir()] == ["news.jsonl"]
    assert suite.corpus_folder(archive, tmp_path / "work") == folder  # made once
    assert suite.corpus_folder(SEEDS, tmp_path / "work") == SEEDS
    with pytest.raises(InputError, match="does not exist"):
        suite.corpus_folder(tmp_path / "missing.jsonl", tmp_path / "work")


def test_run_suite_gives_a_row_per_set_per_kind_and_for_all(fake_pipeline, tmp_path: Path) -> None:
    base = fake_pipeline("总签约采购金额约3亿元[1]。")
    folder = tmp_path / "eval"
    _write(folder / "seeds.jsonl", [
        {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "match": "any", "answerable": True},
        {"id": "b", "question": "对接会上签了多少钱的采购？", "answers": ["5亿元"], "match": "any", "answerable": True}])
    (folder / "pages").mkdir()
    for page in SEEDS.iterdir():
        (folder / "pages" / page.name).write_bytes(page.read_bytes())
    _write(folder / "news" / "corpus.jsonl", [{"id": "n1", "text": "某市今年举办龙舟赛，共有40支队伍参赛。"}])
    _write(folder / "news" / "qa.jsonl", [
        {"id": "c", "question": "龙舟赛有多少支队伍？", "answers": ["40支"], "type": "noise", "answerable": True},
        {"id": "d", "question": "明年的龙舟赛在哪里办？", "answers": [], "type": "unanswerable", "answerable": False}])
    sets = (QuestionSet("pages", "seeds.jsonl", "pages"),
            QuestionSet("news", "news/qa.jsonl", "news/corpus.jsonl", "other-embedder",
                        rows={"unanswerable": "news rejection"}))
    made = []
    result = suite.run_suite(base.settings, folder, tmp_path / "work", sets, log=lambda line: None, label="t",
                             base=base, make_embedder=lambda s: made.append(s.embedder) or HashingEmbedder())
    rows = {r["set"]: r for r in result["rows"]}
    assert list(rows) == ["pages", "news", "news rejection", "all"] and made == ["other-embedder"]
    assert rows["pages"]["answer_accuracy"] == 0.5 and rows["pages"]["items"] == 2
    assert rows["news rejection"]["items"] == 1 and rows["news rejection"]["refusal_accuracy"] == 1.0
    assert rows["news"]["embedder"] == "hashing-test" and rows["all"]["items"] == 4
    # each question's outcome, one small line each, without its text (for bench/: the next change's before)
    import json

    kept = [json.loads(line) for line in (tmp_path / "work" / "results-t.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["set"], r["id"], r["correct"]) for r in kept] == [("pages", "a", True), ("pages", "b", False),
                                                                   ("news", "c", False), ("news", "d", None)]
    assert not any("question" in r for r in kept)
    assert (tmp_path / "work" / "answers-t" / "news.jsonl").is_file()
    table = suite.table(result)
    assert table.splitlines()[2].startswith("| pages | hashing") and "| **all** |" in table


def test_saved_answers_are_scored_again_the_same(fake_pipeline, tmp_path: Path) -> None:
    from rag.evaluate import answer_from_json, answer_to_json, load_items

    base = fake_pipeline("总签约采购金额约3亿元[1]。")
    folder, sets = _one_set(tmp_path, [
        {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "answerable": True,
         "evidence": ["总签约采购金额约3亿元"]},
        {"id": "b", "question": "下一届对接会在哪里办？", "answers": [], "answerable": False}])
    ran = suite.run_suite(base.settings, folder, tmp_path / "work", sets, log=lambda line: None, label="r", base=base)
    again = suite.rescore_suite(folder, tmp_path / "work", sets, label="r")
    keys = ("answer_accuracy", "refusal_accuracy", "false_refusal_rate", "citation_precision", "citation_recall")
    assert [[row[k] for k in keys] for row in ran["rows"]] == [[row[k] for k in keys] for row in again["rows"]]
    # checked again from what the model said, with every step on: the same figures
    rechecked = suite.rescore_suite(folder, tmp_path / "work", sets, label="r", settings=base.settings,
                                    make_embedder=lambda s: HashingEmbedder())
    assert [[row[k] for k in keys] for row in ran["rows"]] == [[row[k] for k in keys] for row in rechecked["rows"]]
    answer = base.ask(load_items(folder / "q.jsonl")[0]["question"])
    assert answer.raw == "总签约采购金额约3亿元[1]。"
    assert answer_from_json(answer_to_json(answer)).citations == answer.citations
    with pytest.raises(InputError, match="no saved answers"):
        suite.rescore_suite(folder, tmp_path / "work", sets, label="nope")


def test_the_budget_bench_answers_the_same_questions_per_budget_side_by_side(fake_pipeline, tmp_path: Path) -> None:
    from rag.bench.budget import budget_bench, budget_table

    base = fake_pipeline("总签约采购金额约3亿元[1]。")
    folder, sets = _one_set(tmp_path, [
        {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "answerable": True},
        {"id": "b", "question": "下一届对接会在哪里办？", "answers": [], "answerable": False}])
    result = budget_bench(base.settings, folder, tmp_path / "work", [0, 60], sets, 0, log=lambda line: None,
                          base=base)
    assert [r["budget"] for r in result["rows"]] == [0, 60] and result["rows"][1]["sets"]["pages"] == 1.0
    # each budget's prompts were asked: the 60-token ones are the shorter
    first, second = base.generator.prompts[0][1]["content"], base.generator.prompts[-2][1]["content"]
    assert len(second) < len(first)
    table = budget_table(result)
    assert "0 (before: passage_chars)" in table and "| 60 | 2 | 1.00 |" in table
    assert (tmp_path / "work" / "answers-budget-60" / "pages.jsonl").is_file()


def test_the_budget_bench_counts_the_answers_that_took_a_second_look_and_their_wait(fake_pipeline,
                                                                                     tmp_path: Path) -> None:
    from fakes import ScriptedGenerator

    from rag.answer.prompt import SECOND_LOOK
    from rag.bench.budget import budget_bench, budget_table

    class RefusesFirst(ScriptedGenerator):
        """Refuses every first prompt; answers when it looks again."""

        def stream(self, messages, max_tokens=160):
            self.prompts.append(messages)
            yield "总签约采购金额约3亿元[1]。" if messages[0]["content"] == SECOND_LOOK else "资料中没有找到这个问题的答案。"

    base = fake_pipeline("x")
    base.generator = RefusesFirst("x")
    folder, sets = _one_set(tmp_path, [
        {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "answerable": True},
        {"id": "b", "question": "下一届对接会在哪里办？", "answers": [], "answerable": False}])
    result = budget_bench(base.settings, folder, tmp_path / "work", [300], sets, 0, log=lambda line: None, base=base)
    row = result["rows"][0]
    assert row["answer_accuracy"] == 1.0 and row["looked_again"] == 2 and row["looked_again_ms_p50"] is not None
    assert "| 2: " in budget_table(result)


def test_the_ablation_counts_what_each_checking_step_changes_on_the_same_model_output(fake_pipeline,
                                                                                      tmp_path: Path) -> None:
    """The model gives the topic of the ratio but not the ratio: with kind_check on, that is a refusal (right
    for the question the pages do not answer, wrong for the one they do); off, it stands."""
    base = fake_pipeline("新增企业的税收，双方按一定比例分成[1]。", steps="kind_check")
    folder, sets = _one_set(tmp_path, [
        {"id": "a", "question": "产业协作飞地里新企业缴的税，两地按几比几来分？", "answers": ["比例分成"], "answerable": True},
        {"id": "b", "question": "飞地里新企业的税按几比几分，从哪年开始？", "answers": [], "answerable": False}])
    suite.run_suite(base.settings, folder, tmp_path / "work", sets, log=lambda line: None, label="r", base=base)
    rows = suite.ablate_suite(folder, tmp_path / "work", base.settings, ["kind_check", "scope_check"], sets,
                              label="r", make_embedder=lambda s: HashingEmbedder())
    kind, scope = rows
    assert kind["switched"] == "off" and kind["changed"] == 2
    assert kind["right_to_wrong"] == 1 and kind["wrong_to_right"] == 1 and kind["moved"]
    assert scope["switched"] == "on" and scope["changed"] == 0 and scope["moved"] == []
    table = suite.ablation_table(rows)
    assert "| `kind_check` | off | 2 | 1 | 1 |" in table and "| `scope_check` | on | 0 | 0 | 0 | nothing |" in table
    with pytest.raises(InputError, match="unknown answer step"):
        suite.ablate_suite(folder, tmp_path / "work", base.settings, ["no_such_step"], sets, label="r")


def test_the_confirm_curve_refuses_the_saved_answers_doubted_above_each_threshold(fake_pipeline, tmp_path: Path) -> None:
    """Both answers are the same supported sentence, the model doubting it 0.3: right for the question the
    pages answer, wrong for the one they do not. Refused above 0.2, the one turns wrong and the other right;
    above 0.5 nothing changes."""
    from fakes import DoubtingGenerator

    base = fake_pipeline("总签约采购金额约3亿元[1]。")
    base.generator = DoubtingGenerator("总签约采购金额约3亿元[1]。", 0.3)
    folder, sets = _one_set(tmp_path, [
        {"id": "a", "question": "对接会签约采购金额是多少？", "answers": ["3亿元"], "answerable": True},
        {"id": "b", "question": "下一届对接会的签约采购金额是多少？", "answers": [], "answerable": False}])
    suite.run_suite(base.settings.replace(confirm_threshold=1.0), folder, tmp_path / "work", sets,
                    log=lambda line: None, label="r", base=base)
    saved = [json.loads(line) for line in (tmp_path / "work" / "answers-r" / "pages.jsonl").read_text().splitlines()]
    assert [row["doubt"] for row in saved] == [0.3, 0.3]
    (low, high), _ = suite.confirm_report(folder, tmp_path / "work", base.settings, [0.2, 0.5], sets, label="r",
                                          make_embedder=lambda s: HashingEmbedder())
    assert (low["changed"], low["right_to_wrong"], low["wrong_to_right"]) == (2, 1, 1)
    assert (high["changed"], high["right_to_wrong"], high["wrong_to_right"]) == (0, 0, 0)
    assert "| `confirm above 0.2` | on | 2 | 1 | 1 |" in suite.ablation_table([low, high])
    with pytest.raises(InputError, match="between 0 and 1"):
        suite.confirm_report(folder, tmp_path / "work", base.settings, [1.5], sets, label="r")
    # the same doubt for the right answer and the wrong one: no better than chance
    assert suite.confirm_report(folder, tmp_path / "work", base.settings, (), sets, label="r",
                                make_embedder=lambda s: HashingEmbedder())[1] == {"answers": 2, "wrong": 1, "auc": 0.5}
    # the wrong answer (to the question the pages do not answer) doubted more: they are told apart
    path = tmp_path / "work" / "answers-r" / "pages.jsonl"
    path.write_text("\n".join(json.dumps({**row, "doubt": 0.6 if row["id"] == "b" else 0.1}, ensure_ascii=False)
                              for row in saved) + "\n", encoding="utf-8")
    assert suite.confirm_report(folder, tmp_path / "work", base.settings, (), sets, label="r",
                                make_embedder=lambda s: HashingEmbedder())[1]["auc"] == 1.0


def test_the_confirm_threshold_is_chosen_on_held_out_training_questions(fake_pipeline, tmp_path: Path) -> None:
    """One answerable question and two the article does not answer, all given the same supported sentence that
    the model doubts 0.3: refusing above 0.25 makes two of three right, keeping it one; the highest such
    threshold is chosen. Only questions of the choosing split are asked."""
    from fakes import DoubtingGenerator

    from rag.bench.confirm_fit import confirm_fit_table, fit_confirm
    from rag.reader.heldout import split_of

    ids = [f"a{i}" for i in range(200)]
    chosen = next(i for i in ids if split_of(f"crud:{i}") == "choose")
    other = next(i for i in ids if split_of(f"crud:{i}") == "fit")
    train = tmp_path / "train"
    _write(train / "crud_train_news.jsonl", [
        {"id": chosen, "date": "", "text": "对接会在长沙举行。当天,16家单位签署合作协议,总签约采购金额约3亿元。"},
        {"id": other, "date": "", "text": "龙舟赛在汨罗举行，共有40支队伍参赛。"}])
    question = {"answers": ["3亿元"], "match": "any", "sources": [chosen], "type": "train"}
    _write(train / "crud_train_qa.jsonl", [
        {**question, "id": "q1", "question": "对接会签约采购金额是多少？", "answerable": True},
        {**question, "id": "q2", "question": "下一届对接会的签约采购金额是多少？", "answers": [], "answerable": False},
        {**question, "id": "q3", "question": "对接会上届的签约采购金额是多少？", "answers": [], "answerable": False},
        {"id": "q4", "question": "龙舟赛有多少支队伍？", "answers": ["40支"], "match": "any", "sources": [other],
         "answerable": True, "type": "train"}])
    base = fake_pipeline("总签约采购金额约3亿元[1]。")
    base.generator = DoubtingGenerator("总签约采购金额约3亿元[1]。", 0.3)
    result = fit_confirm(base.settings, train, tmp_path / "work", 10, log=lambda line: None, base=base,
                         make_embedder=lambda s: HashingEmbedder())
    assert result["questions"] == 3 and result["right_with_step_off"] == 1
    assert {c["threshold"]: c["right"] for c in result["curve"]}[0.25] == 2
    assert {c["threshold"]: c["right"] for c in result["curve"]}[0.3] == 1
    assert result["threshold"] == 0.25 and "chosen: 0.25" in confirm_fit_table(result)


@pytest.mark.parametrize(("rights", "questions", "threshold"), [
    ([76, 75, 75, 71, 69], 120, 0.25),  # one standard error is 5.3 questions: 71 is within it, 69 is not
    ([76, 60, 60, 60, 60], 120, 0.1),  # the best stands out
    ([2, 2, 2, 2, 2], 0, 0.3),  # nothing to tell them apart: the highest
])
def test_the_highest_threshold_within_one_standard_error_of_the_best_is_chosen(rights: list[int], questions: int,
                                                                                threshold: float) -> None:
    from rag.bench.confirm_fit import chosen

    curve = [{"threshold": t, "right": r} for t, r in zip((0.1, 0.15, 0.2, 0.25, 0.3), rights)]
    assert chosen(curve, questions) == threshold
