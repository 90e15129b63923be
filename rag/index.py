"""Index stage: articles -> chunks -> vectors in a store (`rag.store`), saved with a self-describing manifest.

Layout of the index folder (default `embeddings/`):
    CURRENT            name of the live version folder, replaced atomically
    v-<stamp>/         manifest.json, articles.jsonl, chunks.jsonl, and with the local store
                       vectors.npy, dense.faiss, bm25/ (with Milvus those live in its collection)

A build writes a new version folder, then swaps CURRENT; a crash mid-build leaves the old version live.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.chunk import chunk_article
from rag.embed import Embedder
from rag.errors import IndexBuildError, IndexMismatchError, IndexMissingError, RagError
from rag.ingest import FileResult, file_sha256, list_sources, read_file
from rag.store import Store, open_store, open_writer, same_store
from rag.tokens import tokenize  # noqa: F401  (kept importable from here)
from rag.types import Article, Chunk

FORMAT_VERSION = 1
STALE_BUILD_SECONDS = 6 * 3600  # a .building- folder untouched this long is left over from a killed build
Progress = Callable[[str, int, int], None]

@dataclass
class BuildReport:
    files: int = 0
    reused_files: int = 0
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    articles: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    path: str = ""

    def summary(self, lang: str = "en") -> str:
        if lang == "zh":
            lines = [f"已收录 {self.files} 个文件（{self.reused_files} 个未变，{len(self.skipped)} 个未能读取），"
                     f"{self.articles} 篇文章，{self.chunks} 个段落；新嵌入 {self.embedded} 个段落；共用 {self.seconds:.1f} 秒"]
            return "\n".join(lines + [f"未能读取 {name}：{why}" for name, why in self.skipped])
        lines = [f"indexed {self.files} file(s) ({self.reused_files} unchanged, {len(self.skipped)} skipped), "
                 f"{self.articles} articles, {self.chunks} chunks; embedded {self.embedded} new chunk(s); "
                 f"{self.seconds:.1f} s in all"]
        lines += [f"skipped {name}: {why}" for name, why in self.skipped]
        return "\n".join(lines)


@dataclass
class Index:
    """A loaded index: everything retrieval needs, in memory."""

    path: Path
    manifest: dict
    articles: dict[str, Article]
    chunks: list[Chunk]
    store: Store  # the dense and keyword search over `chunks`


def _chunk_settings(max_chars: int, overlap: int) -> dict:
    return {"max_chars": max_chars, "overlap_sentences": overlap, "boundaries": "。！？；… and paragraphs"}


def _live_version(root: Path) -> Path | None:
    current = root / "CURRENT"
    if not current.is_file():
        return None
    path = root / current.read_text(encoding="utf-8").strip()
    return path if path.is_dir() else None


def load_index(root: str | Path, embedder_name: str | None = None, dim: int | None = None,
               store: str | None = None, store_token: str = "") -> Index:
    """Load the live index; refuse one built with another embedding model, format or store (`store`, a
    `store` setting, is checked when given), with a fix to run."""
    root = Path(root)
    path = _live_version(root)
    if path is None:
        raise IndexMissingError(f"no index in {root}/ yet: run  rag index")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        rebuild = "run  rag index --rebuild"
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexMismatchError(f"the index in {root}/ has format {manifest.get('format_version')}, "
                                     f"this program reads format {FORMAT_VERSION}: {rebuild}")
        emb = manifest["embedder"]
        if embedder_name and (emb["name"] != embedder_name or (dim and emb["dim"] != dim)):
            raise IndexMismatchError(f"the index in {root}/ was built with embedder {emb['name']} "
                                     f"(dim {emb['dim']}), but {embedder_name} is configured: {rebuild}")
        if store is not None and not same_store(manifest, store):
            raise IndexMismatchError(f"the index in {root}/ lives in store {manifest.get('store', 'local')}, "
                                     f"but store {store!r} is configured: {rebuild}")
        articles = {a["id"]: _article(a) for a in _read_jsonl(path / "articles.jsonl")}
        chunks = [Chunk(**c) for c in _read_jsonl(path / "chunks.jsonl")]
        backend = open_store(path, manifest, chunks, store_token)
    except RagError:  # a mismatch, or a store that cannot be reached now: rebuilding would not help that
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexMismatchError(f"the index in {root}/ is damaged ({exc.__class__.__name__}: {exc}); "
                                 "run  rag index --rebuild") from None
    return Index(path, manifest, articles, chunks, backend)


def _article(d: dict) -> Article:
    d = dict(d, authors=tuple(d.get("authors", ())), span=tuple(d.get("span", (0, 0))))
    return Article(**d)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _previous(root: Path, embedder: Embedder, chunking: dict) -> Index | None:
    """The live index if it can donate its parsed files and vectors to this build (same model, dim and chunking)."""
    try:
        old = load_index(root, embedder.name)
    except (IndexMissingError, IndexMismatchError):
        return None
    dim = old.manifest["embedder"]["dim"]
    return old if old.manifest["chunking"] == chunking and dim == (embedder.dim or dim) else None


def build_index(seeds: str | Path, root: str | Path, embedder: Embedder, max_chars: int = 220,
                overlap: int = 1, rebuild: bool = False, progress: Progress | None = None,
                ann_threshold: int = 200_000, store: str = "local", store_token: str = "") -> BuildReport:
    """Index every readable file in `seeds` into `root`, re-embedding only new or changed files.

    `store` is the `store` setting: "local" (FAISS + BM25 files in the version folder) or "milvus:<uri>".
    """
    started = time.perf_counter()
    seeds, root = Path(seeds), Path(root)
    report_progress = progress or (lambda *_: None)
    chunking = _chunk_settings(max_chars, overlap)
    old = None if rebuild else _previous(root, embedder, chunking)
    old_files = old.manifest["files"] if old else {}
    writer = open_writer(store, root, embedder.name, ann_threshold, rebuild, store_token, embedder.dim)
    report = BuildReport()
    sources = list_sources(seeds)
    results: list[FileResult] = []
    for n, path in enumerate(sources):
        found = sum(len(r.articles) for r in results)
        report_progress(f"reading files · {found} articles · {path.name}", n, len(sources))
        name = str(path.relative_to(seeds))
        prev = old_files.get(name)
        if prev and not prev.get("error") and prev["sha256"] == file_sha256(path):
            arts = [a for a in old.articles.values() if a.source == name]
            results.append(FileResult(name, prev["sha256"], arts))
            report.reused_files += 1
        else:
            results.append(read_file(path, name))
    articles = [a for r in results for a in r.articles]
    report_progress(f"reading files · {len(articles)} articles", len(sources), len(sources))
    chunks = [c for a in articles for c in chunk_article(a, max_chars, overlap)]
    held = writer.reusable(chunks, old)
    todo = list({c.id: c for c in chunks if c.id not in held}.values())
    counts = f"{len(results)} files, {len(articles)} articles, {len(chunks)} chunks ({len(chunks) - len(todo)} reused)"
    dim = _embed(embedder, todo, report_progress, counts, writer.add) if todo else 0
    dim = dim or (old.manifest["embedder"]["dim"] if old else embedder.dim)
    if not dim and chunks:  # every chunk was already in the store (a resumed build): ask the model its size
        dim = int(embedder.embed_query("dimension").shape[0])
    report.files = len(results)
    report.skipped = [(r.name, r.error) for r in results if r.error]
    report.articles, report.chunks, report.embedded = len(articles), len(chunks), len(todo)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "embedder": {"name": embedder.name, "dim": int(dim), "normalized": True},
        "chunking": chunking,
        "counts": {"files": len(results), "articles": len(articles), "chunks": len(chunks)},
        "files": {r.name: {"sha256": r.sha256, "articles": len(r.articles), "error": r.error} for r in results},
    }
    version = root / f"v-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = root / f".building-{version.name}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        _write_jsonl(staging / "articles.jsonl", [dataclasses.asdict(a) for a in articles])
        _write_jsonl(staging / "chunks.jsonl", [dataclasses.asdict(c) for c in chunks])
        report_progress("building search index", 0, 1)
        manifest.update(writer.finish(staging, chunks, int(dim)))
        report_progress("building search index", 1, 1)
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        staging.rename(version)
        _swap_current(root, version)
        writer.prune(chunks)
    except RagError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except (OSError, RuntimeError) as exc:  # a full disk, a read-only folder (faiss raises RuntimeError)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(version, ignore_errors=True)
        why = "磁盘空间不足" if getattr(exc, "errno", None) == errno.ENOSPC or "No space" in str(exc) else "无法写入"
        raise IndexBuildError(f"索引没有写成（{why}：{getattr(exc, 'strerror', None) or exc}），原来的索引仍在使用。"
                              f"(Could not write the new index to {root}/; the previous one is still live.)") from None
    report.seconds = time.perf_counter() - started
    report.path = str(version)
    return report


def _embed(embedder: Embedder, chunks: list[Chunk], progress: Progress, counts: str,
           sink: Callable[[list[Chunk], np.ndarray], None]) -> int:
    """Embed `chunks` in batches, handing each batch to `sink` as it is done; returns the dimension."""
    # Sorting by length keeps each batch's padding small.
    order = sorted(chunks, key=lambda c: len(c.text))
    dim = 0
    step = 16
    for s in range(0, len(order), step):
        progress(f"embedding chunks · {counts}", s, len(order))
        batch = order[s:s + step]
        vecs = embedder.embed_documents([c.embedding_text() for c in batch])
        sink(batch, vecs)
        dim = int(vecs.shape[1])
    progress(f"embedding chunks · {counts}", len(order), len(order))
    return dim


def _swap_current(root: Path, version: Path) -> None:
    tmp = root / "CURRENT.tmp"
    tmp.write_text(version.name, encoding="utf-8")
    os.replace(tmp, root / "CURRENT")
    for stale in root.iterdir():
        if not stale.is_dir() or stale == version:
            continue
        # Another process may be writing its own .building- folder right now: only old ones are debris.
        # Nothing here may raise: CURRENT already names the new version.
        try:
            old_build = time.time() - stale.stat().st_mtime > STALE_BUILD_SECONDS
        except OSError:
            continue
        if stale.name.startswith("v-") or (stale.name.startswith(".building-") and old_build):
            shutil.rmtree(stale, ignore_errors=True)


def index_is_stale(seeds: str | Path, root: str | Path) -> bool:
    """True when sources were added, changed or removed since the live index was built."""
    path = _live_version(Path(root))
    if path is None:
        return True
    try:
        files = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return True
    seeds = Path(seeds)
    now = {str(p.relative_to(seeds)): p for p in list_sources(seeds)}
    return set(now) != set(files) or any(file_sha256(p) != files[n]["sha256"] for n, p in now.items())
