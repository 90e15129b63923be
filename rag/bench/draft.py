"""`rag bench draft`: llama.cpp's draft-free speculative decoding against plain decoding, on the same prompts.

Answers copy passage wording, where an n-gram drafter (tokens proposed from what was already seen in the
prompt or the answer) could pay. It is kept only if tokens/s rise at temperature 0 with the very same text,
so each configuration answers the same prompts and its texts are compared with plain decoding's.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

Log = Callable[[str], None]


def draft_bench(pipe, questions: Sequence[str], drafts: Sequence[tuple[str, int, int]], bandwidth_gbs: float,
                log: Log = print, max_tokens: int = 160) -> dict:
    """For each (draft, match, max) the decode tokens/s over the prompts of `questions` (the pipeline's own
    prompts), against the bandwidth ceiling, and how many answers differ from the first configuration's."""
    from pathlib import Path

    from rag.generate import LlamaCppGenerator

    prompts = [pipe.prompts.first(q, pipe.retrieve(q)) for q in questions]
    path = pipe.generator.path
    weights = Path(path).stat().st_size
    ceiling = bandwidth_gbs * 1e9 / weights
    out, first_texts = {}, None
    for draft, match, most in drafts:
        gen = LlamaCppGenerator(path, threads=pipe.settings.threads, draft=draft, draft_match=match, draft_max=most)
        for _ in gen.stream(prompts[0], 1):  # loaded and warm before anything is timed
            pass
        texts, tokens, ms = [], 0, 0.0
        for messages in prompts:
            texts.append("".join(gen.stream(messages, max_tokens)))
            tokens += gen.last_timings.get("predicted_n", 0)
            ms += gen.last_timings.get("predicted_ms", 0.0)
        name = draft if draft == "off" else f"{draft} n={match} m={most}"
        rate = tokens / ms * 1000 if ms else 0.0
        first_texts = first_texts if first_texts is not None else texts
        out[name] = {"tokens": tokens, "decode_tokens_per_s": round(rate, 2),
                     "share_of_ceiling": round(rate / ceiling, 2),
                     "texts_differing": sum(a != b for a, b in zip(texts, first_texts))}
        log(f"[draft] {name}: {out[name]}")
        del gen
    return {"ceiling_tokens_per_s": round(ceiling, 1), "questions": len(prompts), "configs": out}


def draft_table(result: dict) -> str:
    head = "| decoding | tokens | decode tokens/s | share of the bandwidth ceiling | answers whose text differs |"
    lines = [f"ceiling {result['ceiling_tokens_per_s']} tokens/s, {result['questions']} prompts", head,
             "| --- | --- | --- | --- | --- |"]
    for name, r in result["configs"].items():
        lines.append(f"| {name} | {r['tokens']} | {r['decode_tokens_per_s']:.1f} | {r['share_of_ceiling']:.2f} "
                     f"| {r['texts_differing']} |")
    return "\n".join(lines)


__all__ = ["draft_bench", "draft_table"]
