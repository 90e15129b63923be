"""Any OpenAI-compatible /v1/chat/completions server (vLLM, llama.cpp's llama-server, SGLang, Ollama …)."""
from __future__ import annotations

import threading
from collections.abc import Iterator

from rag.errors import MissingPackageError, ModelError


def openai_client(base_url: str, api_key: str, timeout: float):
    """An `openai.OpenAI` client for `base_url` that fails fast: no retries, a 5 s connect limit.

    The timeout is built with `openai.Timeout`, the class of whichever HTTP transport the installed client
    uses (httpx once, httpx2 since openai 3.5x): a `httpx.Timeout` handed to an httpx2 client breaks it.
    """
    try:
        import openai
    except ImportError:
        raise MissingPackageError("openai", "a model server (llm_url / embed_url)") from None
    # Local servers often take no key, but the client insists on one: any placeholder will do there.
    return openai.OpenAI(base_url=base_url, api_key=api_key or "no-key", max_retries=0,
                         timeout=openai.Timeout(timeout, connect=min(5.0, timeout)))


def server_error(exc: Exception, url: str, what: str, model: str, served: list[str] | None = None) -> ModelError:
    """One plain sentence for what went wrong talking to the server at `url`."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return ModelError(f"the model server at {url} did not answer in time ({what}); is it overloaded?")
    if isinstance(exc, openai.APIConnectionError):
        return ModelError(f"the model server at {url} cannot be reached ({what}): is it running, and is the "
                          "address right (llm_url / embed_url)?")
    if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return ModelError(f"the model server at {url} refused the API key ({what}): set RAG_LLM_API_KEY "
                          "(or RAG_EMBED_API_KEY) to a key it accepts")
    if isinstance(exc, openai.NotFoundError):
        known = f"; it serves: {', '.join(served)}" if served else ""
        return ModelError(f"the model server at {url} has no model {model!r} ({what}){known}")
    if isinstance(exc, openai.APIStatusError):
        return ModelError(f"the model server at {url} answered {exc.status_code} ({what}): {exc.message}")
    return ModelError(f"the model server at {url} failed ({what}): {exc}")


class OpenAICompatibleGenerator:
    """Streams answers from an OpenAI-compatible chat completions endpoint at temperature 0.

    `model` may be left empty when the server serves one model (llama-server does): the first one its
    /v1/models lists is used. The stop button closes the HTTP stream, which ends the generation on the
    server too.
    """

    def __init__(self, base_url: str, model: str = "", api_key: str = "", timeout: float = 120.0) -> None:
        self.base_url, self.model, self.api_key, self.timeout = base_url.rstrip("/"), model, api_key, timeout
        self.name = f"openai:{model or 'server default'}@{self.base_url}"
        self._client = None
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self.last_timings: dict = {}

    def _connect(self):
        with self._lock:
            if self._client is None:
                self._client = openai_client(self.base_url, self.api_key, self.timeout)
            if not self.model:
                served = self._served(raise_errors=True)
                if not served:
                    raise ModelError(f"the model server at {self.base_url} lists no model; set llm_model")
                self.model = served[0]
                self.name = f"openai:{self.model}@{self.base_url}"
            return self._client

    def _served(self, raise_errors: bool = False) -> list[str]:
        try:
            return [m.id for m in self._client.models.list()]
        except Exception as exc:
            if raise_errors:
                raise server_error(exc, self.base_url, "listing its models", self.model) from None
            return []

    def warm_up(self) -> None:
        """Check that the server answers and serves the model, so a wrong address shows at start."""
        self._connect()
        served = self._served(raise_errors=True)
        if served and self.model not in served:
            raise ModelError(f"the model server at {self.base_url} has no model {self.model!r}; "
                             f"it serves: {', '.join(served)}")

    def cancel(self) -> None:
        """Stop the answer being generated now (the page's stop button)."""
        if self._stop is not None:
            self._stop.set()

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Iterator[str]:
        client = self._connect()
        stop = self._stop = threading.Event()
        self.last_timings = {}
        try:
            response = client.chat.completions.create(model=self.model, messages=messages, max_tokens=max_tokens,
                                                      temperature=0.0, stream=True)
        except Exception as exc:
            served = self._served() if _is_not_found(exc) else None
            raise server_error(exc, self.base_url, "chat completion", self.model, served) from None
        try:
            for chunk in response:
                if stop.is_set():
                    return
                timings = getattr(chunk, "timings", None)  # llama-server adds its own timings
                if isinstance(timings, dict):
                    self.last_timings = timings
                for choice in chunk.choices or ():
                    text = choice.delta.content if choice.delta else None
                    if text:
                        yield text
        except Exception as exc:
            raise server_error(exc, self.base_url, "while streaming the answer", self.model) from None
        finally:
            response.close()  # the server sees the connection close and stops generating

    def next_token_probs(self, messages: list[dict[str, str]], top: int = 10) -> dict[str, float]:
        """The `top` likeliest first tokens of the reply, with their probabilities (the server's logprobs;
        llama-server and vLLM give them)."""
        import math

        client = self._connect()
        try:
            reply = client.chat.completions.create(model=self.model, messages=messages, max_tokens=1,
                                                   temperature=0.0, logprobs=True, top_logprobs=top)
            tops = reply.choices[0].logprobs.content[0].top_logprobs
        except (AttributeError, IndexError, TypeError):
            raise ModelError(f"the model server at {self.base_url} gave no token probabilities") from None
        except Exception as exc:
            raise server_error(exc, self.base_url, "token probabilities", self.model) from None
        return {t.token: math.exp(t.logprob) for t in tops}


def _is_not_found(exc: Exception) -> bool:
    import openai

    return isinstance(exc, openai.NotFoundError)
