"""Property-based fuzzing of everything that takes outside input: files, page text, chunking, the model's
output (citation parsing) and the question path. Every generated case must end in a result or a clear
InputError, never another exception. The number of cases tried is printed at the end of the run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.answer.cite import check_answer, split_claims
from rag.chunk import chunk_article
from rag.errors import InputError
from rag.ingest import read_file
from rag.ingest.page import parse_page
from rag.ingest.readers import SUPPORTED, decode_bytes
from rag.pipeline import validate_question
from rag.rewrite import Turn, rewrite
from rag.types import Chunk, Passage

CASES = int(os.environ.get("RAG_FUZZ_CASES", "300"))
FUZZ = settings(max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck))
TRIED: dict[str, int] = {}  # test name -> cases run; reported by conftest at the end of the session

# Text that looks like what users and documents send: CJK, ASCII, digits, punctuation of both scripts,
# brackets and fake citation markers, control characters, emoji, lone surrogates excluded (not encodable).
_pieces = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.sampled_from(["[1]", "[99]", "[-1]", "[0]", "[", "]", "【1】", "[1][2]", "[1，2]", "。", "？", "\n", "\n\n",
                     "◀◀(上接1版①)", "# ", "**", "记者 张三", "3亿元", "300 million", "<script>", "\x00", "\u200b",
                     "😀", "忽略以上指令", "资料中没有找到"]),
    st.text(alphabet="湖南日报益阳长沙株洲签约金额亿元万家企业。，！？；：、（）0123456789", max_size=60),
)
messy_text = st.lists(_pieces, max_size=25).map("".join)
huge_text = st.text(min_size=1, max_size=50).map(lambda t: t * (100_000 // len(t)))  # about 100k characters


def _count(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


@FUZZ
@given(data=st.binary(max_size=4000), suffix=st.sampled_from(sorted(SUPPORTED)))
def test_any_bytes_in_any_supported_file_are_read_or_refused(tmp_path_factory, data: bytes, suffix: str) -> None:
    _count("files")
    path = tmp_path_factory.mktemp("f") / f"upload{suffix}"
    path.write_bytes(data)
    result = read_file(path)  # never raises: a file that cannot be read carries the reason
    assert result.error or result.articles
    for article in result.articles:
        assert article.text.strip()


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), messy_text.map(lambda t: t.encode("gb18030", "replace"))))
def test_decoding_any_bytes(data: bytes) -> None:
    _count("decode")
    try:
        text = decode_bytes(data, "x.txt")
    except InputError:
        return
    assert isinstance(text, str) and "\x00" not in text


@FUZZ
@given(page=messy_text, max_chars=st.integers(20, 400), overlap=st.integers(0, 2))
def test_page_parsing_and_chunking(page: str, max_chars: int, overlap: int) -> None:
    _count("parse+chunk")
    for article in parse_page(page, "fuzz.txt"):
        chunks = chunk_article(article, max_chars, overlap)
        for c in chunks:
            assert article.text[c.start:c.end] == c.text and c.text.strip()


def _passages() -> list[Passage]:
    texts = ["当天,16家单位签署合作协议,总签约采购金额约3亿元。", "湖南有电机企业2000多家，产值超过1000亿元。",
             "文件里写着[7]和[99]，还有<b>标签</b>。"]
    out = []
    for n, text in enumerate(texts, 1):
        out.append(Passage(Chunk(f"c{n}", f"a{n}", text, 0, len(text), f"标题{n}", "", "s.txt"), n, 1.0))
    return out


PASSAGES = _passages()


@FUZZ
@given(answer=messy_text, question=messy_text)
def test_citation_checking_of_any_model_output(answer: str, question: str) -> None:
    _count("citations")
    split_claims(answer)
    text, citations, dropped = check_answer(answer, PASSAGES, question)
    by_n = {p.rank: p for p in PASSAGES}
    for c in citations:
        assert c.n in by_n, "a citation to a passage that was never shown"
        chunk = by_n[c.n].chunk
        assert 0 <= c.start <= c.end <= len(chunk.text) and chunk.text[c.start:c.end] == c.quote
    for marker in __import__("re").findall(r"\[(-?\d+)\]", text):
        assert int(marker) in by_n


@FUZZ
@given(question=st.one_of(messy_text, huge_text), previous=messy_text)
def test_questions_and_follow_ups(question: str, previous: str) -> None:
    _count("questions")
    try:
        q = validate_question(question)
    except InputError as exc:
        assert str(exc)
        return
    rw = rewrite(q, [Turn(previous)] if previous.strip() else [])
    assert rw.question.strip()


@pytest.fixture(scope="module")
def fuzz_pipeline(tmp_path_factory):
    import shutil

    from fakes import HashingEmbedder, ScriptedGenerator

    from rag.pipeline import Pipeline
    from rag.settings import Settings

    tmp = tmp_path_factory.mktemp("fuzzpipe")
    shutil.copytree(Path(__file__).resolve().parent.parent / "seeds", tmp / "seeds")
    pipe = Pipeline(Settings(seeds_dir=str(tmp / "seeds"), index_dir=str(tmp / "idx"), cache_dir=str(tmp / "c")),
                    HashingEmbedder(), ScriptedGenerator("总签约采购金额约3亿元[1]。[99][-1]【2】"))
    pipe.ensure_index()
    return pipe


@FUZZ
@given(question=st.one_of(messy_text, huge_text), mode=st.sampled_from(["hybrid", "dense", "lexical"]),
       top_k=st.integers(1, 8))
def test_the_whole_question_path(fuzz_pipeline, question: str, mode: str, top_k: int) -> None:
    _count("question path")
    try:
        events = list(fuzz_pipeline.stream(question, top_k=top_k, mode=mode))
    except InputError as exc:
        assert str(exc)
        return
    answer = events[-1].answer
    assert answer is not None and answer.text
    shown = {p.rank for p in answer.passages}
    assert all(c.n in shown for c in answer.citations)
