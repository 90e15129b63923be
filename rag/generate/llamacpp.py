"""A GGUF model run in process by llama.cpp (xllamacpp)."""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import MissingPackageError, ModelError
from rag.generate.base import default_threads
from rag.generate.turns import Turns
from rag.sockets import private_socket, restrict


log = logging.getLogger("rag")
CACHE_RAM_MIB = 512


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

    def __init__(self, gguf: str | Path, threads: int = 0, context_tokens: int = 4096, verbose: bool = False,
                 state_dir: str | Path = "", draft: str = "off", draft_match: int = 4, draft_max: int = 8) -> None:
        self.path = str(gguf)
        self.name = f"llama.cpp:{Path(gguf).name}"
        self.threads = threads or default_threads()
        self.context_tokens = context_tokens
        self.verbose = verbose
        self.socket_path = ""
        self._server = None
        self._load_lock = threading.Lock()
        self._turns = Turns()
        self._key = secrets.token_urlsafe(24)  # the core's HTTP key: never leaves this process
        self.last_timings: dict = {}
        self.last_logprobs: list[tuple[str, float]] = []  # the last answer's tokens, each with its log-probability
        self.state_dir = Path(state_dir) if state_dir else None  # saved KV states of the fixed prompt prefix
        # draft-free speculative decoding: "off", or an n-gram drafter of llama.cpp's ("ngram_simple",
        # "ngram_map_k") that proposes up to `draft_max` tokens where the last `draft_match` were seen before
        self.draft, self.draft_match, self.draft_max = draft, draft_match, draft_max
        self.prefills = 0  # prompts filled whole by `prefill` (for tests and the log)
        self.last_prefilled: list[dict[str, str]] | None = None  # the last of them

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
                # Earlier prompts' KV states kept in RAM to be restored (≈ 9 MB per 300-token prompt): the
                # server's default of 8 GiB would let a day of questions and prefills grow the process by as much.
                params.cache_ram_mib = CACHE_RAM_MIB
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.verbosity = 3 if self.verbose else 0
                if self.draft != "off":
                    spec = params.speculative
                    spec.types = [getattr(xlc.common_speculative_type, f"COMMON_SPECULATIVE_TYPE_{self.draft.upper()}")]
                    for ngram in (spec.ngram_simple, spec.ngram_map_k):
                        ngram.size_n, ngram.size_m = self.draft_match, self.draft_max
                sock = private_socket("rag-llm-", "llm.sock")
                params.hostnames = [str(sock)]  # a name ending in .sock: a Unix socket, not TCP
                params.port = 8080  # required by the core's bind call, unused for a Unix socket
                params.api_keys = [self._key]
                # Slot save/restore over HTTP, on the private socket with the key only this process holds: the
                # fixed prompt prefix's KV state is kept on disk (see `prime`).
                if self.state_dir is not None:
                    try:
                        self.state_dir.mkdir(parents=True, exist_ok=True)
                        params.slot_save_path = str(self.state_dir) + os.sep
                    except OSError as exc:  # a read-only data folder: the prefix is filled at each start
                        log.warning("the prompt prefix will not be kept on disk: %s", exc)
                        self.state_dir = None
                params.endpoint_slots = self.state_dir is not None
                try:
                    self._server = xlc.Server(params)
                except Exception as exc:  # the C++ side reports load failures as plain exceptions
                    hint = "" if self.verbose else " (rag --verbose shows llama.cpp's log)"
                    raise ModelError(f"llama.cpp could not load {self.path}: {exc}{hint}") from None
                self.socket_path = str(sock)
                restrict(sock)
            return self._server

    def _http(self, path: str, body: dict) -> dict:
        """POST `body` to the core's own HTTP API over its private socket (what its function calls lack)."""
        self._load()
        conn = _UnixConnection(self.socket_path)
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json",
                                                          "Authorization": f"Bearer {self._key}"})
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
        except (OSError, ValueError) as exc:
            raise ModelError(f"llama.cpp's {path} failed: {exc}") from None
        finally:
            conn.close()
        if response.status != 200:
            raise ModelError(f"llama.cpp's {path} answered {response.status}: {data}")
        return data

    def count_tokens(self, text: str) -> int:
        """How many tokens the model's own tokenizer makes of `text`."""
        return len(self._http("/tokenize", {"content": text}).get("tokens", []))

    def warm_up(self) -> None:
        self._load()

    def prime(self, messages: list[dict[str, str]]) -> str:
        """Have the KV cache of `messages` (the fixed prompt prefix: the system message and a short user turn)
        in the slot, so the first question prefills only its own tokens. The state is restored from the saved
        one when this model, context size and prefix were saved before ("restored"); else it is filled with
        one token of generation and saved for the next start ("filled")."""
        self._load()
        name = self._state_name(messages)
        if self.state_dir is not None and (self.state_dir / name).is_file():
            try:
                self._http("/slots/0?action=restore", {"filename": name})
                return "restored"
            except ModelError:  # a damaged or foreign file: filled again below, and saved over
                pass
        for _ in self.stream(messages, 1):
            pass
        if self.state_dir is not None:
            try:
                self._http("/slots/0?action=save", {"filename": name})
            except ModelError as exc:  # a full disk: the next start fills it again, nothing else is lost
                log.warning("the prompt prefix was not saved: %s", exc)
        return "filled"

    def prefill(self, messages: list[dict[str, str]], keep_going=lambda: True, piece_chars: int = 64) -> bool:
        """Put `messages` (the prompt of a question still being typed) in the KV cache, so that the prompt sent
        on Enter, which starts the same, prefills only where it differs. The last message is filled in pieces
        of about `piece_chars` characters, cut at line and sentence ends; before each piece `keep_going()` may
        say the work is no longer wanted (a newer keystroke, a question waiting), and at most one piece (≈ 1 s)
        is then still being filled. Returns whether all of it was filled."""
        *head, last = messages
        text = last["content"]
        cuts, start = [], 0
        for i, ch in enumerate(text):
            if ch in "\n。" and i + 1 - start >= piece_chars:
                cuts.append(i + 1)
                start = i + 1
        for cut in cuts + [len(text)]:
            if not keep_going():
                return False
            for _ in self.stream(head + [{"role": last["role"], "content": text[:cut]}], 1):
                pass
        self.prefills += 1
        self.last_prefilled = messages
        return True

    def next_token_probs(self, messages: list[dict[str, str]], top: int = 10) -> dict[str, float]:
        """The `top` likeliest first tokens of the reply to `messages`, with their probabilities (llama.cpp's
        log-probabilities); for the confirm step's yes or no."""
        import math

        server = self._load()
        request = {"messages": messages, "max_tokens": 1, "temperature": 0.0, "logprobs": True,
                   "top_logprobs": top, "stream": False, "cache_prompt": True}
        # through the same turns as every generation: one call in the model at a time, each wait bounded
        replies = list(self._turns.run(lambda emit, stop: emit(server.handle_chat_completions(request))))
        reply = replies[0] if replies else None
        if not isinstance(reply, dict) or "error" in reply:
            raise ModelError(f"generation failed: {reply.get('error') if isinstance(reply, dict) else reply}")
        # last_timings stays the last answer's (its decode speed and prompt are what `rag bench` reports)
        try:
            tops = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        except (KeyError, IndexError, TypeError):
            raise ModelError("llama.cpp gave no token probabilities") from None
        return {t["token"]: math.exp(t["logprob"]) for t in tops}

    def _state_name(self, messages: list[dict[str, str]]) -> str:
        model = Path(self.path)
        key = json.dumps([model.name, model.stat().st_size, self.context_tokens, messages], ensure_ascii=False)
        return f"prefix-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}.bin"

    def cancel(self) -> None:
        """Stop the answer being generated now (the page's stop button)."""
        self._turns.cancel()

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Iterator[str]:
        server = self._load()
        # each token's log-probability comes along (`last_logprobs`: how sure the model was of what it said)
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
                   "stream": True, "cache_prompt": True, "logprobs": True, "top_logprobs": 1}

        def generate(emit, stop: threading.Event) -> None:
            # Returning True from the chunk callback tells the server core to stop generating.
            server.handle_chat_completions(request, lambda item: emit(item) or stop.is_set())

        self.last_timings, self.last_logprobs = {}, []
        for item in self._turns.run(generate):
            # The core hands one chunk, or several as a list (the server's stream of one step: a role delta and
            # the first content delta, say); every chunk's text is the answer's.
            for chunk in item if isinstance(item, list) else [item]:
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk:
                    raise ModelError(f"generation failed: {chunk['error']}")
                if isinstance(chunk.get("timings"), dict):
                    self.last_timings = chunk["timings"]  # prompt_n, cache_n, predicted_per_second, … (for rag bench)
                for choice in chunk.get("choices") or []:
                    self.last_logprobs += [(t.get("token", ""), float(t["logprob"]))
                                           for t in (choice.get("logprobs") or {}).get("content") or []
                                           if isinstance(t, dict) and "logprob" in t]
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)
