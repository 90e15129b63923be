"""The knowledge base as a user manages it: list the documents, add uploaded files, remove one.

Files live in the seeds folder; the index is rebuilt from it (incrementally). Removing a document moves
its file into `.removed/` inside the seeds folder (hidden folders are not indexed), so nothing a user
uploaded is lost by a wrong click.
"""
from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from rag.errors import InputError
from rag.index import Index
from rag.ingest.readers import MAX_FILE_BYTES, SUPPORTED

REMOVED = ".removed"


@dataclass(frozen=True)
class Document:
    name: str  # path inside the seeds folder
    titles: str  # the first article titles, for the table
    date: str
    articles: int
    chunks: int
    error: str = ""


def documents(index: Index | None) -> list[Document]:
    """One row per source file of the live index, skipped files included with their reason."""
    if index is None:
        return []
    chunks: dict[str, int] = {}
    for c in index.chunks:
        chunks[c.source] = chunks.get(c.source, 0) + 1
    by_file: dict[str, list] = {}
    for a in index.articles.values():
        by_file.setdefault(a.source, []).append(a)
    rows = []
    for name, info in sorted(index.manifest.get("files", {}).items()):
        arts = by_file.get(name, [])
        titles = "；".join(a.title for a in arts[:3]) + ("……" if len(arts) > 3 else "")
        dates = sorted({a.date for a in arts if a.date})
        rows.append(Document(name, titles, "、".join(dates[:3]), len(arts), chunks.get(name, 0), info.get("error", "")))
    return rows


_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
MAX_NAME_CHARS = 120


def _safe_name(name: str) -> str:
    """A plain file name for the seeds folder: no folders, no control or shell-special characters, no
    leading dot (hidden files are not indexed), at most MAX_NAME_CHARS characters with the suffix kept."""
    base = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip().lstrip(".").strip()
    suffix = Path(base).suffix
    if len(base) > MAX_NAME_CHARS:
        base = base[:MAX_NAME_CHARS - len(suffix)] + suffix
    if not Path(base).stem.strip("_ "):
        raise InputError(f"'{name}' 不是可用的文件名 (not a usable file name)")
    return base


# Why a file was refused, in the page's language.
REASONS = {
    "zh": {"type": "{name}：不支持的文件类型 {suffix}（支持 {types}）", "no_suffix": "（无扩展名）",
           "unreadable": "{name}：无法读取（{why}）", "too_big": "{name}：{mb:.0f} MB，超过 {limit} MB 的上限",
           "empty": "{name}：文件是空的", "unsaved": "{name}：无法保存（{why}）", "sep": "、"},
    "en": {"type": "{name}: files of type {suffix} are not taken (supported: {types})", "no_suffix": "(none)",
           "unreadable": "{name}: could not be read ({why})", "too_big": "{name}: {mb:.0f} MB, over the {limit} MB limit",
           "empty": "{name}: the file is empty", "unsaved": "{name}: could not be saved ({why})", "sep": ", "},
}


def add_files(paths: list[str | Path], seeds: str | Path, lang: str = "zh") -> tuple[list[str], list[str]]:
    """Copy uploaded files into the seeds folder. Returns (added names, one message per refused file, in
    `lang`).

    A file with an unsupported type or over the size limit is refused with its reason; a name already
    taken gets a numbered suffix instead of replacing the existing document.
    """
    say = REASONS.get(lang, REASONS["zh"])
    seeds = Path(seeds)
    seeds.mkdir(parents=True, exist_ok=True)
    added, refused = [], []
    for raw in paths:
        src = Path(raw)
        try:
            name = _safe_name(src.name)
        except InputError as exc:
            refused.append(str(exc))
            continue
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED:
            refused.append(say["type"].format(name=name, suffix=suffix or say["no_suffix"],
                                              types=say["sep"].join(sorted(SUPPORTED))))
            continue
        try:
            size = src.stat().st_size
        except OSError as exc:
            refused.append(say["unreadable"].format(name=name, why=exc.strerror or exc))
            continue
        if size > MAX_FILE_BYTES:
            refused.append(say["too_big"].format(name=name, mb=size / 1e6, limit=MAX_FILE_BYTES // 1_000_000))
            continue
        if size == 0:
            refused.append(say["empty"].format(name=name))
            continue
        dest = seeds / name
        n = 2
        while dest.exists():
            dest = seeds / f"{Path(name).stem}-{n}{suffix}"
            n += 1
        # Copied under a hidden name, then renamed: a crash or a full disk mid-copy never leaves a
        # half file where the indexer would read it.
        partial = seeds / f".incoming-{uuid.uuid4().hex}{suffix}"
        try:
            shutil.copyfile(src, partial)
            os.replace(partial, dest)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            refused.append(say["unsaved"].format(name=name, why=exc.strerror or exc))
            continue
        added.append(dest.name)
    return added, refused


def remove_file(name: str, seeds: str | Path) -> str:
    """Move one document out of the index's reach (into seeds/.removed/); returns where it went."""
    seeds = Path(seeds).resolve()
    path = (seeds / name).resolve()
    if seeds not in path.parents or not path.is_file():
        raise InputError(f"没有这个文件：{name}")
    target = seeds / REMOVED / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
    target.parent.mkdir(exist_ok=True)
    shutil.move(str(path), target)
    return str(target.relative_to(seeds))


__all__ = ["Document", "add_files", "documents", "remove_file"]
