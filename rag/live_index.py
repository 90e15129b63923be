"""The index a pipeline answers from, over its whole life: built when missing or stale, loaded, rebuilt in the
background and swapped in while questions go on, and searched through one retriever per retrieval mode.

`Pipeline` answers; this object owns the index it answers from, so that the answering code and the code that
builds, reloads and searches the index can each be read (and tested) on their own.
"""
from __future__ import annotations

import logging
import threading

from rag.asked import Question, question_of
from rag.embed import Embedder
from rag.errors import IndexMismatchError, InputError
from rag.index import Index, Progress, build_index, index_is_stale, load_index
from rag.retrieve import HybridRetriever, join_touching
from rag.settings import Settings
from rag.types import Passage

log = logging.getLogger("rag")
RETRIEVAL_MODES = ("hybrid", "dense", "lexical")


class LiveIndex:
    def __init__(self, settings: Settings, embedder: Embedder, part_passages: bool = True) -> None:
        self.settings, self.embedder, self.part_passages = settings, embedder, part_passages
        self.index: Index | None = None
        self._retrievers: dict[str, HybridRetriever] = {}
        self._build_lock = threading.Lock()

    def ensure(self, rebuild: bool = False, progress: Progress | None = None, lang: str = "en") -> str:
        """Build the index if it is missing, stale or forced, then load it. Returns a summary line (in `lang`)."""
        s = self.settings
        summary = ""
        if rebuild or index_is_stale(s.seeds_dir, s.index_dir):
            summary = self._build(rebuild, progress, lang)
        try:
            self.load()
        except IndexMismatchError as exc:
            # Damaged, or built with another embedding model or format: the sources are all in seeds/,
            # so a full rebuild gives a good index; until it is swapped in nothing else is touched.
            log.warning("rebuilding the index: %s", exc)
            summary = f"index rebuilt ({exc})\n" + self._build(True, progress, lang)
            self.load()
        return summary

    def _build(self, rebuild: bool, progress: Progress | None, lang: str = "en") -> str:
        s = self.settings
        return build_index(s.seeds_dir, s.index_dir, self.embedder, s.chunk_chars, s.chunk_overlap_sentences,
                           rebuild=rebuild, progress=progress, ann_threshold=s.ann_threshold, store=s.store,
                           store_token=s.milvus_token).summary(lang)

    def reindex(self, progress: Progress | None = None, lang: str = "en") -> str:
        """Bring the index up to date with the seeds folder while questions go on being answered from the
        live one; it is swapped in when the build is done. One build at a time."""
        if not self._build_lock.acquire(blocking=False):
            raise InputError("正在更新索引，请等这一次完成。(An index build is already running.)")
        try:
            return self.ensure(progress=progress, lang=lang)
        finally:
            self._build_lock.release()

    def load(self) -> Index:
        s = self.settings
        index = load_index(s.index_dir, self.embedder.name, store=s.store, store_token=s.milvus_token)
        self.index, self._retrievers = index, {}  # retrievers are made again for the new index on first use
        return index

    def retriever_for(self, mode: str) -> HybridRetriever:
        """The retriever over the live index for `mode`: hybrid, dense or lexical."""
        if mode not in RETRIEVAL_MODES:
            raise InputError(f"未知的检索方式 {mode!r}（可选：{', '.join(RETRIEVAL_MODES)}）")
        index = self.index if self.index is not None else self.load()
        retrievers = self._retrievers
        if mode not in retrievers or retrievers[mode].index is not index:
            s = self.settings
            retrievers[mode] = HybridRetriever(index, self.embedder, s.candidates, s.dense_weight,
                                               s.lexical_weight, s.rrf_k, mode=mode, rerank=s.rerank,
                                               rerank_weight=s.rerank_weight)
        return retrievers[mode]

    def retrieve(self, question: Question | str, k: int | None = None, mode: str = "hybrid") -> list[Passage]:
        """The k best passages, neighbours in one article joined into one (see `join_touching`); the places
        joining frees go to the next `extra_passages` passages. With `part_passages`, each part of a question
        of several brings its own best passage (`with_part_passages`)."""
        k = k or self.settings.top_k
        retriever = self.retriever_for(mode)
        q = question_of(question)
        found = retriever.search(q.text, k + self.settings.extra_passages)
        parts = [p.text for p in q.parts] if self.part_passages else []
        if len(parts) > 1:
            found = with_part_passages(found, [retriever.search(part, 1) for part in parts], k)
        return join_touching(found, k)


def with_part_passages(found: list[Passage], per_part: list[list[Passage]], k: int) -> list[Passage]:
    """`found` with the best passage for each part of the question among its first `k`: a part's passage
    takes the place of the last one that is no part's best. The parts of "株洲和湘潭的常住人口" are often
    answered by two articles, and the whole question's ranking may hold only one of them."""
    best = list(dict.fromkeys(hits[0].chunk.id for hits in per_part if hits))
    by_id = {p.chunk.id: p for hits in per_part for p in hits} | {p.chunk.id: p for p in found}
    top = [p.chunk.id for p in found[:k]]
    for cid in best:
        if cid in top:
            continue
        spare = [i for i, t in enumerate(top) if t not in best]
        if len(top) < k:
            top.append(cid)
        elif spare:
            top[spare[-1]] = cid
    rest = [p for p in found if p.chunk.id not in top]
    return [by_id[c] for c in top] + rest


__all__ = ["RETRIEVAL_MODES", "LiveIndex", "with_part_passages"]
