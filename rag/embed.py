"""Embed stage: texts -> L2-normalised float32 vectors, behind a one-role protocol."""
from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from rag.errors import MissingPackageError, ModelError


class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model folder. Loads on first use; uses the model's own query/document
    prompts where it has them (EmbeddingGemma does)."""

    def __init__(self, path: str, name: str, dim: int | None = None, batch_size: int = 8,
                 device: str | None = None) -> None:
        self.path, self.name, self.batch_size = path, name, batch_size
        self.truncate_dim = dim
        self.device = device
        self._model = None
        self.dim = dim or 0

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise MissingPackageError("sentence-transformers", "the embedding model") from None
            device = self.device or _best_device()
            try:
                self._model = SentenceTransformer(self.path, device=device, truncate_dim=self.truncate_dim)
            except (OSError, ValueError) as exc:
                raise ModelError(f"could not load the embedding model from {self.path}: {exc}") from None
            self.dim = self._model.get_sentence_embedding_dimension()
        return self._model

    def warm_up(self) -> None:
        self._load()

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        encode = getattr(model, "encode_document", model.encode)
        vecs = encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                      convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def embed_query(self, text: str) -> np.ndarray:
        model = self._load()
        encode = getattr(model, "encode_query", model.encode)
        vec = encode([text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vec, dtype=np.float32).reshape(-1)


def _best_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
