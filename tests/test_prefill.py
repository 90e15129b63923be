"""Prefilling while the user types (rag/prefill.py) and the model's line it yields to (rag/line.py)."""
from __future__ import annotations

import threading
import time

import pytest

from fakes import ScriptedGenerator

from rag.line import Line
from rag.prefill import Prefiller, Typed


class PrefillingGenerator(ScriptedGenerator):
    """A scripted model that also takes prefills, each piece recorded; `hold` keeps a piece running."""

    def __init__(self, reply: str = "答[1]。") -> None:
        super().__init__(reply)
        self.filled: list[list[dict]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()

    def prefill(self, messages, keep_going=lambda: True, piece_chars: int = 64) -> bool:
        text = messages[-1]["content"]
        for cut in range(piece_chars, len(text) + piece_chars, piece_chars):
            if not keep_going():
                return False
            self.started.set()
            self.hold.wait(5)
            self.filled.append(messages[:-1] + [{"role": "user", "content": text[:cut]}])
        return True


def _pipe(fake_pipeline, gen):
    pipe = fake_pipeline("x")
    pipe.generator = gen
    return pipe


def test_filling_a_text_puts_the_prompt_the_question_will_have_in_the_cache(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    assert Prefiller(pipe).fill(Typed("s1", "对接会签约采购金额")) == "filled"
    filled = gen.filled[-1]
    asked = pipe.prompts.first("对接会签约采购金额", pipe.retrieve("对接会签约采购金额"))
    assert filled == asked  # the whole prompt, question so far included
    assert filled[1]["content"].startswith("资料：") and "3亿元" in filled[1]["content"]


def test_the_worker_fills_the_newest_text_posted_and_the_slot_holds_one_prompt(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    prefiller = Prefiller(pipe)
    assert prefiller.post("对接会签约采购金额", "s1") == "posted"
    assert prefiller.settle(5)
    assert prefiller.filled("s1", "对接会签约采购金额") and not prefiller.filled("s2", "对接会签约采购金额")
    prefiller.post("对接会签约采购金额是多少", "s2")  # another session's prompt takes the one slot
    assert prefiller.settle(5)
    assert not prefiller.filled("s1", "对接会签约采购金额")
    assert prefiller.post("", "s2") == "skipped"  # the box emptied as the question is sent: the cache still holds it
    assert prefiller.filled("s2", "对接会签约采购金额是多少")
    prefiller.forget("s2")  # an answer went through the model
    assert not prefiller.filled("s2", "对接会签约采购金额是多少")


def test_another_sessions_answer_leaves_the_text_being_typed_to_be_filled(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    prefiller = Prefiller(pipe)
    b = pipe.line.join("b")
    list(pipe.line.wait_turn(b))  # session b's answer holds the model while a types
    prefiller.post("对接会签约采购金额", "a")
    assert not prefiller.settle(0.5)
    prefiller.forget("b")
    pipe.line.leave(b, True)
    assert prefiller.settle(5) and prefiller.filled("a", "对接会签约采购金额")
    prefiller.forget("a")  # a's own question went through: the cache holds its answer's prompt now
    assert not prefiller.filled("a", "对接会签约采购金额") and prefiller.settle(1)


def _post_while_filling(fake_pipeline, first: str, then: str):
    """Post `first`, and `then` while the first piece of its round is being filled."""
    gen = PrefillingGenerator()
    gen.hold.clear()
    pipe = _pipe(fake_pipeline, gen)
    prefiller = Prefiller(pipe)
    prefiller.post(first, "s")
    assert gen.started.wait(5)
    prefiller.post(then, "s")
    gen.hold.set()
    assert prefiller.settle(5)
    return gen, prefiller


@pytest.mark.parametrize("then", ["对接会签约采购金额是多少", "湖南日报的消费帮扶"])
def test_newer_text_takes_over_at_the_next_piece_and_its_round_fills_it(fake_pipeline, then: str):
    """Typed further or edited, the newest text's prompt is what the question will have: the older round
    gives way (what it filled stays in the cache for the common start)."""
    gen, prefiller = _post_while_filling(fake_pipeline, "对接会签约采购", then)
    assert not any(m[1]["content"].endswith("问题：对接会签约采购") for m in gen.filled)
    assert gen.filled[-1][1]["content"].endswith("问题：" + then)
    assert prefiller.filled("s", then) and not prefiller.filled("s", "对接会签约采购")


def test_prefilling_never_starts_while_an_answer_is_generated_or_waiting(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    answering = pipe.line.join("answering")
    list(pipe.line.wait_turn(answering))
    prefiller = Prefiller(pipe)
    assert prefiller.fill(Typed("s2", "对接会签约采购金额")) == "busy"
    prefiller.post("对接会签约采购金额", "s2")
    assert not prefiller.settle(0.6)  # the worker keeps looking, and leaves the model alone
    assert gen.filled == []
    pipe.line.leave(answering, True)
    assert prefiller.settle(5) and prefiller.filled("s2", "对接会签约采购金额")


def test_a_question_arriving_stops_the_prefill_at_the_next_piece_and_is_not_counted_as_waiting(fake_pipeline):
    gen = PrefillingGenerator()
    gen.hold.clear()
    pipe = _pipe(fake_pipeline, gen)
    results = {}
    worker = threading.Thread(target=lambda: results.setdefault("r", Prefiller(pipe).fill(Typed("s", "对接会签约采购金额"))))
    worker.start()
    assert gen.started.wait(5)
    ticket = pipe.line.join("asker")
    waits = []
    asker = threading.Thread(target=lambda: waits.extend(pipe.line.wait_turn(ticket)))
    asker.start()
    time.sleep(0.3)
    gen.hold.set()  # the piece being filled ends
    worker.join(5)
    asker.join(5)
    assert results["r"] == "stopped" and len(gen.filled) == 1
    assert waits == []  # no "1 answer ahead of you" for a prefill that steps aside
    assert pipe.line.holds(ticket)
    pipe.line.leave(ticket, True)


@pytest.mark.parametrize("text, extractive", [("对接", False), ("对接会签约采购金额" * 200, False),
                                              ("对接会签约采购金额", True), ("   ", False)])
def test_nothing_is_filled_for_a_few_characters_too_many_or_without_a_model_that_prefills(fake_pipeline, text,
                                                                                           extractive):
    gen = PrefillingGenerator()
    prefiller = Prefiller(_pipe(fake_pipeline, gen))
    assert prefiller.post(text, "s", extractive=extractive) == "skipped"
    assert prefiller.settle(1) and gen.filled == []


def test_a_model_that_cannot_prefill_gets_nothing_posted(fake_pipeline):
    pipe = fake_pipeline("x")  # ScriptedGenerator: no prefill
    assert Prefiller(pipe).post("对接会签约采购金额", "s") == "skipped"


def test_try_hold_takes_a_free_model_only():
    line = Line()
    a = line.try_hold("a")
    assert a and line.holds(a)
    assert line.try_hold("b") is None
    line.leave(a, True)
    line.join("c")
    assert line.try_hold("b") is None  # somebody waits: they go first


def test_warm_up_loads_both_models_and_puts_the_fixed_prefix_in_the_cache(fake_pipeline):
    from rag.answer.prompt import SYSTEM
    from rag.warm import warm_up

    pipe = fake_pipeline("好")
    steps = []
    times = warm_up(pipe, lambda name, state: steps.append((name, state)))
    assert steps == [("embedder", "loading"), ("embedder", "ready"), ("llm", "loading"), ("llm", "ready")]
    assert times["prefix"] == "filled" and pipe.generator.prompts[-1][0]["content"] == SYSTEM

    class Saving(ScriptedGenerator):
        def prime(self, messages):
            self.primed = messages
            return "restored"

    pipe.generator = Saving("好")
    assert warm_up(pipe)["prefix"] == "restored" and pipe.generator.primed[0]["content"] == SYSTEM
    pipe.generator = None  # extractive: nothing to load beyond the embedder
    assert set(warm_up(pipe)) == {"embedder_s"}


def test_a_model_that_cannot_load_at_warm_up_leaves_extractive_answers_with_their_notice(fake_pipeline):
    from fakes import BrokenGenerator

    from rag.pipeline import EXTRACTIVE_NOTICE
    from rag.warm import warm_up

    pipe = fake_pipeline("好")
    pipe.generator = BrokenGenerator()  # `rag ask` and the app both warm up first: neither may stop here
    steps = []
    warm_up(pipe, lambda name, state: steps.append((name, state)))
    assert steps[-1] == ("llm", "failed") and pipe.generator is None and pipe.notice == EXTRACTIVE_NOTICE
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.notice == EXTRACTIVE_NOTICE and not answer.refused
