"""Prefilling while the user types (rag/prefill.py) and the model's line it yields to (rag/line.py)."""
from __future__ import annotations

import threading
import time

from fakes import ScriptedGenerator

from rag.line import Line
from rag.prefill import Prefiller


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


def test_a_pause_in_typing_fills_the_prompt_the_question_will_have(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    assert Prefiller(pipe, debounce_s=0).typed("对接会签约采购金额", "s1") == "filled"
    filled = gen.filled[-1]
    asked = pipe._messages("对接会签约采购金额", pipe.retrieve("对接会签约采购金额"))
    assert filled == asked  # the whole prompt, question so far included
    assert filled[1]["content"].startswith("资料：") and "3亿元" in filled[1]["content"]
    prefiller = Prefiller(pipe, debounce_s=0)
    prefiller.typed("对接会签约采购金额", "s1")
    assert prefiller.filled("s1", "对接会签约采购金额") and not prefiller.filled("s2", "对接会签约采购金额")
    prefiller.typed("对接会签约采购金额是多少", "s2")  # another session's prompt takes the one slot
    assert not prefiller.filled("s1", "对接会签约采购金额")
    prefiller.typed("", "s2")  # the box emptied as the question is sent: the cache still holds its prompt
    assert prefiller.filled("s2", "对接会签约采购金额是多少")
    prefiller.forget()  # an answer went through the model
    assert not prefiller.filled("s2", "对接会签约采购金额是多少")


def test_a_newer_keystroke_makes_the_older_text_stale_before_any_work():
    gen = PrefillingGenerator()
    pipe = type("P", (), {"generator": gen})()
    prefiller = Prefiller(pipe, debounce_s=0.3)
    results = {}
    older = threading.Thread(target=lambda: results.setdefault("old", prefiller.typed("对接会签约", "s1")))
    older.start()
    time.sleep(0.05)
    prefiller._newest("s1")  # the next keystroke arrives within the pause
    older.join()
    assert results["old"] == "stale" and gen.filled == []


def test_prefilling_never_starts_while_an_answer_is_generated_or_waiting(fake_pipeline):
    gen = PrefillingGenerator()
    pipe = _pipe(fake_pipeline, gen)
    pipe.line.join("answering")
    list(pipe.line.wait_turn("answering"))
    assert Prefiller(pipe, debounce_s=0).typed("对接会签约采购金额", "s2") == "busy"
    pipe.line.leave("answering", True)
    assert gen.filled == []


def test_a_question_arriving_stops_the_prefill_at_the_next_piece_and_is_not_counted_as_waiting(fake_pipeline):
    gen = PrefillingGenerator()
    gen.hold.clear()
    pipe = _pipe(fake_pipeline, gen)
    results = {}
    worker = threading.Thread(target=lambda: results.setdefault("r", Prefiller(pipe, 0).typed("对接会签约采购金额", "s")))
    worker.start()
    assert gen.started.wait(5)
    pipe.line.join("asker")
    waits = []
    asker = threading.Thread(target=lambda: waits.extend(pipe.line.wait_turn("asker")))
    asker.start()
    time.sleep(0.3)
    gen.hold.set()  # the piece being filled ends
    worker.join(5)
    asker.join(5)
    assert results["r"] == "stopped" and len(gen.filled) == 1
    assert waits == []  # no "1 answer ahead of you" for a prefill that steps aside
    assert pipe.line.holds("asker")
    pipe.line.leave("asker", True)


def test_nothing_is_filled_for_a_few_characters_or_without_a_model_that_prefills(fake_pipeline):
    pipe = fake_pipeline("x")  # ScriptedGenerator: no prefill
    assert Prefiller(pipe, debounce_s=0).typed("对接会签约采购金额", "s") == "skipped"
    gen = PrefillingGenerator()
    pipe.generator = gen
    assert Prefiller(pipe, debounce_s=0).typed("对接", "s") == "skipped"
    assert Prefiller(pipe, debounce_s=0).typed("对接会签约采购金额" * 200, "s") == "skipped"  # too long to be asked
    assert Prefiller(pipe, debounce_s=0).typed("对接会签约采购金额", "s", extractive=True) == "skipped"
    assert gen.filled == []


def test_try_hold_takes_a_free_model_only():
    line = Line()
    assert line.try_hold("a")
    assert not line.try_hold("b")
    line.leave("a", True)
    line.join("c")
    assert not line.try_hold("b")  # somebody waits: they go first


def test_warm_up_loads_both_models_and_puts_the_fixed_prefix_in_the_cache(fake_pipeline):
    from rag.prompt import SYSTEM
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
