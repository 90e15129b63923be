"""Compare the llama.cpp and transformers generators on the same prompts (a benchmark, not a test).

    python bench/compare_backends.py [N_QUESTIONS]

Prints load time, time to first token, decode speed, whole-answer time and how many answers hold
their gold strings after citation checking, and saves the figures to bench/compare_backends.json.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from rag.evaluate import answer_correct
from rag.generate import LlamaCppGenerator, TransformersGenerator
from rag.models import resolve
from rag.pipeline import pipeline_for
from rag.answer.prompt import build_messages
from rag.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def run(generator, pipe, items) -> dict:
    t = time.perf_counter()
    generator.warm_up()
    load_s = time.perf_counter() - t
    firsts, rates, totals, correct = [], [], [], 0
    for item in items:
        passages = pipe.retrieve(item["question"])
        messages = build_messages(item["question"], passages)
        start = time.perf_counter()
        first, pieces = None, []
        for piece in generator.stream(messages, 160):
            first = first or time.perf_counter()
            pieces.append(piece)
        end = time.perf_counter()
        raw = "".join(pieces)
        firsts.append(first - start if first else end - start)
        totals.append(end - start)
        if first and len(pieces) > 1:
            rates.append((len(pieces) - 1) / max(1e-6, end - first))
        answer = pipe._finish(item["question"], raw, passages, {}, "")
        correct += answer_correct(item, answer)
    return {"backend": generator.name, "load_s": round(load_s, 1),
            "first_token_s_p50": round(statistics.median(firsts), 2),
            "decode_tokens_per_s": round(statistics.median(rates), 1) if rates else None,
            "answer_s_p50": round(statistics.median(totals), 2),
            "correct": f"{correct}/{len(items)}"}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    settings = load_settings().replace(backend="extractive")
    pipe = pipeline_for(settings)
    items = [json.loads(line) for line in (ROOT.parent / "shared/eval/dev.jsonl").open(encoding="utf-8")]
    items = [it for it in items if it["answerable"]][:n]
    gguf = resolve(settings.llm, "llm", settings.cache_path)
    results = []
    for gen in (LlamaCppGenerator(gguf), TransformersGenerator(gguf, settings.cache_path)):
        results.append(run(gen, pipe, items))
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
        del gen
    (ROOT / "bench" / "compare_backends.json").write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
