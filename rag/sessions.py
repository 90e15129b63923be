"""The conversations of the chat page's sessions, shared by the questions of one session that overlap.

A page may send a second question while the first one's answer still streams. Each question's handler
sends the page the whole chat, so two handlers working from their own copies would overwrite each other's
bubbles: the second question would vanish, or the first answer stay a draft. Here both work on one
`Conversation`: each question owns the bubble it added (by its place in the list), answers in the order
sent, one at a time, and every update shows everything. "New conversation" drops it, so a handler still
running stops updating a chat the user has cleared.

The page sends its chat as rendered by Gradio, whose user bubbles may come back in another form than they
were sent (a list of parts): `_earlier_state` compares them as text.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Conversation:
    history: list[dict]  # the chat as the page shows it: {"role", "content"} messages
    turns: list  # standalone questions and answers so far, for follow-ups (rag.rewrite.Turn)
    earlier: list  # (number, question, sources HTML) of each answer so far, for the sources panel
    active: int = 0  # questions of it being handled now
    dropped: bool = False  # the user started a new conversation, or the session ended
    stops: int = 0  # how many times its stop button was pressed
    _order: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _next: int = 0  # the number of the question whose turn it is
    _taken: int = 0  # numbers given out
    _over: set = field(default_factory=set, repr=False)  # numbers over before their turn came

    def add(self, question: dict, bubble: dict) -> int:
        """Put a question and its answer's bubble at the end; returns the bubble's place."""
        self.history += [question, bubble]
        return len(self.history) - 1

    def ticket(self) -> int:
        with self._order:
            self._taken += 1
            return self._taken - 1

    def ahead(self, number: int) -> int:
        """How many questions of the conversation are before `number` and not done yet."""
        with self._order:
            return max(0, number - self._next)

    def wait_turn(self, number: int, timeout: float) -> bool:
        """Wait until the questions sent before `number` are done; False after `timeout` or when dropped."""
        end = time.monotonic() + timeout
        with self._order:
            while self._next != number and not self.dropped:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._order.wait(min(left, 0.5))
            return not self.dropped

    def done(self, number: int) -> None:
        """Question `number` is over (answered, refused, failed or abandoned). The turn passes on only past
        the questions that are all over: a later one abandoned while waiting lets no one by the one answering."""
        with self._order:
            self._over.add(number)
            while self._next in self._over:
                self._over.discard(self._next)
                self._next += 1
            self._order.notify_all()

    def snapshot(self) -> tuple[list[dict], list, list]:
        return [dict(m) for m in self.history], list(self.turns), list(self.earlier)


class Conversations:
    """The conversation of each session, kept between its questions: the page's chat is only ever changed
    by these handlers (and "new conversation", which drops it), so what the server holds is what the page
    shows, even when a question is sent with a chat a moment older than the last update. The page's chat is
    taken instead when it is not an earlier state of the kept one (after a restart, or from an API client
    with a history of its own). At most `keep` sessions are kept; the longest idle go first."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self._by_session: dict[str, Conversation] = {}  # oldest use first
        self._lock = threading.Lock()

    def enter(self, session: str, history: list[dict], turns: list, earlier: list) -> Conversation:
        """The session's conversation for a new question (`leave` when its handling ends)."""
        with self._lock:
            conv = self._by_session.pop(session, None)
            if conv is None or conv.dropped or not _earlier_state(history, conv.history):
                conv = Conversation(list(history), list(turns), list(earlier))
            self._by_session[session] = conv
            conv.active += 1
            idle = [k for k, c in self._by_session.items() if c.active == 0]
            for k in idle[:max(0, len(self._by_session) - self.keep)]:
                del self._by_session[k]
            return conv

    def leave(self, conv: Conversation) -> None:
        """A question of `conv` is no longer being handled."""
        with self._lock:
            conv.active -= 1

    def drop(self, session: str) -> None:
        """A new conversation, or the page closed: questions still running stop updating the old one."""
        with self._lock:
            conv = self._by_session.pop(session, None)
        if conv is not None:
            with conv._order:
                conv.dropped = True
                conv._order.notify_all()

    def stop(self, session: str) -> None:
        """The stop button: the questions of the session sent so far are stopped, waiting ones too."""
        with self._lock:
            conv = self._by_session.get(session)
            if conv is not None:
                conv.stops += 1

    def kept(self) -> int:
        with self._lock:
            return len(self._by_session)


def _earlier_state(page: list[dict], kept: list[dict]) -> bool:
    """Whether the page's chat is the kept one as it was at some moment: its questions, in order, are the
    first of the kept one's."""
    asked = [bubble_text(m.get("content")) for m in page if isinstance(m, dict) and m.get("role") == "user"]
    held = [bubble_text(m.get("content")) for m in kept if m.get("role") == "user"]
    return held[:len(asked)] == asked


def bubble_text(content) -> str:
    """A bubble's text, whether it is a string or Gradio's list of parts ({"type": "text", "text": …})."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    if isinstance(content, list):
        return "".join(bubble_text(c) for c in content)
    return ""


__all__ = ["Conversation", "Conversations", "bubble_text"]
