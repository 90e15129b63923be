"""Generate stage: chat messages -> streamed answer text, behind a one-role protocol (`Generator`).

Backends: llama.cpp in process (the default), transformers, and any OpenAI-compatible server.
"""
from __future__ import annotations

from rag.generate.base import Generator, default_threads
from rag.generate.llamacpp import LlamaCppGenerator
from rag.generate.openai import OpenAICompatibleGenerator
from rag.generate.transformers import TransformersGenerator

__all__ = ["Generator", "LlamaCppGenerator", "OpenAICompatibleGenerator", "TransformersGenerator", "default_threads"]
