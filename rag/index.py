"""Index stage: chunks + vectors -> FAISS (dense) and BM25 (lexical), saved with a self-describing manifest.

Layout of the index folder (default `embeddings/`):
    CURRENT            name of the live version folder, replaced atomically
    v-<stamp>/         manifest.json, articles.jsonl, chunks.jsonl, vectors.npy, dense.faiss, bm25/

A build writes a new version folder, then swaps CURRENT; a crash mid-build leaves the old version live.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.chunk import chunk_article
from rag.embed import Embedder
from rag.errors import IndexBuildError, IndexMismatchError, IndexMissingError
from rag.ingest import FileResult, file_sha256, list_sources, read_file
from rag.types import Article, Chunk

FORMAT_VERSION = 1
STALE_BUILD_SECONDS = 6 * 3600  # a .building- folder untouched this long is left over from a killed build
Progress = Callable[[str, int, int], None]

_TOKEN = re.compile(r"[\w\u4e00-\u9fff%.]+")


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens, lower-cased, punctuation dropped: "3亿元" -> ["3", "亿元"]."""
    import jieba

    jieba.setLogLevel(60)
    return [t.lower() for t in jieba.cut_for_search(text) if _TOKEN.fullmatch(t)]


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

    def summary(self) -> str:
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
    vectors: np.ndarray
    dense: object  # faiss.Index
    bm25: object  # bm25s.BM25


def _chunk_settings(max_chars: int, overlap: int) -> dict:
    return {"max_chars": max_chars, "overlap_sentences": overlap, "boundaries": "。！？；… and paragraphs"}


def _live_version(root: Path) -> Path | None:
    current = root / "CURRENT"
    if not current.is_file():
        return None
    path = root / current.read_text(encoding="utf-8").strip()
    return path if path.is_dir() else None


def load_index(root: str | Path, embedder_name: str | None = None, dim: int | None = None) -> Index:
    """Load the live index; refuse one built with another embedding model or format, with a fix to run."""
    import bm25s
    import faiss

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
        articles = {a["id"]: _article(a) for a in _read_jsonl(path / "articles.jsonl")}
        chunks = [Chunk(**c) for c in _read_jsonl(path / "chunks.jsonl")]
        vectors = np.load(path / "vectors.npy")
        dense = faiss.read_index(str(path / "dense.faiss"))
        if isinstance(manifest.get("dense_index"), dict) and "efSearch" in manifest["dense_index"]:
            dense.hnsw.efSearch = int(manifest["dense_index"]["efSearch"])
        bm25 = bm25s.BM25.load(str(path / "bm25"), load_corpus=False) if chunks else None
    except IndexMismatchError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexMismatchError(f"the index in {root}/ is damaged ({exc.__class__.__name__}: {exc}); "
                                 "run  rag index --rebuild") from None
    if len(chunks) != vectors.shape[0] or dense.ntotal != len(chunks):
        raise IndexMismatchError(f"the index in {root}/ is inconsistent; run  rag index --rebuild")
    return Index(path, manifest, articles, chunks, vectors, dense, bm25)


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
    """The live index if it can donate vectors to this build (same model, dim and chunking)."""
    try:
        old = load_index(root, embedder.name)
    except (IndexMissingError, IndexMismatchError):
        return None
    same = old.manifest["chunking"] == chunking and old.manifest["embedder"]["dim"] == (embedder.dim or old.vectors.shape[1])
    return old if same else None


def recall_against(exact_ids: np.ndarray, approx_ids: np.ndarray) -> float:
    """Mean share of each row of exact top-k ids that the approximate search also returned."""
    k = exact_ids.shape[1]
    return float(np.mean([len(set(w) & set(g)) / k for w, g in zip(exact_ids, approx_ids)]))


def dense_index(vectors: np.ndarray, ann_threshold: int = 200_000, m: int = 32, ef_search: int = 96,
                sample: int = 500) -> tuple[object, dict]:
    """A FAISS inner-product index over `vectors`: exact (flat) up to `ann_threshold` vectors, HNSW above.

    For HNSW the recall@10 against exact search is measured on a sample of the vectors themselves and
    returned with the settings, for the manifest.
    """
    import faiss

    n, dim = vectors.shape
    if n <= ann_threshold:
        flat = faiss.IndexFlatIP(dim)
        if n:
            flat.add(vectors)
        return flat, {"type": "faiss.IndexFlatIP"}
    ann = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    ann.hnsw.efConstruction = 80
    ann.add(vectors)
    ann.hnsw.efSearch = ef_search
    rng = np.random.default_rng(0)
    queries = vectors[rng.choice(n, size=min(sample, n), replace=False)]
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    _, want = exact.search(queries, 10)
    _, got = ann.search(queries, 10)
    recall = recall_against(want, got)
    return ann, {"type": "faiss.IndexHNSWFlat", "M": m, "efConstruction": 80, "efSearch": ef_search,
                 "recall_at_10_vs_flat": round(recall, 4), "checked_queries": len(queries)}


def build_index(seeds: str | Path, root: str | Path, embedder: Embedder, max_chars: int = 220,
                overlap: int = 1, rebuild: bool = False, progress: Progress | None = None,
                ann_threshold: int = 200_000) -> BuildReport:
    """Index every readable file in `seeds` into `root`, re-embedding only new or changed files."""
    import bm25s
    import faiss

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    started = time.perf_counter()
    seeds, root = Path(seeds), Path(root)
    report_progress = progress or (lambda *_: None)
    chunking = _chunk_settings(max_chars, overlap)
    old = None if rebuild else _previous(root, embedder, chunking)
    old_files = old.manifest["files"] if old else {}
    old_vecs = {c.id: old.vectors[i] for i, c in enumerate(old.chunks)} if old else {}
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
    todo = [i for i, c in enumerate(chunks) if c.id not in old_vecs]
    counts = f"{len(results)} files, {len(articles)} articles, {len(chunks)} chunks ({len(chunks) - len(todo)} reused)"
    fresh = _embed(embedder, [chunks[i] for i in todo], report_progress, counts) if todo else None
    dim = fresh.shape[1] if fresh is not None else (old.vectors.shape[1] if old else embedder.dim)
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    for i, c in enumerate(chunks):
        if c.id in old_vecs:
            vectors[i] = old_vecs[c.id]
    if fresh is not None:
        vectors[todo] = fresh
    report_progress("building search index", 0, 1)
    dense, dense_info = dense_index(vectors, ann_threshold)
    report_progress("building search index", 1, 1)
    report.files = len(results)
    report.skipped = [(r.name, r.error) for r in results if r.error]
    report.articles, report.chunks, report.embedded = len(articles), len(chunks), len(todo)
    manifest = {
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "embedder": {"name": embedder.name, "dim": int(dim), "normalized": True},
        "chunking": chunking,
        "dense_index": dense_info,
        "lexical": "bm25s over jieba cut_for_search tokens",
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
        np.save(staging / "vectors.npy", vectors)
        if len(chunks):
            bm25 = bm25s.BM25()
            bm25.index([tokenize(c.embedding_text()) for c in chunks], show_progress=False)
            bm25.save(str(staging / "bm25"))
        faiss.write_index(dense, str(staging / "dense.faiss"))
        (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        staging.rename(version)
        _swap_current(root, version)
    except (OSError, RuntimeError) as exc:  # a full disk, a read-only folder (faiss raises RuntimeError)
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(version, ignore_errors=True)
        why = "磁盘空间不足" if getattr(exc, "errno", None) == errno.ENOSPC or "No space" in str(exc) else "无法写入"
        raise IndexBuildError(f"索引没有写成（{why}：{getattr(exc, 'strerror', None) or exc}），原来的索引仍在使用。"
                              f"(Could not write the new index to {root}/; the previous one is still live.)") from None
    report.seconds = time.perf_counter() - started
    report.path = str(version)
    return report


def _embed(embedder: Embedder, chunks: list[Chunk], progress: Progress, counts: str = "") -> np.ndarray:
    # Sorting by length keeps each batch's padding small; results go back in the original order.
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].text))
    out: np.ndarray | None = None
    step = 16
    for s in range(0, len(order), step):
        progress(f"embedding chunks · {counts}", s, len(order))
        ids = order[s:s + step]
        vecs = embedder.embed_documents([chunks[i].embedding_text() for i in ids])
        if out is None:
            out = np.zeros((len(chunks), vecs.shape[1]), dtype=np.float32)
        out[ids] = vecs
    progress(f"embedding chunks · {counts}", len(order), len(order))
    return out


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
