"""The generator role: chat messages in, streamed answer text out."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Protocol


class Generator(Protocol):
    name: str

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]: ...


def default_threads() -> int:
    # Decode is memory-bound: one thread per core; more threads only contend on this machine.
    return max(1, os.cpu_count() or 1)
