"""The answer stage for one question over its passages: the reader's refusal, then the generating steps (the
first answer, the second look, the parts asked again, the confirm step's question), then the check.

It holds no model and no index: the pipeline hands it the generator whose turn it is, and a way to ask whether
the question was stopped.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rag.answer.certainty import certainty
from rag.answer.confirm import asked_questions, doubt
from rag.answer.extract import extractive_answer
from rag.answer.prompt import Prompts
from rag.answer.steps import Checker
from rag.asked import Question
from rag.generate import Generator
from rag.reader.model import Reads
from rag.types import Answer, Passage


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: kind is "passages", "waiting" (answers ahead in `text`), "token",
    "retry" (the tokens so far are dropped: a second look follows) or "answer"."""

    kind: str
    text: str = ""
    passages: tuple[Passage, ...] = ()
    answer: Answer | None = None


@dataclass
class Said:
    """What the generating steps of one answer said: the text, when its first piece came, and the answer
    as checked for the confirm step (None: not asked)."""
    raw: str = ""
    first: float | None = None
    checked: Answer | None = None


@dataclass
class AnswerStage:
    prompts: Prompts  # the prompts an answer sends
    checker: Checker  # what the model said, checked into an Answer; it holds the settings and the steps on
    reader: Reads | None  # refuses a question no sentence answers, before any model call (the `reader` step)

    @property
    def steps(self) -> frozenset[str]:
        return self.checker.steps

    @property
    def max_new_tokens(self) -> int:
        return self.checker.settings.max_new_tokens

    def worth_reading(self, question: Question, passages: list[Passage], timings: dict) -> bool:
        """Whether some sentence of `passages` may answer `question`, by the reader (always, when it is off or
        the question is English: it reads Chinese words). Not: the answer is the refusal, no model asked."""
        if self.reader is None or question.english:
            return True
        t = time.perf_counter()
        reads = self.reader.read(question.text, passages)
        timings["reader_ms"] = (time.perf_counter() - t) * 1000
        return self.reader.answerable(reads)

    def generate(self, generator: Generator | None, question: Question, passages: list[Passage],
                 max_tokens: int | None, stopped: Callable[[], bool], timings: dict, said: Said,
                 notice: str = "") -> Iterator[Event]:
        """The generating steps, once the model is this question's: the first answer (or the extractive one),
        the second look, the parts asked again and the confirm step's question, as events; what was said,
        and the answer checked for the confirm step, go into `said`. `stopped()` says whether the asker
        stopped it."""
        messages = None
        if generator is not None:
            messages = self.prompts.first(question, passages)
            _called(timings)
        for piece in self._pieces(generator, question.text, passages, max_tokens, messages):
            said.first = said.first or time.perf_counter()
            said.raw += piece
            yield Event("token", text=piece)
        if filled := (getattr(generator, "last_timings", None) or {}).get("prompt_n"):
            timings["prompt_filled"] = float(filled)  # beyond the cache: what the first token waited for
        if generator is not None and not stopped() and self.checker.wants_second_look(question, said.raw):
            # A small model often gives up on a trimmed passage that does hold the answer, or on a question
            # asked colloquially: one more look at the best two passages in full, with no refusal line to fall
            # back on. What it says is checked like any answer.
            yield Event("retry")
            timings["retried"] = 1.0
            messages = self.prompts.second_look(question, passages)
            _called(timings)
            said.raw = ""
            for piece in self._pieces(generator, question.text, passages[:2], max_tokens, messages):
                said.raw += piece
                yield Event("token", text=piece)
        if sure := certainty(getattr(generator, "last_logprobs", None) or []):
            timings.update(sure)  # how sure the model was of the answer it stands by (after a second look)
        if generator is not None and messages is not None:
            for piece in self._follow_up(generator, question, passages, messages, said.raw, max_tokens, stopped,
                                         timings):
                said.raw += piece
                yield Event("token", text=piece)
        if generator is not None and "confirm" in self.steps and not stopped():
            checked = self.checker.finish(question, said.raw, passages, timings, notice)
            t = time.perf_counter()
            if (doubted := doubt(generator, question, checked)) is not None:
                timings["confirm_ms"] = (time.perf_counter() - t) * 1000
                _called(timings, len(asked_questions(question, checked)))
                checked = dataclasses.replace(checked, doubt=doubted)
            said.checked = checked

    def answer(self, question: Question, said: Said, passages: list[Passage], timings: dict,
               notice: str = "") -> Answer:
        """The checked Answer of what was said: the one the confirm step judged, or checked now."""
        if said.checked is not None:
            return self.checker.confirmed(said.checked)
        return self.checker.finish(question, said.raw, passages, timings, notice)

    def _pieces(self, generator: Generator | None, question: str, passages: list[Passage],
                max_tokens: int | None, messages: list[dict] | None) -> Iterator[str]:
        """The answer's pieces: the model's over `messages`, or the extractive answer when there is no model."""
        if generator is None:
            yield extractive_answer(question, passages)
            return
        yield from generator.stream(messages, max_tokens or self.max_new_tokens)

    def _follow_up(self, generator: Generator, question: Question, passages: list[Passage], messages: list[dict],
                   raw: str, max_tokens: int | None, stopped: Callable[[], bool], timings: dict) -> Iterator[str]:
        """Ask again, in the conversation that `messages` began, for each part of the question the answer
        left out (`Checker.parts_to_ask`).

        Asked "哪天出现的？谁拍的？", a small model often answers the first and stops; told which part is
        still open, it answers that one. The conversation so far is the prompt's prefix, so the backend's
        prompt cache prefills only the new turn. Each reply is checked like the rest of the answer.
        """
        said = raw
        for part in self.checker.parts_to_ask(question, passages, raw):
            if stopped():
                return
            ask = (f"You have not answered this part yet: {part} Answer it from the passages above, citing [n]."
                   if question.english else f"还有这一问没有回答：{part}。请根据上面的资料回答，句末注明资料编号。")
            messages = messages + [{"role": "assistant", "content": said}, {"role": "user", "content": ask}]
            said = ""
            _called(timings)
            yield "\n"
            for piece in generator.stream(messages, max_tokens or self.max_new_tokens):
                said += piece
                yield piece


def _called(timings: dict, n: int = 1) -> None:
    """Count `n` more calls of the model for this answer (`timings["model_calls"]`)."""
    timings["model_calls"] = timings.get("model_calls", 0.0) + n


__all__ = ["AnswerStage", "Event", "Said"]
