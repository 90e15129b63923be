"""The one way to answer a question, which the CLI and the UI both use: the question rewritten when it follows
up, analysed once, its passages retrieved, then the answer stage (`rag/answer/`: read -> refuse, or prompt ->
generate -> check -> answer) in its turn for the model.

The pipeline itself wires the models, fronts the live index, keeps the line in front of the model and the
failure policy (a model that fails gives way to extractive answers)."""
from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rag.answer.extract import extractive_answer
from rag.answer.prompt import Prompts
from rag.answer.stage import AnswerStage, Event, Said
from rag.answer.steps import Checker, passage_text, steps_of
from rag.asked import Question, analyse, is_english
from rag.embed import Embedder, Similarity
from rag.errors import InputError, ModelBusyError, ModelError, RagError
from rag.factory import embedder_for, generator_for, reader_for
from rag.generate import Generator
from rag.index import Index, Progress
from rag.line import Line
from rag.live_index import RETRIEVAL_MODES, LiveIndex
from rag.reader.model import Reader
from rag.retrieve import HybridRetriever
from rag.rewrite import Rewrite, Turn, rewrite, rewrite_without_model
from rag.settings import Settings
from rag.types import Answer, Passage

log = logging.getLogger("rag")
MAX_QUESTION_CHARS = 1000
EXTRACTIVE_NOTICE = "语言模型不可用，已改用摘录模式（直接引用原文句子）。(The language model is unavailable: quoting sources.)"


@dataclass
class Pipeline:
    settings: Settings
    embedder: Embedder
    generator: Generator | None  # None: extractive answers only
    notice: str = ""
    # the index answered from (rag/live_index.py): made from the settings unless given, as to a second pipeline
    # that answers from the same index with another model
    live: LiveIndex | None = field(default=None, repr=False)
    line: Line = field(default_factory=Line, repr=False)  # questions waiting for the model

    def __post_init__(self) -> None:
        steps = steps_of(self.settings.steps)
        if self.live is None:
            self.live = LiveIndex(self.settings, self.embedder, "part_passages" in steps)
        # which sentences answer (rag/reader): a question none answers is refused before any model call (the
        # `reader` step), the prompt shows the best of them (`reader_prompt`), and a claim that several passages
        # hold alike is cited to the one that answers best (`reader_cite`)
        reader = reader_for(self.settings, self.embedder) if steps & {"reader", "reader_prompt", "reader_cite"} else None
        self.stage = AnswerStage(
            Prompts.of(self.settings, reader if "reader_prompt" in steps else None),
            # the answer policy: what the model said, checked into an Answer (rag/answer/steps.py)
            Checker(self.settings, steps, Similarity(self.embedder) if "meaning" in steps else None, self._article_text,
                    reader),
            reader if "reader" in steps else None)

    @property
    def steps(self) -> frozenset[str]:
        return self.stage.steps

    @property
    def prompts(self) -> Prompts:
        return self.stage.prompts

    @property
    def checker(self) -> Checker:
        return self.stage.checker

    @property
    def reader(self) -> Reader | None:
        return self.stage.reader

    @property
    def meaning(self) -> Similarity | None:
        """What judges English claims by their meaning (None: the `meaning` step is off)."""
        return self.checker.meaning

    @meaning.setter
    def meaning(self, value: Similarity | None) -> None:
        self.checker.meaning = value

    @classmethod
    def from_settings(cls, settings: Settings, progress=None) -> Pipeline:
        """The only place that names concrete models; provisions them on first use."""
        generator: Generator | None = None
        notice = ""
        if settings.backend != "extractive":
            try:
                generator = generator_for(settings, progress)
            except ModelError as exc:  # answers still work, extractively, and say so
                log.warning("LLM unavailable, answering extractively: %s", exc)
                notice = EXTRACTIVE_NOTICE
        return cls(settings, embedder_for(settings, progress), generator, notice=notice)

    # -- index (rag/live_index.py) --------------------------------------------------------------
    @property
    def index(self) -> Index | None:
        return self.live.index

    def ensure_index(self, rebuild: bool = False, progress: Progress | None = None, lang: str = "en") -> str:
        """Build the index if it is missing, stale or forced, then load it (`LiveIndex.ensure`)."""
        return self.live.ensure(rebuild, progress, lang)

    def reindex(self, progress: Progress | None = None, lang: str = "en") -> str:
        """Bring the index up to date while questions go on being answered (`LiveIndex.reindex`)."""
        return self.live.reindex(progress, lang)

    def cancel(self, key: str = "") -> None:
        """Stop session `key`'s answer (any answer being generated when `key` is empty): the model stops at its
        next token and the answer so far is checked as usual; a question still waiting is never started."""
        if self.line.stop(key) and self.generator is not None and hasattr(self.generator, "cancel"):
            self.generator.cancel()

    def waiting(self) -> int:
        """Questions waiting for the model now."""
        return self.line.waiting()

    def _was_stopped(self, ticket: str) -> bool:
        return self.line.stopped(ticket)

    def load_index(self) -> Index:
        return self.live.load()

    @property
    def retriever(self) -> HybridRetriever:
        return self.live.retriever_for("hybrid")

    def retriever_for(self, mode: str) -> HybridRetriever:
        """The retriever over the live index for `mode`: hybrid, dense or lexical."""
        return self.live.retriever_for(mode)

    # -- answering -----------------------------------------------------------------------------
    def retrieve(self, question: Question | str, k: int | None = None, mode: str = "hybrid") -> list[Passage]:
        """The k best passages (`LiveIndex.retrieve`)."""
        return self.live.retrieve(question, k, mode)

    def stream(self, question: str, top_k: int | None = None, max_tokens: int | None = None,
               history: Sequence[Turn] = (), mode: str = "hybrid", extractive: bool = False,
               key: str = "") -> Iterator[Event]:
        """Answer `question`, yielding the passages first, then tokens, then the checked Answer.

        With `history` (earlier turns, oldest first) a follow-up such as "那株洲呢？" is first rewritten into
        a standalone question; the passages event then carries it in `text`. `mode` picks the retrieval
        (hybrid, dense, lexical); `extractive` answers with source sentences even when an LLM is loaded.
        While another answer is being generated, "waiting" events carry how many answers are ahead, repeated
        every `line.HEARTBEAT_S` so a caller can be closed while it waits ("0": only a prefill is ahead).
        `key` names the asking session for `cancel(key)`.
        """
        question = validate_question(question)
        t0 = time.perf_counter()
        generator = None if extractive else self.generator
        key = key or uuid.uuid4().hex
        rw = yield from self._rewrite(question, history, generator, key)
        query = rw.question
        asked = analyse(query)  # analysed once: every later step receives this value
        log.debug("question: %s", asked)
        t1 = time.perf_counter()
        passages = self.retrieve(asked, top_k, mode)
        timings = {"retrieve_ms": (time.perf_counter() - t1) * 1000}
        if rw.changed:
            timings["rewrite_ms"] = (t1 - t0) * 1000
        yield Event("passages", text=query if rw.changed else "", passages=tuple(passages))
        said = Said()
        stopped = False
        if passages and self.stage.worth_reading(asked, passages, timings):
            # a ticket of its own: a second question of the same session is a second place in line
            ticket, held = (self.line.join(key) if generator is not None else ""), False
            try:
                if generator is not None:
                    for ahead in self.line.wait_turn(ticket):
                        yield Event("waiting", text=str(ahead))
                    held = self.line.holds(ticket)
                    stopped = not held
                if not stopped:
                    yield from self.stage.generate(generator, asked, passages, max_tokens,
                                                   lambda: self._was_stopped(ticket), timings, said, self.notice)
            except ModelBusyError:
                raise  # the model stays on: this question ends with the message, the next may find it free
            except ModelError as exc:
                log.warning("LLM failed, falling back to extractive answers: %s", exc)
                self.generator, self.notice = None, EXTRACTIVE_NOTICE
                said.raw, said.checked = extractive_answer(query, passages), None
                yield Event("token", text=said.raw)
                said.first = said.first or time.perf_counter()
            finally:
                if ticket:
                    self.line.leave(ticket, held)
        end = time.perf_counter()
        timings["first_token_ms"] = ((said.first or end) - t0) * 1000
        timings["total_ms"] = (end - t0) * 1000
        answer = self.stage.answer(asked, said, passages, timings, self.notice)
        if stopped:
            answer = dataclasses.replace(answer, text=stopped_text(question))
        yield Event("answer", answer=dataclasses.replace(answer, question=question, query=query if rw.changed else ""))

    def _rewrite(self, question: str, history: Sequence[Turn], generator: Generator | None,
                 key: str) -> abc.Generator[Event, None, Rewrite]:
        """The follow-up made standalone (returned). A rewrite by the model takes its turn in the line like any
        other use of it, its place yielded as "waiting" events; the rules need no turn."""
        if generator is None or self.settings.rewrite != "llm" or not history:
            return rewrite_without_model(question, history, self.settings.rewrite)
        ticket, held = self.line.join(key), False
        try:
            for ahead in self.line.wait_turn(ticket):
                yield Event("waiting", text=str(ahead))
            held = self.line.holds(ticket)
            if self.line.stopped(ticket) or not held:
                return rewrite(question, history, None, "rules")
            return rewrite(question, history, generator, "llm")
        finally:
            self.line.leave(ticket, held)

    def _article_text(self, passage: Passage) -> str:
        """The title, date and text of the passage's article (the passage alone when the index lacks it)."""
        article = self.index.articles.get(passage.chunk.article_id) if self.index is not None else None
        if article is None:
            return passage_text(passage)
        return f"{article.title}\n{article.date}\n{article.text}"

    def finish(self, question: Question | str, raw: str, passages: list[Passage], timings: dict | None = None,
               notice: str = "", doubt: float | None = None) -> Answer:
        """The checked Answer (`Checker.finish`)."""
        return self.checker.finish(question, raw, passages, timings, notice, doubt)

    def ask(self, question: str, top_k: int | None = None, history: Sequence[Turn] = ()) -> Answer:
        answer = None
        for event in self.stream(question, top_k, history=history):
            if event.kind == "answer":
                answer = event.answer
        if answer is None:  # stream() always ends with an answer event
            raise RagError("no answer was produced")
        return answer


def stopped_text(question: str) -> str:
    return "Stopped before the answer was started." if is_english(question) else "已停止：回答还没开始生成。"


def validate_question(question: str | None) -> str:
    """The question, trimmed; a clear message for empty or oversized input."""
    text = (question or "").replace("\x00", "").strip()
    if not text:
        raise InputError("请输入一个问题。(The question is empty.)")
    if len(text) > MAX_QUESTION_CHARS:
        raise InputError(f"问题太长（{len(text)} 字），请控制在 {MAX_QUESTION_CHARS} 字以内。")
    return text


def pipeline_for(settings: Settings, progress=None, build: bool = True) -> Pipeline:
    pipe = Pipeline.from_settings(settings, progress)
    if build:
        summary = pipe.ensure_index(progress=progress)
        if summary:
            log.info(summary)
    return pipe


__all__ = ["RETRIEVAL_MODES", "Event", "Pipeline", "pipeline_for", "validate_question"]
