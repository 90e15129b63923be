"""Prefilling while the user types: the page sends the question box's text as it changes, and the model's
KV cache is filled with the prompt that text would have (the fixed prefix, the passages retrieved for it,
the question so far). On Enter the question's prompt starts the same when its passages are the same, so only
the rest is prefilled: the question's last words, or nothing.

The work yields to answers: it starts only when the model is free and nobody waits for it, and stops
between pieces when a question comes or a newer keystroke makes it stale. A question asked meanwhile waits at
most for the piece being filled (about a second).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from rag.pipeline import MAX_QUESTION_CHARS
from rag.rewrite import Turn, rewrite

log = logging.getLogger("rag")
MIN_CHARS = 4  # fewer typed characters retrieve nothing worth filling
DEBOUNCE_S = 0.4  # a keystroke within this much of the last one replaces it before any work starts


class Prefiller:
    def __init__(self, pipe, debounce_s: float = DEBOUNCE_S) -> None:
        self.pipe = pipe
        self.debounce_s = debounce_s
        self._latest: dict[str, int] = {}  # session -> number of its newest text
        self._filled: tuple[str, str] | None = None  # (session, text) whose prompt is in the model's one slot
        self._lock = threading.Lock()

    def available(self, extractive: bool = False) -> bool:
        generator = self.pipe.generator
        return not extractive and generator is not None and hasattr(generator, "prefill")

    def filled(self, key: str, text: str) -> bool:
        """Whether the prompt for `text`, typed by session `key`, is the one in the model's cache."""
        with self._lock:
            return bool(text.strip()) and self._filled == (key, text.strip())

    def forget(self) -> None:
        """An answer went through the model: the cache holds its prompt now."""
        with self._lock:
            self._filled = None

    def _newest(self, key: str) -> int:
        with self._lock:
            self._latest[key] = self._latest.get(key, 0) + 1
            return self._latest[key]

    def _is_newest(self, key: str, n: int) -> bool:
        with self._lock:
            return self._latest.get(key) == n

    def typed(self, text: str, key: str, top_k: int | None = None, mode: str = "hybrid",
              history: Sequence[Turn] = (), extractive: bool = False) -> str:
        """The question box of session `key` now holds `text`: fill the cache for it, once the typing pauses.
        Returns what came of it: "filled", "stale" (newer text came), "busy" (the model is answering or a
        question waits), "stopped" (a question came while filling) or "skipped" (nothing to fill)."""
        n = self._newest(key)
        text = (text or "").strip()
        if not MIN_CHARS <= len(text) <= MAX_QUESTION_CHARS or not self.available(extractive):
            return "skipped"
        time.sleep(self.debounce_s)
        if not self._is_newest(key, n):
            return "stale"
        pipe, line, hold = self.pipe, self.pipe.line, f"prefill:{key}"
        if not line.try_hold(hold):  # taken first: no retrieval competes for the CPU with an answer
            return "busy"
        with self._lock:  # the slot is about to hold another prompt (the box emptied on Enter changes nothing)
            self._filled = None
        try:
            # the model is not asked to rewrite a follow-up here: the rules do it, at no cost
            query = rewrite(text, history, None,
                            "rules" if pipe.settings.rewrite == "llm" else pipe.settings.rewrite).question
            passages = pipe.retrieve(query, top_k, mode)
            if not passages:
                return "skipped"
            messages = pipe._messages(query, passages)
            done = pipe.generator.prefill(messages, lambda: self._is_newest(key, n) and not line.waiting())
        except Exception as exc:  # prefilling is only ever a head start: the answer does it again if need be
            log.warning("prefill failed: %s", exc)
            return "skipped"
        finally:
            line.leave(hold, True)
        if done:
            with self._lock:
                self._filled = (key, text)
            return "filled"
        return "stale" if not self._is_newest(key, n) else "stopped"


__all__ = ["Prefiller"]
