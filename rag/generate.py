"""Generate stage: chat messages -> streamed answer text from a local LLM, behind a one-role protocol."""
from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from rag.errors import MissingPackageError, ModelError


class Generator(Protocol):
    name: str

    def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Iterator[str]: ...


def default_threads() -> int:
    # Decode is memory-bound: one thread per core; more threads only contend on this machine.
    return max(1, os.cpu_count() or 1)


class LlamaCppGenerator:
    """A GGUF model run by llama.cpp through xllamacpp (in process, no server port opened).

    The llama.cpp server core keeps the KV cache of the previous prompt, so the fixed system prefix
    is not prefilled again for the next question.
    """

    def __init__(self, gguf: str | Path, threads: int = 0, context_tokens: int = 4096) -> None:
        self.path = str(gguf)
        self.name = f"llama.cpp:{Path(gguf).name}"
        self.threads = threads or default_threads()
        self.context_tokens = context_tokens
        self._server = None
        self._load_lock = threading.Lock()
        self._turns = _Turns()
        self.last_timings: dict = {}

    def _load(self):
        with self._load_lock:
            if self._server is None:
                try:
                    import xllamacpp as xlc
                except ImportError:
                    raise MissingPackageError("xllamacpp", "the llama.cpp backend") from None
                if not Path(self.path).is_file():
                    raise ModelError(f"GGUF file not found: {self.path}; run  rag models")
                params = xlc.CommonParams()
                params.model.path = self.path
                params.n_ctx = self.context_tokens
                params.n_parallel = 1
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                try:
                    self._server = xlc.Server(params)
                except Exception as exc:  # the C++ side reports load failures as plain exceptions
                    raise ModelError(f"llama.cpp could not load {self.path}: {exc}") from None
            return self._server

    def warm_up(self) -> None:
        self._load()

    def cancel(self) -> None:
        """Stop the answer being generated now (the page's stop button)."""
        self._turns.cancel()

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Iterator[str]:
        server = self._load()
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
                   "stream": True, "cache_prompt": True}

        def generate(emit, stop: threading.Event) -> None:
            # Returning True from the chunk callback tells the server core to stop generating.
            server.handle_chat_completions(request, lambda item: emit(item) or stop.is_set())

        self.last_timings = {}
        for item in self._turns.run(generate):
            if isinstance(item, dict) and "error" in item:
                raise ModelError(f"generation failed: {item['error']}")
            if isinstance(item, dict) and isinstance(item.get("timings"), dict):
                self.last_timings = item["timings"]  # prompt_n, cache_n, predicted_per_second, … (for rag bench)
            for choice in item.get("choices", []) if isinstance(item, dict) else []:
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text


class _Turns:
    """One generation at a time, run in a worker thread that streams its output through a queue.

    The worker, not the reader, gives the model back when it ends, so a reader that goes away without
    closing its stream (a browser tab closed mid-answer) cannot keep the model from the next question;
    at worst that generation runs to its token limit. Closing the stream, or cancel(), stops it at the
    next token.
    """

    def __init__(self) -> None:
        self._slot = threading.Semaphore(1)
        self._current: threading.Event | None = None

    def cancel(self) -> None:
        if self._current is not None:
            self._current.set()

    def run(self, generate) -> Iterator[object]:
        items: queue.Queue = queue.Queue()
        stop = threading.Event()
        self._slot.acquire()
        self._current = stop

        def work() -> None:
            try:
                generate(items.put, stop)
            except Exception as exc:  # handed to the reader, which raises it as a ModelError
                items.put(exc)
            finally:
                items.put(None)
                self._slot.release()

        try:
            threading.Thread(target=work, daemon=True).start()
        except BaseException:
            self._slot.release()
            raise
        try:
            while (item := items.get()) is not None:
                if isinstance(item, ModelError):
                    raise item
                if isinstance(item, Exception):
                    raise ModelError(f"generation failed: {item}")
                yield item
        finally:
            stop.set()


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
        self._turns = _Turns()
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
