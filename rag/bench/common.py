"""What every benchmark shares: the percentile it reports, saving its figures, ending a server it started, the
retrieval over a question set's corpus."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of `values`, interpolated, to two places (0 for none): every benchmark reports it."""
    return round(float(np.percentile(values, q)), 2) if values else 0.0


def set_pipeline(settings, qs, folder: Path, work: Path, embedders: dict, log=print):
    """A Pipeline without a model over question set `qs`'s corpus (its index in `work`, built when missing), to
    retrieve as an answer does; the embedder of each name is loaded once into `embedders`."""
    from rag.factory import embedder_for
    from rag.pipeline import Pipeline
    from rag.suite import set_settings

    s = set_settings(settings, qs, Path(folder), Path(work))
    if s.embedder not in embedders:
        embedders[s.embedder] = embedder_for(s)
    pipe = Pipeline(s, embedders[s.embedder], None)
    log(f"[{qs.name}] index: {pipe.ensure_index() or 'up to date'}".strip())
    return pipe


def save(result: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


def stop_process(proc, timeout: float = 30.0) -> None:
    """End a server the bench started: asked first, then killed."""
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


__all__ = ["percentile", "save", "stop_process"]
