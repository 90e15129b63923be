from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))  # app.py lives at the top of the repo

from fakes import HashingEmbedder, ScriptedGenerator  # noqa: E402

from rag.embed import Similarity  # noqa: E402
from rag.pipeline import Pipeline  # noqa: E402
from rag.settings import Settings  # noqa: E402


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "seeds"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture
def fake_pipeline(seeds_copy: Path, tmp_path: Path):
    """A pipeline over the seed pages with the hashing embedder; pass a reply to script the LLM."""

    def make(reply: str | None = None, **settings) -> Pipeline:
        s = Settings(seeds_dir=str(seeds_copy), index_dir=str(tmp_path / "index"), cache_dir=str(tmp_path / "cache"),
                     **settings)
        gen = ScriptedGenerator(reply) if reply is not None else None
        pipe = Pipeline(s, HashingEmbedder(), gen)
        if pipe.meaning is not None:  # 64 hashed dimensions make every two texts alike; 4096 keep them apart
            pipe.meaning = Similarity(HashingEmbedder(dim=4096))
        pipe.ensure_index()
        return pipe

    return make


def pytest_terminal_summary(terminalreporter) -> None:
    """How many generated cases the fuzz tests tried (tests/test_fuzz.py), for the record."""
    fuzz = sys.modules.get("test_fuzz")
    if fuzz is not None and fuzz.TRIED:
        parts = ", ".join(f"{name} {n}" for name, n in fuzz.TRIED.items())
        failed = [r for r in terminalreporter.stats.get("failed", []) if "test_fuzz" in r.nodeid]
        terminalreporter.write_line(f"fuzz cases tried: {sum(fuzz.TRIED.values())} ({parts}); "
                                    f"failing fuzz tests: {len(failed)}")
