"""Many sessions at once against the served app: over a slow scripted model (fast test, mechanics) and
over the real models (`-m models`, figures saved to test-artifacts/load.json)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fakes import HashingEmbedder, ScriptedGenerator, close_page, free_port

from rag.bench.load import run_load
from rag.pipeline import Pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# (question, text its answer must contain): distinct answers, so a mixed-up answer is caught.
CASES = [
    ("对接会签约采购金额是多少？", "3亿元"),
    # two parts, one answer (the confirm step doubts "全省拥有电机企业近500家" for "湖南有多少家电机企业", P(否)
    # 0.45, so a question on it is no longer one whose answer every session can count on)
    ("麓宇光电打算在益阳投资什么项目？总投资多少？", "6800万元"),
    ("益阳已有几家企业同湘江新区企业建立了稳定的供需关系？", "18家"),
    ("长沙的智能产线多少分钟能造出一台挖掘机？", "6分钟"),
    ("“建强用好科创平台”专题协商会由哪位省政协领导主持？", "汪一光"),
]


class SlowScripted(ScriptedGenerator):
    """Answers from the passage it is given, slowly, and notes how many answers ran at the same time."""

    def __init__(self, replies: dict[str, str], delay: float) -> None:
        super().__init__("")
        self.replies, self.delay, self.running, self.most = replies, delay, 0, 0

    def stream(self, messages, max_tokens=160):
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            question = messages[-1]["content"].rsplit("问题：", 1)[-1]
            reply = next((r for q, r in self.replies.items() if q in question), "资料中没有找到。")
            for i in range(0, len(reply), 4):
                time.sleep(self.delay)
                yield reply[i:i + 4]
        finally:
            self.running -= 1


def _serve(pipe: Pipeline):
    import app as app_module

    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    return demo, f"http://127.0.0.1:{port}/"


def _fake_pipe(seeds_copy: Path, tmp_path: Path, delay: float, **settings) -> Pipeline:
    replies = {"签约采购金额": "总签约采购金额约3亿元[1]。", "麓宇光电": "该公司拟在益阳投资光电子集成产业化项目，总投资6800万元[1]。"}
    s = Settings(seeds_dir=str(seeds_copy), index_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"),
                 data_dir=str(tmp_path / "data"), **settings)
    pipe = Pipeline(s, HashingEmbedder(), SlowScripted(replies, delay))
    pipe.ensure_index()
    return pipe


def test_twenty_sessions_are_served_one_answer_at_a_time(seeds_copy: Path, tmp_path: Path) -> None:
    pipe = _fake_pipe(seeds_copy, tmp_path, delay=0.03)
    demo, url = _serve(pipe)
    try:
        result = run_load(url, CASES[:2], sessions=20)
    finally:
        close_page(demo)
    assert result["errors"] == 0 and result["wrong_or_uncited"] == 0, result["failures"]
    assert result["requests"] == 20
    assert pipe.generator.most == 1  # generation is serialized by the queue, not by luck
    assert result["queued_sessions"] > 0  # waiting sessions were told their place in the queue


def test_a_full_queue_says_busy_instead_of_hanging(seeds_copy: Path, tmp_path: Path) -> None:
    import app as app_module

    pipe = _fake_pipe(seeds_copy, tmp_path, delay=0.1, max_waiting=2)
    demo, url = _serve(pipe)
    try:
        t = time.perf_counter()
        # ANSWERING questions are taken at once (retrieving, then waiting in the pipeline's line), two more
        # may wait in Gradio's queue: the rest must be told the queue is full.
        result = run_load(url, CASES[:1], sessions=app_module.ANSWERING + 6)
        took = time.perf_counter() - t
    finally:
        close_page(demo)
    refused = [f for f in result["failures"] if f["error"]]
    assert refused and all("queue" in f["error"].lower() or "full" in f["error"].lower() for f in refused), refused
    assert result["requests"] - len(refused) >= 1 and took < 60
    assert all(not f["problems"] for f in result["failures"])  # the ones served were right


@pytest.mark.models
def test_twenty_sessions_against_the_real_models(tmp_path: Path) -> None:
    """The load test proper: the real app with the packaged models, 20 sessions at once."""
    import shutil

    from rag.pipeline import pipeline_for
    from rag.settings import load_settings

    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    settings = load_settings(env={}).replace(seeds_dir=str(seeds), index_dir=str(tmp_path / "idx"),
                                             data_dir=str(tmp_path / "data"))
    pipe = pipeline_for(settings)
    demo, url = _serve(pipe)
    try:
        result = run_load(url, CASES, sessions=20, log=print)
    finally:
        close_page(demo)
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nload: {result['sessions']} sessions, {result['requests']} requests, {result['errors']} errors, "
          f"{result['wrong_or_uncited']} wrong or uncited, p50 {result['p50_s']} s, p95 {result['p95_s']} s, "
          f"wall {result['wall_s']} s, sources on screen p50 {result['sources_p50_s']} s, "
          f"max queue rank {result['max_queue_rank']}")
    assert result["errors"] == 0, result["failures"]
    # The model may word an answer differently under the same prompt; a mixed-up or uncited answer is
    # what must never happen.
    assert not [f for f in result["failures"] if any("own turn" in p or "not cited" in p for p in f["problems"])], \
        result["failures"]
    assert result["queued_sessions"] > 0


class Cancellable(SlowScripted):
    def __init__(self, replies: dict[str, str], delay: float) -> None:
        super().__init__(replies, delay)
        import threading

        self.stop = threading.Event()

    def cancel(self) -> None:
        self.stop.set()

    def stream(self, messages, max_tokens=160):
        self.stop.clear()
        for piece in super().stream(messages, max_tokens):
            if self.stop.is_set():
                return
            yield piece


def test_waiting_questions_see_their_passages_and_place_and_stop_only_their_own(seeds_copy: Path,
                                                                              tmp_path: Path) -> None:
    import threading

    long = "总签约采购金额约3亿元，" * 60 + "[1]。"  # ~9 s of pieces: a is still being generated below
    s = Settings(seeds_dir=str(seeds_copy), index_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"))
    gen = Cancellable({"签约采购金额": long, "麓宇光电": "该公司拟在益阳投资光电子集成产业化项目，总投资6800万元[1]。"}, delay=0.05)
    pipe = Pipeline(s, HashingEmbedder(), gen)
    pipe.ensure_index()
    events: dict[str, list] = {"a": [], "b": [], "c": []}
    started = threading.Event()

    def ask(key: str, question: str) -> None:
        for event in pipe.stream(question, key=key):
            events[key].append(event)
            if event.kind == "token":
                started.set()

    a = threading.Thread(target=ask, args=("a", CASES[0][0]))
    a.start()
    assert started.wait(10)
    b = threading.Thread(target=ask, args=("b", CASES[1][0]))
    c = threading.Thread(target=ask, args=("c", CASES[1][0]))
    b.start()
    time.sleep(0.3)
    c.start()
    time.sleep(0.5)
    kinds_b = [e.kind for e in events["b"]]
    assert kinds_b[:2] == ["passages", "waiting"] and events["b"][1].text == "1"  # passages at once, then its place
    assert [e.text for e in events["c"] if e.kind == "waiting"][:1] == ["2"]
    assert pipe.waiting() == 2
    pipe.cancel("c")  # c stops while waiting: it is never generated; a and b go on
    c.join(10)
    assert events["c"][-1].answer.text == "已停止：回答还没开始生成。"
    assert not [e for e in events["c"] if e.kind == "token"]
    pipe.cancel("b")  # b is waiting too
    pipe.cancel("a")  # a is being generated: it stops at its next piece
    a.join(10)
    b.join(10)
    assert len("".join(e.text for e in events["a"] if e.kind == "token")) < len(long)
    assert events["b"][-1].answer.text.startswith("已停止") and pipe.waiting() == 0
    again = pipe.ask(CASES[1][0])  # the line is empty and the model free again
    assert "6800万元" in again.text
