"""What the `rag` command's parts share: progress bars, progress lines and the settings a command runs with."""
from __future__ import annotations

import argparse
import sys

from rag.settings import Settings, load_settings


class _Bar:
    """Progress on stderr through tqdm, one bar per stage ("stage · details": the details may change).

    On a terminal the bar redraws in place; into a file or pipe tqdm would write a line per redraw, so
    there each stage gets one line when it is done instead.
    """

    def __init__(self) -> None:
        self._bars: dict[str, object] = {}
        self._tty = sys.stderr.isatty()

    def __call__(self, message: str, done: int, total: int) -> None:
        from tqdm import tqdm

        stage, _, details = message.partition(" · ")
        if not self._tty:
            if done >= total:
                print(f"{stage}: {done}/{total} {details}".rstrip(), file=sys.stderr, flush=True)
            return
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage[:32], file=sys.stderr, leave=True,
                                           dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.set_postfix_str(details[:60], refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()
            del self._bars[stage]


def _log(line: str) -> None:
    """A benchmark's progress line, on stderr so that stdout keeps only the results."""
    print(line, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "settings", None))
    changes = {k: v for k, v in {
        "seeds_dir": getattr(args, "seeds", None),
        "index_dir": getattr(args, "out", None) if args.command == "index" else None,
        "backend": getattr(args, "backend", None), "top_k": getattr(args, "top_k", None),
        "verbose": True if getattr(args, "verbose", False) else None,
    }.items() if v is not None}
    if getattr(args, "without", ""):
        from rag.answer.steps import steps_of

        off = steps_of(args.without)
        changes["steps"] = ",".join(s for s in settings.steps.split(",") if s.strip() not in off)
    return settings.replace(**changes) if changes else settings


__all__ = ["_Bar", "_log", "_settings"]
