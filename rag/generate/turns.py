"""One generation at a time, streamed from a worker thread: shared by the in-process backends."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from rag.errors import ModelError


class Turns:
    """One generation at a time, run in a worker thread that streams its output through a queue.

    The worker, not the reader, gives the model back when it ends, so a reader that goes away without
    closing its stream (a browser tab closed mid-answer) cannot keep the model from the next question;
    at worst that generation runs to its token limit. Closing the stream, or cancel(), stops it at the
    next token.
    """

    def __init__(self) -> None:
        self._slot = threading.Semaphore(1)
        self._current: threading.Event | None = None

    def cancel(self) -> None:
        if self._current is not None:
            self._current.set()

    def run(self, generate) -> Iterator[object]:
        items: queue.Queue = queue.Queue()
        stop = threading.Event()
        self._slot.acquire()
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
            while (item := items.get()) is not None:
                if isinstance(item, ModelError):
                    raise item
                if isinstance(item, Exception):
                    raise ModelError(f"generation failed: {item}")
                yield item
        finally:
            stop.set()
