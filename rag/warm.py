"""Loading the models before the first question, with each step's time: what `rag serve` does behind the
page and what a fresh `rag ask` reports, so the first answer's wait is the question's own."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rag.answer.prompt import build_messages
from rag.errors import ModelBusyError, RagError
from rag.pipeline import EXTRACTIVE_NOTICE

log = logging.getLogger("rag")


def primer() -> list[dict[str, str]]:
    """The fixed start of every prompt, as messages: the system message and a short user turn. Its KV cache,
    once in the model's slot, is shared by every question's prompt."""
    return build_messages("你好", [])


def warm_up(pipe, step: Callable[[str, str], None] = lambda name, state: None) -> dict[str, float | str]:
    """Load the embedder (and jieba, and the index's search path) and the language model, and put the fixed
    prompt prefix in the model's cache: restored from disk when the generator keeps it there (llama.cpp),
    else prefilled. `step(name, state)` hears "embedder"/"llm" going "loading" → "ready" (or "failed": a
    model that cannot be loaded leaves the pipeline answering extractively, with its notice). Returns the
    seconds of each step, and how the prefix got there ("restored" or "filled")."""
    out: dict[str, float | str] = {}
    t = time.perf_counter()
    step("embedder", "loading")
    pipe.retrieve("预热")
    out["embedder_s"] = round(time.perf_counter() - t, 2)
    step("embedder", "ready")
    generator = pipe.generator
    if generator is None:
        return out
    step("llm", "loading")
    try:
        # the model's one door: the page may already be answering, and its questions wait behind this
        with pipe.line.turn("warm-up"):
            t = time.perf_counter()
            if hasattr(generator, "warm_up"):
                generator.warm_up()
            out["llm_load_s"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            if hasattr(generator, "prime"):
                out["prefix"] = generator.prime(primer())
            else:  # one token over the prefix: a backend with a prompt cache keeps it for the first question
                for _ in generator.stream(primer(), 1):
                    pass
                out["prefix"] = "filled"
            out["prefix_s"] = round(time.perf_counter() - t, 2)
    except ModelBusyError as exc:  # the model is there, only busy: the first question fills the prefix
        log.warning("the prompt prefix was not put in the cache: %s", exc)
        step("llm", "ready")
        return out
    except RagError as exc:  # answers still work, extractively, and say so
        log.warning("LLM unavailable, answering extractively: %s", exc)
        pipe.generator, pipe.notice = None, EXTRACTIVE_NOTICE
        step("llm", "failed")
        return out
    step("llm", "ready")
    return out


__all__ = ["primer", "warm_up"]
