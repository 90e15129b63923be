"""The line in front of the one language model in memory: its only door.

Every use of the model comes through here: a question's answer (with every step it takes), a follow-up's
rewrite, the warm-up, and prefilling while the user types (`try_hold`, which never waits). Each use gets a
ticket of its own, so two questions of one session are two places in line; the session's `key` is what its
stop button names: it stops every ticket of that session, whether being generated or still waiting.

No wait here is unbounded: a ticket that waits longer than `wait_s` leaves the line and raises
`ModelBusyError`, so a question ends with a message instead of hanging.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rag.errors import ModelBusyError

WAIT_S = 600.0  # the longest a question waits for the model before it is told the model is busy
# While it waits, a ticket's caller gets control back at least this often, even with nothing new to say: a
# page's handler stuck in one step cannot be closed, and Gradio closes a cancelled one under a lock that every
# other cancel of the server waits for.
HEARTBEAT_S = 0.5


class Line:
    def __init__(self, wait_s: float = WAIT_S) -> None:
        self.wait_s = wait_s
        self._slot = threading.Semaphore(1)  # one use of the model at a time
        self._waiting: list[str] = []  # tickets, in arrival order
        self._session: dict[str, str] = {}  # ticket -> the session key it was taken for
        self._holder = ""  # the ticket that holds the model
        self._yields = False  # the holder took the model by try_hold: it steps aside, and is nobody "ahead"
        self._stopped: set[str] = set()  # tickets whose session pressed stop
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def join(self, key: str) -> str:
        """A place at the back of the line for session `key`; returns its ticket."""
        with self._lock:
            ticket = self._ticket(key)
            self._waiting.append(ticket)
            return ticket

    def _ticket(self, key: str) -> str:
        """A new ticket for session `key` (under the lock)."""
        ticket = f"{key or '-'}#{next(self._numbers)}"
        self._session[ticket] = key
        return ticket

    def wait_turn(self, ticket: str, wait_s: float | None = None) -> Iterator[int]:
        """Wait for the model, yielding how many uses are ahead whenever that changes, and again (the same
        number, or 0 behind work that steps aside) every HEARTBEAT_S. Returns holding the model
        (`holds(ticket)`), or not, if its session stopped meanwhile. Raises ModelBusyError, out of the line,
        after `wait_s` (the line's own bound by default)."""
        bound = self.wait_s if wait_s is None else wait_s
        limit = time.monotonic() + bound
        last, beat = -1, time.monotonic()
        while not self._slot.acquire(timeout=0.1):
            with self._lock:
                if ticket in self._stopped:
                    return
                if time.monotonic() > limit:
                    self._forget(ticket)
                    raise ModelBusyError(bound)
                # those before it in line, and the one using the model (unless that work steps aside)
                ahead = self._waiting.index(ticket) + (0 if self._yields else 1)
            now = time.monotonic()
            if (ahead != last and ahead > 0) or now - beat >= HEARTBEAT_S:
                last, beat = ahead, now
                yield ahead
        with self._lock:
            if ticket in self._stopped:  # stopped just as its turn came
                self._slot.release()
                return
            self._waiting.remove(ticket)
            self._holder, self._yields = ticket, False

    @contextmanager
    def turn(self, key: str, wait_s: float | None = None) -> Iterator[str]:
        """Hold the model for a use that shows no place in line (the warm-up, a follow-up's rewrite): joins,
        waits, and leaves however the block ends. Yields the ticket; ModelBusyError past the bound."""
        ticket = self.join(key)
        held = False
        try:
            for _ in self.wait_turn(ticket, wait_s):
                pass
            held = self.holds(ticket)
            yield ticket
        finally:
            self.leave(ticket, held)

    def try_hold(self, key: str) -> str | None:
        """Take the model for `key` at once if it is free and nobody waits for it (work that may wait, such
        as prefilling while the user types): its ticket, which `leave(ticket, True)` gives back; else None."""
        with self._lock:
            if self._waiting or self._holder or not self._slot.acquire(blocking=False):
                return None
            ticket = self._ticket(key)
            self._holder, self._yields = ticket, True
            return ticket

    def holds(self, ticket: str) -> bool:
        with self._lock:
            return bool(ticket) and self._holder == ticket

    def leave(self, ticket: str, held: bool) -> None:
        """`ticket` is done: out of the line, and the model free for the next when it held it."""
        with self._lock:
            self._forget(ticket)
            release = held and self._holder == ticket
            if release:
                self._holder = ""
        if release:
            self._slot.release()

    def _forget(self, ticket: str) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        self._stopped.discard(ticket)
        self._session.pop(ticket, None)

    def stop(self, key: str) -> bool:
        """Stop every use session `key` has in line or holding; whether the use of the model now is to be
        cancelled (it is `key`'s, or `key` is empty: any)."""
        with self._lock:
            if key:
                self._stopped.update(t for t in [*self._waiting, self._holder] if t and self._session.get(t) == key)
            return not key or (bool(self._holder) and self._session.get(self._holder) == key)

    def stopped(self, ticket: str) -> bool:
        with self._lock:
            return ticket in self._stopped

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


__all__ = ["HEARTBEAT_S", "WAIT_S", "Line"]
