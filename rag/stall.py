"""A question that takes far longer than any answer should: the log gets every thread's stack, once, with
the model's line as it stands, so that a hang is found where it happened (the model, a lock, the line)
instead of being guessed at afterwards."""
from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable

log = logging.getLogger("rag")
STALL_S = 120.0  # an answer's p95 is about 20 s on two cores, with a second look and parts asked again


def stacks() -> str:
    """Where every thread of the process is now, named as `threading` names them."""
    names = {t.ident: t.name for t in threading.enumerate()}
    return "\n".join(f"thread {names.get(ident, ident)}:\n" + "".join(traceback.format_stack(frame)).rstrip()
                     for ident, frame in sys._current_frames().items())


class Watch:
    """Logs a warning with `state()` and every thread's stack if it is still running `seconds` after `start()`
    or after the last `progress()`; `stop()` sooner, and nothing is logged. `with Watch(…):` watches a block.

    A question waiting its turn behind others makes progress as its place moves up, so only a question that
    goes `seconds` without any change is reported, not one that waits long in a busy line."""

    def __init__(self, what: str, seconds: float = STALL_S, state: Callable[[], str] = lambda: "") -> None:
        self.what, self.seconds, self.state = what, seconds, state
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._stopped = False

    def start(self) -> Watch:
        self.progress()
        return self

    def progress(self) -> None:
        """Something happened: the clock starts again."""
        with self._lock:
            if self._stopped:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.seconds, self._report)
            self._timer.daemon = True
            self._timer.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _report(self) -> None:
        try:
            state = self.state()
        except Exception as exc:  # a report that cannot read the state still gives the stacks
            state = f"state unreadable: {exc}"
        log.warning("%s: still running, no progress for %.0f s (%s); where every thread is:\n%s", self.what,
                    self.seconds, state, stacks())


__all__ = ["STALL_S", "Watch", "stacks"]
