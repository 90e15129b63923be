"""Regenerate the golden files of the parsed seed pages:  python tests/make_golden.py  (then review the diff)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from rag.ingest import read_file

ROOT = Path(__file__).resolve().parent.parent


def parsed(path: Path) -> list[dict]:
    return [dataclasses.asdict(a) for a in read_file(path).articles]


if __name__ == "__main__":
    for seed in sorted((ROOT / "seeds").glob("*.txt")):
        out = ROOT / "tests" / "golden" / (seed.stem + ".json")
        out.write_text(json.dumps(parsed(seed), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(out)
