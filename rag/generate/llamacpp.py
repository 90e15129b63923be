"""A GGUF model run in process by llama.cpp (xllamacpp)."""
from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import MissingPackageError, ModelError
from rag.generate.base import default_threads
from rag.generate.turns import Turns
from rag.sockets import private_socket, restrict


class LlamaCppGenerator:
    """A GGUF model run by llama.cpp through xllamacpp, in process.

    The llama.cpp server core keeps the KV cache of the previous prompt, so the fixed system prefix
    is not prefilled again for the next question. That core also starts its HTTP server, which would
    listen on a TCP port of 127.0.0.1 with no key and CORS open to every origin: any local user, or a web
    page in the user's browser, could drive the model. It listens instead on a Unix socket (mode 600) in a
    private folder (mode 700) and asks for a random key that never leaves this process; requests from
    the pipeline go through the core's function calls, not through that socket.

    llama.cpp logs to the process's stderr from C++; `verbose=False` silences it (errors included), and
    `rag --verbose` turns it on.
    """

    def __init__(self, gguf: str | Path, threads: int = 0, context_tokens: int = 4096, verbose: bool = False) -> None:
        self.path = str(gguf)
        self.name = f"llama.cpp:{Path(gguf).name}"
        self.threads = threads or default_threads()
        self.context_tokens = context_tokens
        self.verbose = verbose
        self.socket_path = ""
        self._server = None
        self._load_lock = threading.Lock()
        self._turns = Turns()
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
                params.verbosity = 3 if self.verbose else 0
                sock = private_socket("rag-llm-", "llm.sock")
                params.hostnames = [str(sock)]  # a name ending in .sock: a Unix socket, not TCP
                params.port = 8080  # required by the core's bind call, unused for a Unix socket
                params.api_keys = [secrets.token_urlsafe(24)]
                params.endpoint_slots = False  # slot save/restore over HTTP: not for anyone else
                try:
                    self._server = xlc.Server(params)
                except Exception as exc:  # the C++ side reports load failures as plain exceptions
                    hint = "" if self.verbose else " (rag --verbose shows llama.cpp's log)"
                    raise ModelError(f"llama.cpp could not load {self.path}: {exc}{hint}") from None
                self.socket_path = str(sock)
                restrict(sock)
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
