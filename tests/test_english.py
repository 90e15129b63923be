"""English claims over Chinese spans: numbers by value, names by pinyin, meaning by a similarity."""
from __future__ import annotations

import pytest

from rag.answer.cite import check_answer
from rag.embed import Similarity
from rag.answer.english import anchored, pinyin_names, sounds_in, values
from rag.answer.steps import STEPS, steps_of
from rag.errors import InputError
from rag.types import Chunk, Passage


@pytest.mark.parametrize(("text", "found"), [
    ("about 300 million yuan", {3e8}), ("3亿元", {3e8}), ("6800万", {6.8e7}), ("98%", {98.0}),
    ("flight MU5735 and ticker B00001", set()), ("1,200 people", {1200.0}),
])
def test_values(text: str, found: set[float]) -> None:
    assert values(text) == found


@pytest.mark.parametrize(("text", "found"), [
    ("Zhou Ran's wife is Lin Xiu.", [(["zhou", "ran"], True), (["lin", "xiu"], True)]),
    ("The fair opened in Anhua Xiangtan.", [(["an", "hua", "xiang", "tan"], True)]),
    ("He visited the Longping Rice Museum.", [(["long", "ping"], False), (["ri", "ce"], False)]),
    ("The Museum opened in Changsha.", [(["chang", "sha"], True)]),
    # run together, "Meixi Lake New Area" spells pinyin (mei xi la ke ne wa re a), but "New" is English: only
    # the words that are pinyin are names, and they may stand (defect: the whole run had to)
    ("It lies in the Meixi Lake New Area.", [(["mei", "xi"], False), (["la", "ke"], False), (["a", "re", "a"], False)]),
])
def test_pinyin_names(text: str, found: list) -> None:
    assert pinyin_names(text) == found


@pytest.mark.parametrize(("name", "span", "read"), [
    (["deng", "ze"], "袁隆平邓则夫妻与谢长江等学生", True), (["xie", "chang", "jiang"], "与谢长江等学生", True),
    (["deng", "ze"], "袁隆平与学生", False), (["ze", "deng"], "邓则", False),
    (["chang", "sha"], "长沙市", True),  # 长 read chang or zhang: every reading counts
])
def test_sounds_in(name: list[str], span: str, read: bool) -> None:
    assert sounds_in(name, span) is read


@pytest.mark.parametrize(("claim", "span", "question", "result"), [
    ("His wife was Lin Xiu.", "周然林秀夫妻", "Who was Zhou Ran's wife?", True),
    ("His wife was Xie Changjiang.", "周然林秀夫妻", "Who was Zhou Ran's wife?", False),
    ("It cost 300 million yuan.", "投资3亿元", "", True),
    ("It cost 500 million yuan.", "投资3亿元", "", False),
    ("It was free to visit.", "免费向公众开放", "", None),  # nothing to find it by: meaning decides
    ("The park is less than 30 kilometres from the Meixi Lake New Area.", "公园距梅溪湖新区不到30公里", "", True),
    ("Zhou Ran wrote the letters.", "周然写的信", "Who is Zhou Ran?", None),  # the name is the question's
])
def test_anchored(claim: str, span: str, question: str, result: bool | None) -> None:
    assert anchored(claim, span, question) is result


def _passage(rank: int, text: str, article: str) -> Passage:
    return Passage(Chunk(id=f"c{rank}", article_id=article, title=article, source="s.txt", start=0, end=len(text),
                         text=text), score=1.0, rank=rank)


MUSEUM = _passage(1, "隆平水稻博物馆获赠一批资料。这批资料将在隆平厅展出，免费向公众开放。", "museum")
FLOOD = _passage(2, "全省4月1日正式入汛。山洪地质灾害风险同步攀升，免费转移安置群众3亿人次。", "flood")


def _meaning(table: dict[str, float]):
    """A similarity that knows which passage sentences each claim means (by a word of them), 0.1 otherwise."""
    return lambda claim, texts: [max((v for k, v in table.items() if k in t), default=0.1) for t in texts]


def test_a_claim_with_nothing_to_match_is_judged_by_meaning() -> None:
    meaning = _meaning({"隆平厅展出": 0.6, "隆平水稻博物馆": 0.5})
    text, citations, dropped = check_answer("They will be shown free of charge in the Longping Hall[1].",
                                            [MUSEUM, FLOOD], "Where will the materials be shown?", meaning)
    assert [c.quote for c in citations] == ["这批资料将在隆平厅展出，免费向公众开放。"] and not dropped


def test_a_shared_figure_on_another_matter_is_not_support() -> None:
    # 3亿 stands in the flood passage, but the claim means nothing of it
    meaning = _meaning({"隆平": 0.6})
    _, citations, dropped = check_answer("The museum received 300 million yuan[2].", [MUSEUM, FLOOD],
                                         "How much did the museum receive?", meaning)
    assert not citations and dropped == ["The museum received 300 million yuan."]


def test_an_english_clause_is_judged_by_the_meaning_of_its_sentence() -> None:
    # the year is made up, so the sentence stands nowhere; its clause "On March 3" holds the date, and what
    # it means is what the whole sentence says ("On March 3" alone means nothing of the museum)
    letters = _passage(1, "3月3日，隆平水稻博物馆获赠一批书信。", "museum")
    def meaning(claim, texts):
        return [0.6 if "museum" in claim and "博物馆" in t else 0.1 for t in texts]
    text, citations, dropped = check_answer("On March 3, 2019, the museum received the letters.", [letters],
                                            "When did the museum receive the letters?", meaning)
    assert text == "On March 3[1]." and [c.claim for c in citations] == ["On March 3"] and dropped == ["2019"]


def test_without_meaning_a_claim_with_nothing_to_match_is_dropped() -> None:
    _, citations, dropped = check_answer("They will be shown free of charge[1].", [MUSEUM], "Where?")
    assert not citations and dropped


def test_similarity_keeps_vectors() -> None:
    from fakes import HashingEmbedder

    embedder = HashingEmbedder(dim=4096)
    sim = Similarity(embedder)
    first = sim("隆平厅", [MUSEUM.chunk.text, FLOOD.chunk.text, MUSEUM.chunk.text])
    calls = embedder.calls
    assert calls == 1  # the texts not seen yet, in one batch
    assert first[2] == first[0]
    assert sim("隆平厅", [MUSEUM.chunk.text]) == first[:1] and embedder.calls == calls
    assert first[0] > first[1]


def test_steps_are_named() -> None:
    assert steps_of(",".join(STEPS)) == frozenset(STEPS)
    with pytest.raises(InputError, match="unknown answer step nope"):
        steps_of("kind_check,nope")


@pytest.mark.parametrize(("claim", "span", "result"), [
    ("The meeting was chaired by Wang一光.", "省政协副主席汪一光主持召开", True),  # a name glued to Chinese
    ("The winner was 湖南星沙智造科技.", "湖南星沙智造科技有限公司获奖", True),
    ("The winner was 湖南智造星沙科技.", "湖南星沙智造科技有限公司获奖", False),  # Chinese in the claim, as written
    ("No, it is free.", "免费向大众开放", None),  # "No" spells no pinyin name (n-o are interjections)
])
def test_anchors_in_mixed_claims(claim: str, span: str, result: bool | None) -> None:
    assert anchored(claim, span) is result


def test_each_part_brings_its_best_passage() -> None:
    from rag.live_index import with_part_passages

    a, b, c, d, e = (_passage(i, f"段落{i}", f"art{i}") for i in range(1, 6))
    # the whole question found a, b, c (k=3); the parts' best are a and e: e takes c's place
    assert [p.chunk.id for p in with_part_passages([a, b, c, d], [[a], [e]], 3)] == ["c1", "c2", "c5", "c3", "c4"]
    # both parts' best already among the first k: nothing moves
    assert with_part_passages([a, b, c], [[b], [a]], 3) == [a, b, c]
    # fewer passages than k: the part's best is added
    assert [p.chunk.id for p in with_part_passages([a], [[a], [e]], 3)] == ["c1", "c5"]


@pytest.mark.parametrize(("sims", "cited"), [
    ({"隆平": 0.3, "入汛": 0.1}, [1]),  # the best passage, though below the sentence threshold
    ({"隆平": 0.3, "入汛": 0.25, "安置": 0.45}, [1, 2]),  # both near: the figure decides (3亿 is the flood page's)
    ({"隆平": 0.3, "入汛": 0.3}, []),  # the figure stands in a sentence that means something else
    ({"隆平": 0.15, "入汛": 0.1}, []),  # nothing near enough
])
def test_a_claims_passage_is_the_nearest_in_meaning(sims: dict[str, float], cited: list[int]) -> None:
    from rag.answer.english import english_span

    found = [english_span("They moved 300 million people.", [MUSEUM, FLOOD], "How many?", _meaning(sims))]
    assert [f[1] for f in found if f] == ([2] if 2 in cited else [])
