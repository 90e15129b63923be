"""A stalled question logs where every thread is; one that ends in time logs nothing."""
from __future__ import annotations

import logging
import threading
import time

from rag import stall
from rag.line import Line
from rag.prefill import Prefiller


def _stuck_in_a_lock(lock: threading.Lock, done: threading.Event) -> None:
    with lock:  # waits here until the test lets go
        done.set()


def test_a_question_still_running_logs_every_threads_stack_and_the_line(caplog) -> None:
    lock, done = threading.Lock(), threading.Event()
    lock.acquire()
    worker = threading.Thread(target=_stuck_in_a_lock, args=(lock, done), name="answering", daemon=True)
    worker.start()
    line = Line()
    line.join("abc")
    with caplog.at_level(logging.WARNING, logger="rag"):
        with stall.Watch("question abc-1", seconds=0.05, state=line.describe):
            deadline = time.monotonic() + 5
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.01)
    lock.release()
    done.wait(5)
    [record] = caplog.records
    text = record.getMessage()
    assert "question abc-1: still running, no progress for 0 s" in text
    assert "waiting: abc#1" in text and "model held by nobody" in text
    assert "thread answering:" in text and "_stuck_in_a_lock" in text  # the hung thread, where it hangs


def test_a_question_answered_in_time_logs_nothing(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="rag"):
        watch = stall.Watch("question abc-2", seconds=0.2).start()
        watch.stop()
        time.sleep(0.3)
    assert not caplog.records


def test_a_state_that_cannot_be_read_still_gives_the_stacks(caplog) -> None:
    def broken() -> str:
        raise RuntimeError("gone")

    with caplog.at_level(logging.WARNING, logger="rag"):
        stall.Watch("question abc-3", seconds=0.0, state=broken)._report()
    assert "state unreadable: gone" in caplog.text and "thread MainThread:" in caplog.text


def test_the_line_and_the_prefill_worker_say_what_they_hold() -> None:
    line = Line()
    assert line.describe() == "model held by nobody, waiting: nobody, stopped: none"
    assert line.try_hold("prefill:s1") == "prefill:s1#1"
    line.join("s2")
    line.stop("s2")
    assert line.describe() == "model held by prefill:s1#1 (steps aside), waiting: s2#2, stopped: s2#2"

    class Pipe:
        generator = None

    assert Prefiller(Pipe()).describe() == "prefill idle, wanted: nothing"


def test_a_report_on_a_hang_does_not_wait_on_a_lock_held_by_it() -> None:
    line = Line()

    class Pipe:
        generator = None

    prefiller = Prefiller(Pipe())
    held, release = threading.Event(), threading.Event()

    def stuck() -> None:  # a thread stuck while holding both
        with line._lock, prefiller._cond:
            held.set()
            release.wait(5)

    thread = threading.Thread(target=stuck, daemon=True)
    thread.start()
    held.wait(5)
    assert line.describe(wait=0.01) == "the line's lock held for over 0.01 s"
    assert prefiller.describe(wait=0.01) == "the prefill worker's lock held for over 0.01 s"
    release.set()
    thread.join(5)
    assert line.describe(wait=0.01).startswith("model held by nobody")
    assert prefiller.describe(wait=0.01) == "prefill idle, wanted: nothing"


def test_a_question_that_keeps_moving_is_not_reported_and_one_that_stops_is(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="rag"):
        watch = stall.Watch("question abc-4", seconds=0.3).start()
        for _ in range(6):  # its place in line moves up every 0.1 s: 0.6 s in all, never 0.3 s still
            time.sleep(0.1)
            watch.progress()
        assert not caplog.records
        time.sleep(0.5)  # then nothing moves
        watch.stop()
    assert len(caplog.records) == 1 and "no progress for 0 s" in caplog.records[0].getMessage()


def test_a_question_that_only_waits_in_line_is_still_reported(fake_pipeline, monkeypatch, caplog) -> None:
    """While it waits, a question hands control back every half second (so a page that leaves can close it);
    those empty updates are not progress: a line that never moves is still reported."""
    import functools

    from rag.chat import Chat, nothing

    pipe = fake_pipeline("总签约采购金额约3亿元[1]。")
    holder = pipe.line.join("someone else")
    list(pipe.line.wait_turn(holder))  # the model is held, and stays held
    monkeypatch.setattr(stall, "Watch", functools.partial(stall.Watch, seconds=1.0))
    handler = Chat(pipe, Prefiller(pipe), 4).respond("对接会签约采购金额是多少？", [], [])
    updates, end = [], time.monotonic() + 2.5
    with caplog.at_level(logging.WARNING, logger="rag"):
        for update in handler:
            updates.append(update)
            if time.monotonic() > end:
                break
        handler.close()
    assert sum(u == nothing() for u in updates) >= 3  # the heartbeats came
    assert any("no progress for 1 s" in r.getMessage() for r in caplog.records)
    pipe.line.leave(holder, True)
    assert pipe.line.waiting() == 0  # closing the handler gave its place up
