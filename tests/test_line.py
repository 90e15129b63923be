"""The line in front of the model: tickets per question, stops per session, and no wait without a bound."""
from __future__ import annotations

import threading
import time

import pytest
from fakes import ScriptedGenerator

from rag.errors import ModelBusyError
from rag.generate.turns import Turns
from rag.line import Line


def _take(line: Line, ticket: str) -> list[int]:
    return list(line.wait_turn(ticket))


def test_two_questions_of_one_session_are_two_places_and_the_model_passes_on() -> None:
    """The hang that stopped every session: one session's two questions shared one entry in the line, the
    first's leave removed the second's, and the second took the model and never gave it back."""
    line = Line(wait_s=5)
    first, second = line.join("k"), line.join("k")
    assert first != second
    assert _take(line, first) == [] and line.holds(first)
    waits: list[int] = []
    waiter = threading.Thread(target=lambda: waits.extend(line.wait_turn(second)))
    waiter.start()
    time.sleep(0.3)
    assert waits == [1] and line.waiting() == 1
    line.leave(first, True)
    waiter.join(5)
    assert line.holds(second)
    line.leave(second, True)
    other = line.join("someone else")
    assert _take(line, other) == [] and line.holds(other)


def test_stop_reaches_every_question_of_the_session_and_none_asked_after_it() -> None:
    line = Line(wait_s=5)
    holder, waiting, elsewhere = line.join("k"), line.join("k"), line.join("j")
    _take(line, holder)
    assert line.stop("k") is True  # k's answer is the one being generated: cancel it
    assert line.stopped(holder) and line.stopped(waiting) and not line.stopped(elsewhere)
    later = line.join("k")  # asked after the stop: not stopped by it
    assert not line.stopped(later)
    assert _take(line, waiting) == [] and not line.holds(waiting)  # stopped while waiting: never starts
    line.leave(waiting, False)
    line.leave(holder, True)
    assert _take(line, elsewhere) == [] and line.holds(elsewhere)
    assert line.stop("j") is True and line.stop("k") is False and line.stop("") is True


def test_leaving_with_a_ticket_that_does_not_hold_releases_nothing() -> None:
    line = Line(wait_s=5)
    holder, other = line.join("a"), line.join("b")
    _take(line, holder)
    line.leave(other, True)  # a confused caller: the model stays with its holder
    assert line.holds(holder) and line.try_hold("c") is None
    line.leave(holder, True)
    assert line.try_hold("c")


@pytest.mark.parametrize("wait_s", [0.0, 0.3])
def test_a_wait_past_its_bound_ends_with_a_message_and_leaves_the_line(wait_s: float) -> None:
    line = Line(wait_s=wait_s)
    holder = line.try_hold("stuck")
    ticket = line.join("k")
    with pytest.raises(ModelBusyError, match="busy"):
        _take(line, ticket)
    assert line.waiting() == 0 and "waiting: nobody" in line.describe()
    line.leave(holder, True)
    again = line.join("k")
    assert _take(line, again) == [] and line.holds(again)


def test_a_turn_gives_the_model_back_however_its_block_ends() -> None:
    line = Line(wait_s=5)
    with pytest.raises(RuntimeError):
        with line.turn("warm-up") as ticket:
            assert line.holds(ticket)
            raise RuntimeError("a failure inside")
    assert line.try_hold("next")


def test_turns_bound_the_wait_for_a_stuck_generation_and_for_its_next_piece() -> None:
    turns = Turns(slot_wait_s=0.2, silence_s=0.2)
    release = threading.Event()

    def stuck(emit, stop) -> None:  # a model call that does not return
        emit("第一")
        release.wait(10)

    reader = turns.run(stuck)
    assert next(reader) == "第一"
    with pytest.raises(ModelBusyError, match="no word"):
        next(reader)
    with pytest.raises(ModelBusyError, match="busy"):  # the stuck call still holds the slot
        list(turns.run(lambda emit, stop: emit("x")))
    release.set()
    time.sleep(0.2)
    assert list(turns.run(lambda emit, stop: emit("x"))) == ["x"]  # free again once the call returned


class SilentGenerator(ScriptedGenerator):
    """A model whose call never returns a piece (a hung llama.cpp request), as Turns sees it."""

    def __init__(self) -> None:
        super().__init__("")
        self.turns, self.release = Turns(slot_wait_s=0.3, silence_s=0.3), threading.Event()

    def stream(self, messages, max_tokens=160):
        yield from self.turns.run(lambda emit, stop: self.release.wait(10))


def test_a_question_whose_model_hangs_ends_with_a_message_and_frees_the_line(fake_pipeline) -> None:
    pipe = fake_pipeline("总签约采购金额约3亿元[1]。")
    pipe.generator = SilentGenerator()
    with pytest.raises(ModelBusyError, match="no word"):
        list(pipe.stream("对接会签约采购金额是多少？", key="a"))
    assert pipe.line.waiting() == 0 and pipe.line.try_hold("b")  # nobody holds the model
    assert pipe.generator is not None  # a busy model is not switched off
    pipe.generator.release.set()



def test_two_questions_sent_at_once_by_one_session_are_both_answered(fake_pipeline) -> None:
    pipe = fake_pipeline("总签约采购金额约3亿元[1]。")
    answers: list = []

    def ask() -> None:
        answers.extend(e.answer for e in pipe.stream("对接会签约采购金额是多少？", key="same") if e.kind == "answer")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(answers) == 2 and all("3亿元" in a.text for a in answers)
    assert pipe.line.waiting() == 0 and pipe.line.try_hold("next")


class Holding(ScriptedGenerator):
    """Notes, for each use, whether the pipeline's line was held by someone while it ran."""

    def __init__(self, reply: str, line: Line) -> None:
        super().__init__(reply)
        self.line, self.held = line, []

    def _note(self) -> None:
        self.held.append(self.line.describe().split(",")[0])

    def stream(self, messages, max_tokens=160):
        self._note()
        yield from super().stream(messages, max_tokens)

    def prime(self, messages) -> str:
        self._note()
        return "filled"


def test_the_warm_up_uses_the_model_through_the_line(fake_pipeline) -> None:
    """It restored the slot and streamed a token outside the line while the page already served."""
    from rag.warm import warm_up

    pipe = fake_pipeline("好")
    pipe.generator = Holding("好", pipe.line)
    warm_up(pipe)
    assert pipe.generator.held == ["model held by warm-up#1"]
    assert pipe.line.try_hold("after")  # and gave it back


def test_a_rewrite_by_the_model_takes_its_turn_in_the_line(fake_pipeline) -> None:
    """The LLM rewrite streamed before the question joined the line: a second user of the model."""
    from rag.rewrite import Turn

    pipe = fake_pipeline("x", rewrite="llm")
    pipe.generator = Holding("麓宇光电的总投资是多少？", pipe.line)
    list(pipe.stream("它的总投资是多少？", history=[Turn("麓宇光电打算在益阳投资什么项目？", "光电子集成项目[1]。")],
                     key="s"))
    assert pipe.generator.held and all(h.startswith("model held by s#") for h in pipe.generator.held)


def test_a_rewrite_waiting_for_the_model_says_its_place_and_hands_control_back(fake_pipeline) -> None:
    """The rewrite's wait was one step with no event: a page that left could not close its handler meanwhile."""
    from rag.rewrite import Turn

    pipe = fake_pipeline("x", rewrite="llm")
    pipe.generator = Holding("麓宇光电的总投资是多少？", pipe.line)
    other = pipe.line.join("other")
    _take(pipe.line, other)  # another session's answer holds the model
    events = []
    asker = threading.Thread(target=lambda: events.extend(pipe.stream(
        "它的总投资是多少？", history=[Turn("麓宇光电打算在益阳投资什么项目？", "光电子集成项目[1]。")], key="s")))
    asker.start()
    time.sleep(1.2)
    waited = [e.text for e in events if e.kind == "waiting"]
    assert waited[:1] == ["1"] and len(waited) >= 2  # its place, then the same again as the wait goes on
    pipe.line.leave(other, True)
    asker.join(10)
    kinds = [e.kind for e in events]
    assert kinds.index("passages") > kinds.index("waiting") and kinds[-1] == "answer"
    assert events[kinds.index("passages")].text == "麓宇光电的总投资是多少？"  # rewritten by the model


def test_the_confirm_steps_probabilities_go_through_the_models_turns() -> None:
    """next_token_probs called llama.cpp outside Turns: beside a generation nothing ordered it."""
    from rag.generate.llamacpp import LlamaCppGenerator

    gen = LlamaCppGenerator("model.gguf")
    seen = []

    class Core:  # llama.cpp's server core, as next_token_probs calls it
        def handle_chat_completions(self, request):
            seen.append(gen._turns._slot._value)  # 0: the turns' slot is taken by this call
            top = [{"token": "是", "logprob": -0.1}, {"token": "否", "logprob": -2.4}]
            return {"choices": [{"logprobs": {"content": [{"top_logprobs": top}]}}]}

    gen._load = lambda: Core()
    probs = gen.next_token_probs([{"role": "user", "content": "是否？"}])
    assert seen == [0] and round(probs["是"], 2) == 0.90
    assert gen._turns._slot._value == 1  # given back
