"""Store stage: where the chunk vectors and the keyword index live, and the search over them.

Two backends behind one protocol: `local` (FAISS + BM25 files in the index folder, the default) and
`milvus` (one Milvus collection, Milvus Lite for a local path or a Milvus server for a URI). A store only
returns candidates, as positions in the index's chunk list, with their scores; fusion, re-ranking and
everything after stay in `rag.retrieve`, so the ranking does not depend on the backend.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from rag.errors import ConfigError
from rag.types import Chunk


class Store(Protocol):
    kind: str

    def dense_search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]: ...

    def lexical_search(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]: ...


class StoreWriter(Protocol):
    """What an index build asks of a store: which chunks it already holds, each embedded batch, the
    finishing writes (their description goes into the manifest) and, once the new version is live,
    removing what that version no longer has."""

    def reusable(self, chunks: list[Chunk], old: object | None) -> set[str]: ...

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None: ...

    def finish(self, staging: Path, chunks: list[Chunk], dim: int) -> dict: ...

    def prune(self, chunks: list[Chunk]) -> None: ...


def parse_store(spec: str) -> tuple[str, str]:
    """("local", "") or ("milvus", uri) from a `store` setting: "local", "milvus:./data/milvus.db",
    "milvus:http://host:19530"."""
    kind, _, uri = (spec or "local").partition(":")
    if kind == "local" and not uri:
        return "local", ""
    if kind == "milvus" and uri.strip():
        return "milvus", uri.strip()
    raise ConfigError(f"store must be 'local' or 'milvus:<path or http://host:19530>'; got {spec!r}")


def open_writer(spec: str, root: Path, embedder_name: str, ann_threshold: int, rebuild: bool,
                token: str = "", dim: int = 0) -> StoreWriter:
    """The writer for a build into `root`; `dim` is the embedder's dimension where known (0: not yet)."""
    kind, uri = parse_store(spec)
    if kind == "milvus":
        from rag.store.milvus import MilvusWriter, collection_name

        return MilvusWriter(uri, collection_name(embedder_name, root), token, rebuild, dim)
    from rag.store.local import LocalWriter

    return LocalWriter(ann_threshold)


def open_store(path: Path, manifest: dict, chunks: list[Chunk], token: str = "") -> Store:
    """The store a saved index names in its manifest (an index from before stores were named is local)."""
    if manifest.get("store", {}).get("kind", "local") == "milvus":
        from rag.store.milvus import MilvusStore

        return MilvusStore.load(manifest, chunks, token)
    from rag.store.local import LocalStore

    return LocalStore.load(path, manifest, chunks)


def same_store(manifest: dict, spec: str) -> bool:
    """Whether a saved index lives in the store the settings name."""
    kind, uri = parse_store(spec)
    saved = manifest.get("store", {"kind": "local"})
    return saved.get("kind") == kind and (kind == "local" or saved.get("uri") == uri)
