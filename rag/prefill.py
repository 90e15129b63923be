"""Prefilling while the user types: the page sends the question box's text as it changes, and the model's
KV cache is filled with the prompt that text would have (the fixed prefix, the passages retrieved for it,
the question so far). On Enter the question's prompt starts the same when its passages are the same, so only
the rest is prefilled: the question's last words, or nothing.

One worker thread does the filling, always for the newest text posted (the model has one slot, so the newest
typist wins). It does not wait for a pause in the typing: a steady typist never pauses before Enter. A round
gives way at its next piece (about half a second) to newer text, and the round for that text is filled only
where its prompt differs from what is in the cache already: the prompt of a text two keystrokes short of the
question differs from the question's in its last dozen tokens (p50 over the dev questions), while one eight
keystrokes short differs in most of its passages, so finishing an older round would only delay the newest.

The work yields to answers: it starts only when the model is free and nobody waits for it, and stops
between pieces when a question comes. A question asked meanwhile waits at most for the piece being filled
(about a second).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rag.pipeline import MAX_QUESTION_CHARS
from rag.rewrite import Turn, rewrite_without_model

log = logging.getLogger("rag")
MIN_CHARS = 4  # fewer typed characters retrieve nothing worth filling
RETRY_S = 0.25  # how often a worker that found the model busy looks again


@dataclass(frozen=True)
class Typed:
    """The text of one session's question box, with what its retrieval depends on."""

    key: str
    text: str
    top_k: int | None = None
    mode: str = "hybrid"
    history: tuple[Turn, ...] = ()


class Prefiller:
    def __init__(self, pipe) -> None:
        self.pipe = pipe
        self._wanted: Typed | None = None  # the newest text posted, not filled yet
        self._filled: tuple[str, str] | None = None  # (session, text) whose prompt is in the model's one slot
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._busy = False  # the worker is filling (or retrieving for) a text

    def available(self, extractive: bool = False) -> bool:
        generator = self.pipe.generator
        return not extractive and generator is not None and hasattr(generator, "prefill")

    def filled(self, key: str, text: str) -> bool:
        """Whether the prompt for `text`, typed by session `key`, is the one in the model's cache."""
        with self._cond:
            return bool(text.strip()) and self._filled == (key, text.strip())

    def forget(self, key: str = "") -> None:
        """An answer (of session `key`) went through the model: the cache holds its prompt now, and what that
        session typed is sent. Another session's text still waits to be filled."""
        with self._cond:
            self._filled = None
            if self._wanted is not None and (not key or self._wanted.key == key):
                self._wanted = None
            self._cond.notify_all()

    def post(self, text: str, key: str, top_k: int | None = None, mode: str = "hybrid",
             history: Sequence[Turn] = (), extractive: bool = False) -> str:
        """The question box of session `key` now holds `text`: have the worker fill the cache for it. Returns
        at once: "posted", or "skipped" (nothing worth filling: too short or long, no model that prefills; an
        emptied box, as on Enter, also drops what was waiting to be filled)."""
        text = (text or "").strip()
        wanted = Typed(key, text, top_k, mode, tuple(history))
        ok = MIN_CHARS <= len(text) <= MAX_QUESTION_CHARS and self.available(extractive)
        with self._cond:
            if not ok:
                if self._wanted is not None and self._wanted.key == key:
                    self._wanted = None
                return "skipped"
            self._wanted = wanted
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="prefill", daemon=True)
                self._worker.start()
            self._cond.notify_all()
        return "posted"

    def describe(self, wait: float = 1.0) -> str:
        """What the worker is doing, for a stalled question's log line (`rag/stall.py`); its lock held longer
        than `wait` is said so, as `Line.describe` does."""
        if not self._cond.acquire(timeout=wait):
            return f"the prefill worker's lock held for over {wait:g} s"
        try:
            wanted = f"{len(self._wanted.text)} characters of {self._wanted.key}" if self._wanted else "nothing"
            return f"prefill {'busy' if self._busy else 'idle'}, wanted: {wanted}"
        finally:
            self._cond.release()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until the worker has nothing left to fill (for tests and benches); whether it got there."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._busy or self._wanted_unfilled():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _wanted_unfilled(self) -> bool:
        return self._wanted is not None and self._filled != (self._wanted.key, self._wanted.text)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._wanted_unfilled():
                    self._cond.wait()
                wanted, self._busy = self._wanted, True
            try:
                done = self.fill(wanted)
            finally:
                with self._cond:
                    self._busy = False
                    if done in ("busy", "stopped", "skipped") and self._wanted is wanted:
                        # not filled, and nothing newer typed: a question is being answered, or nothing to fill
                        self._wanted = None if done == "skipped" else wanted
                    self._cond.notify_all()
            log.debug("prefill of %d characters: %s", len(wanted.text), done)
            if done in ("busy", "stopped"):
                time.sleep(RETRY_S)

    def fill(self, typed: Typed) -> str:
        """Fill the cache for `typed` now, in this thread. Returns what came of it: "filled", "stale" (newer text
        was posted), "busy" (the model is answering or a question waits), "stopped" (a question came while
        filling) or "skipped" (nothing to fill)."""
        pipe, line = self.pipe, self.pipe.line
        hold = line.try_hold(f"prefill:{typed.key}")  # taken first: no retrieval competes for the CPU with an answer
        if hold is None:
            return "busy"
        with self._cond:  # the slot is about to hold another prompt
            self._filled = None

        def current() -> bool:  # nothing newer posted (an emptied box, as on Enter, is nothing newer)
            with self._cond:
                return self._wanted in (None, typed)

        try:
            # the model is not asked to rewrite a follow-up here: the rules do it, at no cost
            query = rewrite_without_model(typed.text, typed.history, pipe.settings.rewrite).question
            passages = pipe.retrieve(query, typed.top_k, typed.mode)
            if not passages:
                return "skipped"
            messages = pipe.prompts.first(query, passages)
            done = pipe.generator.prefill(messages, lambda: current() and not line.waiting())
        except Exception as exc:  # prefilling is only ever a head start: the answer does it again if need be
            log.warning("prefill failed: %s", exc)
            return "skipped"
        finally:
            line.leave(hold, True)
        if done:
            with self._cond:
                self._filled = (typed.key, typed.text)
            return "filled"
        return "stopped" if line.waiting() or current() else "stale"


__all__ = ["Prefiller", "Typed"]
