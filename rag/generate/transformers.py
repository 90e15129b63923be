"""The GGUF model dequantised and run by transformers (torch on the CPU)."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import MissingPackageError, ModelError
from rag.generate.base import default_threads
from rag.generate.turns import Turns


class TransformersGenerator:
    """The same GGUF through transformers (dequantised). The first load converts the GGUF (~85 s) and
    saves a bf16 copy in the cache; later starts load that copy in a few seconds."""

    def __init__(self, gguf: str | Path, cache_dir: str | Path, threads: int = 0, dtype: str = "bfloat16") -> None:
        self.gguf = Path(gguf)
        self.converted = Path(cache_dir) / "converted" / f"{self.gguf.stem}-{dtype}"
        self.name = f"transformers:{self.gguf.name}"
        self.threads = threads or default_threads()
        self.dtype = dtype
        self._model = self._tok = None
        self._lock = threading.Lock()  # guards loading
        self._turns = Turns()
        self.last_timings: dict = {}

    def _load(self):
        if self._model is not None:
            return self._model, self._tok
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise MissingPackageError("transformers", "the transformers backend") from None
        torch.set_num_threads(self.threads)
        dtype = getattr(torch, self.dtype)
        if not (self.converted / "config.json").is_file():
            self._convert(AutoModelForCausalLM, AutoTokenizer, torch)
        self._tok = AutoTokenizer.from_pretrained(self.converted)
        self._model = AutoModelForCausalLM.from_pretrained(self.converted, dtype=dtype).eval()
        return self._model, self._tok

    def _convert(self, model_cls, tok_cls, torch) -> None:
        if not self.gguf.is_file():
            raise ModelError(f"GGUF file not found: {self.gguf}; run  rag models")
        folder, name = str(self.gguf.parent), self.gguf.name
        tok = tok_cls.from_pretrained(folder, gguf_file=name)
        model = model_cls.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model = model.to(getattr(torch, self.dtype))
        staging = self.converted.with_name(self.converted.name + ".partial")
        model.save_pretrained(staging)
        tok.save_pretrained(staging)
        staging.rename(self.converted)

    def warm_up(self) -> None:
        self._load()

    def cancel(self) -> None:
        """Stop the answer being generated now (the page's stop button)."""
        self._turns.cancel()

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        with self._lock:
            model, tok = self._load()

        def generate(emit, stop: threading.Event) -> None:
            class _Stop(StoppingCriteria):
                def __call__(self, input_ids, scores, **kwargs) -> bool:
                    return stop.is_set()

            inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
            self.last_timings = {"prompt_n": int(inputs["input_ids"].shape[1])}
            streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
            kwargs = dict(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                          stopping_criteria=StoppingCriteriaList([_Stop()]))
            worker = threading.Thread(target=model.generate, kwargs=kwargs, daemon=True)
            worker.start()
            for text in streamer:
                if text:
                    emit(text)
            worker.join()

        yield from self._turns.run(generate)

    def next_token_probs(self, messages: list[dict[str, str]], top: int = 10) -> dict[str, float]:
        """The `top` likeliest first tokens of the reply to `messages`, with their probabilities."""
        import torch

        with self._lock:
            model, tok = self._load()
        inputs = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)

        def generate(emit, stop) -> None:  # the model's turns: one call in it at a time, each wait bounded
            with torch.no_grad():
                emit(model(**inputs).logits[0, -1].float())

        probs = torch.softmax(list(self._turns.run(generate))[0], dim=-1)
        values, ids = probs.topk(top)
        return {tok.decode([int(i)]): float(v) for v, i in zip(values, ids)}
