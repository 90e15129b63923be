"""One generation at a time, streamed from a worker thread: shared by the in-process backends."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from rag.errors import ModelBusyError, ModelError

SLOT_WAIT_S = 60.0  # the line already orders the model's users: a longer wait here is a generation stuck
SILENCE_S = 300.0  # no piece for this long (a long prompt's prefill takes under a minute) is a stuck call


class Turns:
    """One generation at a time, run in a worker thread that streams its output through a queue.

    The worker, not the reader, gives the model back when it ends, so a reader that goes away without
    closing its stream (a browser tab closed mid-answer) cannot keep the model from the next question;
    at worst that generation runs to its token limit. Closing the stream, or cancel(), stops it at the
    next token.

    Both waits are bounded: for the slot (`slot_wait_s`) and for each piece (`silence_s`). Past either, the
    reader raises ModelBusyError and tells the worker to stop; a worker stuck inside the model's call keeps
    the slot until that call returns, and the next reader is told so after its own bound.
    """

    def __init__(self, slot_wait_s: float = SLOT_WAIT_S, silence_s: float = SILENCE_S) -> None:
        self.slot_wait_s, self.silence_s = slot_wait_s, silence_s
        self._slot = threading.Semaphore(1)
        self._current: threading.Event | None = None

    def cancel(self) -> None:
        if self._current is not None:
            self._current.set()

    def run(self, generate) -> Iterator[object]:
        items: queue.Queue = queue.Queue()
        stop = threading.Event()
        if not self._slot.acquire(timeout=self.slot_wait_s):
            raise ModelBusyError(self.slot_wait_s)
        self._current = stop

        def work() -> None:
            try:
                generate(items.put, stop)
            except Exception as exc:  # handed to the reader, which raises it as a ModelError
                items.put(exc)
            finally:
                items.put(None)
                self._slot.release()

        try:
            threading.Thread(target=work, daemon=True).start()
        except BaseException:
            self._slot.release()
            raise
        try:
            while (item := self._next(items)) is not None:
                if isinstance(item, ModelError):
                    raise item
                if isinstance(item, Exception):
                    raise ModelError(f"generation failed: {item}")
                yield item
        finally:
            stop.set()

    def _next(self, items: queue.Queue) -> object:
        try:
            return items.get(timeout=self.silence_s)
        except queue.Empty:
            raise ModelBusyError(self.silence_s, "silent") from None
