"""The soak run in CI: the served app over a scripted model, several sessions using it as people do at once
(two questions at a time, stop, new conversation, reload) while documents are uploaded. Bounded: about
40 s, and it stops by itself. No question may hang or be lost."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from fakes import HashingEmbedder, close_page, free_port
from test_load import SlowScripted

from rag.bench.soak import judge, outcome, run_soak
from rag.pipeline import Pipeline
from rag.settings import Settings

QUESTIONS = ["对接会签约采购金额是多少？", "麓宇光电打算在益阳投资什么项目？", "今天天气怎么样？"]
REPLIES = {"签约采购金额": "总签约采购金额约3亿元[1]。", "麓宇光电": "该公司拟在益阳投资光电子集成产业化项目[1]。"}


def _pipeline(seeds_copy: Path, tmp_path: Path, delay: float) -> Pipeline:
    """A pipeline over the seed pages whose scripted model waits `delay` seconds before each piece it says, its
    index built."""
    s = Settings(seeds_dir=str(seeds_copy), index_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"),
                 data_dir=str(tmp_path / "data"))
    pipe = Pipeline(s, HashingEmbedder(), SlowScripted(REPLIES, delay=delay))
    pipe.ensure_index()
    return pipe


def test_sessions_using_the_page_at_once_leave_no_question_hung_or_lost(seeds_copy: Path, tmp_path: Path) -> None:
    import app as app_module

    pipe = _pipeline(seeds_copy, tmp_path, delay=0.04)

    def upload(i: int) -> None:  # what the library tab's upload does: the file into seeds/, then the index
        (seeds_copy / f"soak-{i}.md").write_text(f"# 测试稿件{i}\n\n第{i}篇稿件说，测试会议在长沙召开。\n",
                                                   encoding="utf-8")
        pipe.reindex()

    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    try:
        result = run_soak(f"http://127.0.0.1:{port}/", QUESTIONS, sessions=4, seconds=25, hang_s=40,
                          upload=upload, upload_every=6, log=print)
    finally:
        close_page(demo)
    print("soak:", result)
    assert result["hung"] == 0 and result["lost"] == 0, result
    assert result["sent"] == result["answered"] + result["refused"] + result["abandoned"], result
    assert result["sent"] >= 20 and result["answered"] >= 5 and result["uploads"] >= 2, result
    assert set(result["actions"]) == {"one", "two", "stop", "new", "reload"}, result
    assert pipe.generator.most == 1  # one use of the model at a time throughout
    assert pipe.line.waiting() == 0 and pipe.line.try_hold("after")  # nothing left holding the model


def _chat(*pairs: tuple[str, str]) -> list[dict]:
    return [m for q, a in pairs for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]


def test_the_judge_finds_each_question_and_the_end_of_its_answer() -> None:
    cited = "约3亿元[[1]](#src-1-1)。"
    draft = '<div class="draft-note">⏳</div><div class="draft">约3亿元</div>'
    assert judge(_chat(("甲？", cited), ("乙？", "已停止：回答还没开始生成。")), ["甲？", "乙？"]) == ["answered", "refused"]
    assert judge(_chat(("甲？", draft), ("乙？", cited)), ["甲？", "乙？"]) == ["lost", "answered"]  # a draft for good
    assert judge(_chat(("乙？", cited)), ["甲？", "乙？"]) == ["lost", "answered"]  # overwritten by the second
    # asked again later in the conversation: the newest one is judged, not the earlier answer
    assert judge(_chat(("甲？", cited), ("乙？", cited), ("甲？", draft)), ["甲？"]) == ["lost"]
    assert judge([{"role": "user", "content": [{"type": "text", "text": "甲？"}]},
                  {"role": "assistant", "content": "…"}], ["甲？"]) == ["lost"]
    assert outcome("⚠️ 语言模型忙") == "refused" and outcome("⏳ 排队等待语言模型") == "lost"
    # a question as the page escapes it: a real "&" or "-" is no lost question (a false "lost" of a real run)
    from rag.ui import as_text

    typed = "At the motor & casting supply-demand event (2026), what was signed?"
    assert judge(_chat((as_text(typed), cited)), [typed]) == ["answered"]


def test_a_page_that_leaves_while_its_questions_wait_lets_them_go_at_once(seeds_copy: Path, tmp_path: Path) -> None:
    """A page that goes away (reload, closed tab) cancels its questions. Gradio can close a handler only between
    two of its updates, and does it under a lock all the server's cancels share: a handler that sat in one wait
    until the answer before it ended held every other cancel up (in CI they took over 5 s, and a question hung).
    Waiting in the model's line, or behind the session's own earlier question, the handler hands control back."""
    from gradio_client import Client

    import app as app_module

    pipe = _pipeline(seeds_copy, tmp_path, delay=1.5)
    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        one, leaving = Client(url, verbose=False), Client(url, verbose=False)
        first = one.submit(QUESTIONS[0], [], api_name="/chat")
        assert _until(lambda: pipe.generator.running == 1, 20)  # the model is answering it, for seconds
        in_line = leaving.submit(QUESTIONS[1], [], api_name="/chat")  # the other page: in the model's line
        leaving.submit(QUESTIONS[0], [], api_name="/chat")  # and behind its own first question
        assert _until(lambda: pipe.line.waiting() == 1, 10)
        time.sleep(1.0)
        assert pipe.generator.running == 1 and not first.done()
        t0 = time.monotonic()
        in_line.cancel()  # what the page's going away does: Gradio cancels the session's questions
        took = time.monotonic() - t0
        assert took < 2.5, f"the cancel took {took:.1f} s"
        assert _until(lambda: pipe.line.waiting() == 0, 5)  # its place in line given up, not kept to the end
        assert _until(first.done, 30) and "3亿元" in str(first.result()[0])  # the first page is answered
        time.sleep(2.0)
        assert pipe.generator.running == 0 and pipe.line.try_hold("after")  # and no answer for the page gone
    finally:
        close_page(demo)


def _until(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def test_a_page_closed_while_answers_stream_closes_cleanly(seeds_copy: Path, tmp_path: Path) -> None:
    """Closing the page from another thread while a question streams: the stop event its streams wait on is
    set on the server's own loop (Gradio sets it from the caller's thread, which raced that loop: "deque
    mutated during iteration" in a teardown), and the port is free again."""
    import socket

    from gradio_client import Client

    import app as app_module

    pipe = _pipeline(seeds_copy, tmp_path, delay=1.0)
    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    Client(f"http://127.0.0.1:{port}/", verbose=False).submit(QUESTIONS[0], [], api_name="/chat")
    assert _until(lambda: pipe.generator.running == 1, 20)
    event = demo.app.stop_event
    close_page(demo)
    assert event.is_set()
    with pytest.raises(OSError):  # nothing listens on the page's port any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
