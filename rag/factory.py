"""The one place that names concrete models: settings -> the embedder and the generator to use."""
from __future__ import annotations

from pathlib import Path

from rag.embed import Embedder, OpenAICompatibleEmbedder, SentenceTransformerEmbedder, Similarity
from rag.generate import Generator, LlamaCppGenerator, OpenAICompatibleGenerator, TransformersGenerator
from rag.models import resolve
from rag.settings import Settings


def embedder_for(settings: Settings, progress=None) -> Embedder:
    """The embedding model the settings name: a server's (embed_url) or a provisioned local one."""
    if settings.embed_url:
        return OpenAICompatibleEmbedder(settings.embed_url, settings.embed_model, settings.embed_api_key,
                                        settings.llm_timeout)
    emb_path = resolve(settings.embedder, "embedder", settings.cache_path, progress)
    dim = settings.embed_dim if settings.embed_dim and settings.embed_dim < 768 else None
    return SentenceTransformerEmbedder(str(emb_path), settings.embedder, dim=dim, batch_size=settings.embed_batch,
                                       dtype=settings.embed_dtype)


def reader_for(settings: Settings, embedder: Embedder | None = None, path: Path | None = None):
    """The shipped reader (or the weights at `path`), with the embedder its weights were trained with when they
    read meaning too: the one given when it is that one, else that packaged model."""
    from rag.reader.model import WEIGHTS, Reader

    path = path or WEIGHTS
    name = Reader.embedder_of(path)
    if not name:
        return Reader.load(path)
    if embedder is None or getattr(embedder, "name", "") != name or settings.embed_url:
        embedder = embedder_for(settings.replace(embedder=name, embed_url="", embed_batch=32))
    return Reader.load(path, similarity=Similarity(embedder, size=2048))


def generator_for(settings: Settings, progress=None) -> Generator:
    """The language model the settings name: a server's (llm_url), or a provisioned GGUF run by llama.cpp or
    transformers. Raises ModelError when it cannot be provisioned."""
    if settings.llm_url:
        return OpenAICompatibleGenerator(settings.llm_url, settings.llm_model, settings.llm_api_key,
                                         settings.llm_timeout)
    gguf = resolve(settings.llm, "llm", settings.cache_path, progress)
    if settings.backend == "transformers":
        return TransformersGenerator(gguf, settings.cache_path, threads=settings.threads)
    return LlamaCppGenerator(gguf, threads=settings.threads, context_tokens=settings.context_tokens,
                             verbose=settings.verbose, state_dir=Path(settings.data_dir) / "prompt-cache",
                             draft=settings.draft, draft_match=settings.draft_match, draft_max=settings.draft_max)
