"""The chat page's questions: each one sent is taken into its session's conversation, answered in its turn,
and its bubble updated as the answer streams. app.py wires these handlers to the page's widgets.

Every handler yields the page's five chat outputs (chat, sources panel, question box, turns, earlier answers);
`gr.skip()` leaves one as it is.
"""
from __future__ import annotations

import html
import logging
import time

import gradio as gr

from rag import stall, ui
from rag.errors import InputError, ModelBusyError, RagError
from rag.line import HEARTBEAT_S
from rag.pipeline import MAX_QUESTION_CHARS, Pipeline, validate_question
from rag.prefill import Prefiller
from rag.rewrite import Turn
from rag.sessions import Conversation, Conversations

log = logging.getLogger("rag.app")

# New prompt tokens a question brings beyond the cached system prefix besides its passages (the question, the
# template). The last answer's own count is no guide: after a part asked again it is that short turn's.
QUESTION_TOKENS = 40


def nothing() -> tuple:
    """An update that leaves the page's five chat outputs as they are."""
    return tuple(gr.skip() for _ in range(5))


def session_of(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or ""


class Chat:
    def __init__(self, pipe: Pipeline, prefiller: Prefiller, max_turns: int) -> None:
        self.pipe, self.prefiller, self.max_turns = pipe, prefiller, max_turns
        # two questions of one page that overlap share one conversation, so neither overwrites the other's bubble
        self.conversations = Conversations()
        # for the "reading, about N s" line: the fill rate the last answer measured (~60 tokens/s on two cores)
        self.per_second = 60.0
        # the passages' tokens in a typical prompt: the budget, or four passages cut to passage_chars (≈ 330)
        self.passage_tokens = pipe.settings.prompt_tokens or 330

    def stop(self, session: str) -> None:
        """The stop button: the session's answer stops at its next token; its questions still waiting never start."""
        self.conversations.stop(session)
        self.pipe.cancel(session)

    def drop(self, session: str) -> None:
        """A new conversation, or the tab closed: what the old one still had running stops, and stops updating."""
        self.conversations.drop(session)
        self.pipe.cancel(session)

    def respond(self, question: str, history: list[dict], turns: list[Turn], top_k: int = 0, length: str = "normal",
                backend: str = "llm", mode: str = "hybrid", lang: str = "zh", earlier: list | None = None,
                request: gr.Request = None):
        """The handler of 提问 and Enter."""
        session = session_of(request)
        ask = {"top_k": int(top_k or 0) or None, "max_tokens": ui.LENGTHS.get(length), "mode": mode or "hybrid",
               "extractive": backend == "extractive"}
        # A question that goes minutes without any change is a hang somewhere: the log then says where every
        # thread is.
        watch = stall.Watch(f"question {session[:6]}",
                            state=lambda: f"{self.pipe.line.describe()}; {self.prefiller.describe()}").start()
        try:
            for update in self._take(question, list(history or []), list(turns or []), list(earlier or []), ask,
                                     lang, session):
                if update != nothing():  # a place in line moving up, a word of the draft: not a hang
                    watch.progress()
                yield update
        finally:
            watch.stop()

    @staticmethod
    def _shown(conv: Conversation, panel=None, box=None) -> tuple:
        """The page's chat outputs from the conversation; nothing once the user has left it."""
        if conv.dropped:
            return nothing()
        history, turns, earlier = conv.snapshot()
        return history, gr.skip() if panel is None else panel, gr.skip() if box is None else box, turns, earlier

    def _take(self, question: str, history: list[dict], turns: list, earlier: list, ask: dict, lang: str,
              session: str):
        """One question sent: refused with a message, or put in the conversation and answered in its turn."""
        try:
            question = validate_question(question)
        except InputError as exc:
            yield from self._refuse(question, exc, history, turns, earlier, lang, session)
            return
        conv = self.conversations.enter(session, history, turns, earlier)
        number, stops = conv.ticket(), conv.stops
        try:
            log.info("question %s: %d characters, %d before it in the session", session[:6], len(question),
                     conv.ahead(number))
            place = conv.add({"role": "user", "content": ui.as_text(question)}, {"role": "assistant", "content": "…"})
            yield self._shown(conv, box="")  # the box is emptied once, as it is sent: what is typed next stays
            if conv.ahead(number):
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "after_previous")}
                yield self._shown(conv)
            its_turn = yield from self._previous_done(conv, number)
            if not its_turn:
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "busy")}
                yield self._shown(conv)
            elif conv.stops != stops:  # stopped while the session's previous question was answered
                conv.history[place] = {"role": "assistant", "content": ui.t(lang, "stopped_waiting")}
                yield self._shown(conv)
            else:
                yield from self._answer(conv, place, question, ask, lang, session)
        finally:
            conv.done(number)
            self.conversations.leave(conv)

    def _previous_done(self, conv: Conversation, number: int):
        """Wait for the session's questions sent before `number`, handing control back (an update that changes
        nothing) every HEARTBEAT_S, so a page that leaves meanwhile can close this handler at once. Returns
        whether its turn came: not if the conversation was dropped or the line's bound passed."""
        end = time.monotonic() + self.pipe.line.wait_s
        while not conv.wait_turn(number, min(HEARTBEAT_S, max(0.0, end - time.monotonic()))):
            if conv.dropped or time.monotonic() >= end:
                return False
            yield nothing()
        return True

    def _refuse(self, question: str, exc: InputError, history: list[dict], turns: list, earlier: list, lang: str,
                session: str):
        if not (question or "").strip():  # an empty send changes nothing on the page
            log.info("question %s: empty box sent, nothing to answer", session[:6])
            yield nothing()
            return
        conv = self.conversations.enter(session, history, turns, earlier)
        try:  # the question stays in the box to be shortened; no bubble holds a page of pasted text
            conv.history.append({"role": "assistant", "content": ui.t(lang, "too_long", n=len(question.strip()),
                                                                       limit=MAX_QUESTION_CHARS)})
            yield self._shown(conv, box=question)
        finally:
            self.conversations.leave(conv)

    def _answer(self, conv: Conversation, place: int, question: str, ask: dict, lang: str, session: str):
        """The question's turn: its passages, its place in the model's line, the draft, the checked answer."""
        turn = len(conv.earlier) + 1
        events = self.pipe.stream(question, history=conv.turns[-self.max_turns:], key=session, **ask)
        try:
            streamed = ""
            for event in events:
                if conv.dropped:  # a new conversation: this one's answer is of no more use
                    return
                if event.kind == "passages":
                    yield self._found(conv, place, question, list(event.passages), event.text, ask, lang, session,
                                      turn)
                    continue
                if event.kind == "retry":
                    streamed, text = "", ui.t(lang, "retry")
                elif event.kind == "waiting":  # its place in line, or the same again as a heartbeat
                    text = ui.t(lang, "waiting", ahead=event.text) if event.text != "0" else \
                        conv.history[place]["content"]
                    if text == conv.history[place]["content"]:
                        yield nothing()
                        continue
                elif event.kind == "token":
                    streamed += event.text
                    text = ui.provisional(streamed, lang)
                else:
                    yield self._finished(conv, place, question, event.answer, lang, session, turn)
                    return
                conv.history[place] = {"role": "assistant", "content": text}
                yield self._shown(conv)
        except Exception as exc:  # a message in the bubble, never a traceback
            yield self._failed(conv, place, question, exc, lang)
        finally:
            events.close()  # out of the model's line at once, whichever way this ended

    def _found(self, conv: Conversation, place: int, question: str, passages: list, searched: str, ask: dict,
               lang: str, session: str, turn: int) -> tuple:
        found = ui.sources_html(None, passages, searched, self._articles(), lang, turn)
        seconds = None if ask["extractive"] else self._reading_seconds(question, session)
        conv.history[place] = {"role": "assistant", "content": ui.stage_message(passages, lang, seconds)}
        return self._shown(conv, ui.panel(found, conv.earlier, lang))

    def _failed(self, conv: Conversation, place: int, question: str, exc: Exception, lang: str) -> tuple:
        if isinstance(exc, ModelBusyError):
            text = ui.t(lang, "busy")
        elif isinstance(exc, RagError):
            text = f"⚠️ {html.escape(str(exc))}"
        else:  # the details go to the log file
            log.error("answering %r failed", question[:200], exc_info=exc)
            text = "⚠️ " + ui.t(lang, "internal_error")
        conv.history[place] = {"role": "assistant", "content": text}
        return self._shown(conv, ui.panel("", conv.earlier, lang))

    def _finished(self, conv: Conversation, place: int, question: str, answer, lang: str, session: str,
                  turn: int) -> tuple:
        t = answer.timings
        log.info("answer %s-%d: %s, first word %.1f s, whole %.1f s", session[:6], turn,
                 "refused" if answer.refused else f"{len(answer.citations)} citations",
                 t.get("first_token_ms", 0) / 1000, t.get("total_ms", 0) / 1000)
        self._measure_prefill()
        self.prefiller.forget(session or "-")
        conv.history[place] = {"role": "assistant", "content": ui.answer_markdown(answer, lang, turn)}
        conv.turns.append(Turn(answer.query or answer.question, "" if answer.refused else answer.text))
        mine = ui.sources_html(answer, articles=self._articles(), lang=lang, turn=turn)
        panel = ui.panel(mine, conv.earlier, lang)
        conv.earlier.append((turn, question, mine))
        return self._shown(conv, panel)

    def _articles(self) -> dict:
        """The live index's articles, for the source cards' full-article view."""
        return self.pipe.index.articles if self.pipe.index is not None else {}

    def _reading_seconds(self, question: str, session: str) -> float | None:
        if self.pipe.generator is None or self.prefiller.filled(session, question):
            return None  # no model, or its prompt was filled while it was typed: no reading to wait for
        return (self.passage_tokens + QUESTION_TOKENS) / max(self.per_second, 1.0)

    def _measure_prefill(self) -> None:
        timings = getattr(self.pipe.generator, "last_timings", None) or {}
        if timings.get("prompt_per_second"):
            self.per_second = float(timings["prompt_per_second"])


__all__ = ["Chat", "session_of"]
