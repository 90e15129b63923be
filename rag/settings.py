"""Configuration: defaults, overridden by a TOML settings file, overridden by RAG_* environment variables."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from rag.errors import ConfigError
from rag.store import parse_store


def default_cache_dir() -> Path:
    """Where provisioned models live: $RAG_CACHE_DIR, else the user's cache dir."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rag-news", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Every knob of the pipeline. Model fields take a catalogue name (see `rag models --list`)
    or a path to a local model folder / GGUF file."""

    seeds_dir: str = "seeds"
    index_dir: str = "embeddings"
    cache_dir: str = ""
    embedder: str = "embeddinggemma-300m"
    embed_dim: int = 768
    embed_batch: int = 8
    embed_dtype: str = "auto"  # auto (bf16 where the CPU has bf16 instructions, or on a GPU) | float32 | bfloat16
    llm: str = "qwen2.5-coder-1.5b-q4km"
    backend: str = "llamacpp"  # llamacpp | transformers | extractive
    llm_url: str = ""  # an OpenAI-compatible server (http://host:8000/v1): answers come from it, not from `llm`
    llm_model: str = ""  # the model name the server knows; empty: the first one it lists
    llm_api_key: str = ""  # best given as RAG_LLM_API_KEY rather than in a file
    llm_timeout: float = 120.0  # seconds to wait for the server's next piece of answer
    embed_url: str = ""  # an OpenAI-compatible /v1/embeddings server: embeddings come from it, not from `embedder`
    embed_model: str = ""
    embed_api_key: str = ""
    store: str = "local"  # local (FAISS + BM25 files) | milvus:<path> (Milvus Lite) | milvus:http://host:19530
    milvus_token: str = ""  # "user:password" or an API key for a Milvus server that asks for one
    verbose: bool = False  # llama.cpp's own log on stderr
    threads: int = 0  # 0: one per physical core
    context_tokens: int = 4096
    max_new_tokens: int = 160
    # llama.cpp's draft-free speculative decoding: off | ngram_simple | ngram_map_k (drafts up to draft_max
    # tokens where the last draft_match tokens were seen before in the prompt or answer; see README)
    draft: str = "off"
    draft_match: int = 4
    draft_max: int = 8
    follow_up_parts: int = 2  # parts of a question the answer left out that are asked again (0: never)
    # The answer steps that are on (see rag/answer/steps.py, STEPS); `rag eval --suite … --without STEP` measures
    # the suite with one switched off.
    steps: str = "second_look,kind_check,scope_check,clauses,reader_cite,meaning,confirm"
    # the confirm step refuses an answer the model doubts more than this (rag/answer/confirm.py)
    confirm_threshold: float = 0.25
    # the certainty step refuses an answer whose least sure words are below this log-probability (rag/answer/
    # certainty.py); chosen on held-out training answers by `rag bench confirm`
    certainty_threshold: float = -0.879
    # the passages in the prompt, in all, within this many tokens (rag/answer/budget.py); 0: passage_chars
    prompt_tokens: int = 300
    passage_chars: int = 120  # each passage in the prompt is cut to about this many characters around its best sentence; 0: whole
    top_k: int = 4
    extra_passages: int = 2  # passages beyond top_k that may take the places freed by joining neighbours
    candidates: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: int = 60
    rewrite: str = "rules"  # follow-up questions: rules | llm | off
    rerank: str = "coverage"  # coverage (query-term coverage of the fused candidates) | off
    rerank_weight: float = 2.0
    ann_threshold: int = 200_000  # above this many chunks the dense index is HNSW instead of flat
    chunk_chars: int = 220
    chunk_overlap_sentences: int = 1
    host: str = "127.0.0.1"  # another address needs a login (see rag/auth.py)
    port: int = 7860
    data_dir: str = "data"  # logs, the users file, Gradio's upload scratch space
    auth_file: str = ""  # default: <data_dir>/users.txt
    max_waiting: int = 64  # questions waiting in the queue before newcomers are told the page is busy

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir()

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: object, kind: type) -> object:
    try:
        if kind is bool:
            return str(raw).lower() in {"1", "true", "yes", "on"}
        return kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"setting '{name}' must be a {kind.__name__}, got {raw!r}") from None


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Build Settings from an optional TOML file (default: $RAG_SETTINGS or ./rag.toml) and RAG_* variables.

    Example: RAG_TOP_K=6 RAG_BACKEND=extractive rag ask "…"
    """
    env = dict(os.environ if env is None else env)
    types = {f.name: type(f.default) for f in fields(Settings)}
    values: dict[str, object] = {}
    file = Path(path or env.get("RAG_SETTINGS") or "rag.toml")
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"settings file {file} is not valid TOML: {exc}") from None
        for key, raw in data.items():
            if key not in types:
                raise ConfigError(f"unknown setting '{key}' in {file}; valid: {', '.join(sorted(types))}")
            values[key] = _coerce(key, raw, types[key])
    elif path:
        raise ConfigError(f"settings file {file} does not exist")
    for name, kind in types.items():
        raw = env.get(f"RAG_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw, kind)
    settings = Settings(**values)
    for name, allowed in (("rewrite", {"rules", "llm", "off"}), ("rerank", {"off", "coverage"}),
                          ("embed_dtype", {"auto", "float32", "bfloat16"}),
                          ("draft", {"off", "ngram_simple", "ngram_map_k"})):
        if getattr(settings, name) not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(sorted(allowed))}; got {getattr(settings, name)!r}")
    if not 0.0 <= settings.confirm_threshold <= 1.0:
        raise ConfigError(f"confirm_threshold must be between 0 and 1; got {settings.confirm_threshold}")
    if not settings.certainty_threshold <= 0.0:
        raise ConfigError(f"certainty_threshold is a log-probability, 0 or below; got {settings.certainty_threshold}")
    parse_store(settings.store)
    if settings.backend not in {"llamacpp", "transformers", "extractive"}:
        raise ConfigError(f"backend must be one of llamacpp, transformers, extractive; got {settings.backend!r}")
    return settings
