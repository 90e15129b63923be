"""The line of questions waiting for the one language model in memory.

Questions retrieve their passages at once, then wait here in arrival order; a `key` names the asking session,
so that its stop button stops its own answer only, whether it is being generated or still waiting.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator


class Line:
    def __init__(self) -> None:
        self._slot = threading.Semaphore(1)  # one answer is generated at a time
        self._waiting: list[str] = []
        self._holder = ""
        self._yields = False  # the holder took the model by try_hold: it steps aside, and is nobody "ahead"
        self._stopped: set[str] = set()
        self._lock = threading.Lock()

    def join(self, key: str) -> None:
        with self._lock:
            self._waiting.append(key)

    def wait_turn(self, key: str) -> Iterator[int]:
        """Wait for the model, yielding how many answers are ahead whenever that changes. Returns holding
        the model (`holds(key)`), or not, if the session stopped while waiting."""
        last = -1
        while not self._slot.acquire(timeout=0.2):
            with self._lock:
                if key in self._stopped:
                    return
                # those before it in line, and the one being generated (unless that work steps aside)
                ahead = self._waiting.index(key) + (0 if self._yields else 1)
            if ahead != last and ahead > 0:
                last = ahead
                yield ahead
        with self._lock:
            if key in self._stopped:  # stopped just as its turn came
                self._slot.release()
                return
            self._waiting.remove(key)
            self._holder, self._yields = key, False

    def try_hold(self, key: str) -> bool:
        """Take the model for `key` at once if it is free and nobody waits for it (work that may wait, such
        as prefilling while the user types); `leave(key, True)` gives it back."""
        with self._lock:
            if self._waiting or self._holder or not self._slot.acquire(blocking=False):
                return False
            self._holder, self._yields = key, True
            return True

    def holds(self, key: str) -> bool:
        with self._lock:
            return self._holder == key

    def leave(self, key: str, held: bool) -> None:
        """`key` is done: out of the line, and the model free for the next when it held it."""
        with self._lock:
            if key in self._waiting:
                self._waiting.remove(key)
            self._stopped.discard(key)
            if held:
                self._holder = ""
        if held:
            self._slot.release()

    def stop(self, key: str) -> bool:
        """Mark session `key` stopped; whether the answer being generated is to be cancelled (it is `key`'s,
        or `key` is empty: any)."""
        with self._lock:
            if key and (key in self._waiting or key == self._holder):
                self._stopped.add(key)
            return not key or key == self._holder

    def stopped(self, key: str) -> bool:
        with self._lock:
            return key in self._stopped

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def describe(self, wait: float = 1.0) -> str:
        """Who holds the model and who waits, for a stalled question's log line (`rag/stall.py`). A report on a
        hang must not hang itself: a lock held longer than `wait` is said so."""
        if not self._lock.acquire(timeout=wait):
            return f"the line's lock held for over {wait:g} s"
        try:
            return (f"model held by {self._holder or 'nobody'}{' (steps aside)' if self._yields else ''}, "
                    f"waiting: {', '.join(self._waiting) or 'nobody'}, "
                    f"stopped: {', '.join(sorted(self._stopped)) or 'none'}")
        finally:
            self._lock.release()


__all__ = ["Line"]
