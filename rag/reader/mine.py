"""Training questions for the reader, from `../shared/train` (its README says what is there and how it was
made): each question with its candidate sentences, which of them answer it, and the article group it belongs
to (the held-out split is by article, so no article's wording is on both sides).

- CRUD-RAG news questions: the candidates are the sentences of the source article (the evidence sentence
  answers; the rest do not) and the sentences of the other articles that share the question's rarest words
  (same topic, another year, another figure: the hard negatives). Its unanswerable questions ("the article
  is on the topic and does not say") have no sentence that answers.
- CMRC 2018 (Wikipedia, span answers): the sentences of the question's paragraph; the one holding the
  answer's start answers.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.reader.features import Candidate, sentences_of
from rag.retrieve import content_words

MAX_OWN = 30  # sentences of the source article kept as candidates (the answering ones always)
HARD = 8  # sentences from other articles
OTHER_ARTICLES = 3


@dataclass(frozen=True)
class Item:
    question: str
    candidates: tuple[Candidate, ...]
    labels: tuple[int, ...]  # 1: the candidate answers the question
    group: str  # the article (or paragraph) the question was written on
    answerable: bool
    source: str  # "crud" or "cmrc"


def crud_group(article_id: str) -> str:
    """The held-out split's group of a CRUD-RAG question: its source article (`heldout.split_of` reads it)."""
    return f"crud:{article_id}"


def _sentences(text: str) -> list[Candidate]:
    return [c for _, _, c in sentences_of(text)]


def _answers(sentence: str, evidence: list[str]) -> bool:
    """The sentence is (part of) an evidence sentence, or holds one."""
    s = "".join(sentence.split())
    for ev in evidence:
        e = "".join(ev.split())
        if len(s) >= 6 and (s in e or e in s):
            return True
    return False


def _score(words: list[str], text: str, idf: dict[str, float]) -> float:
    return sum(idf[w] for w in words if w in text)


class _Corpus:
    """The training news, for finding the other articles that share a question's words."""

    def __init__(self, news: dict[str, str]) -> None:
        self.news = news
        self._holding: dict[str, frozenset[str]] = {}

    def holding(self, word: str) -> frozenset[str]:
        if word not in self._holding:
            self._holding[word] = frozenset(i for i, t in self.news.items() if word in t)
        return self._holding[word]

    def others(self, question: str, own: str, n: int) -> list[str]:
        words = content_words(question)
        idf = {w: math.log(1 + len(self.news) / (1 + len(self.holding(w)))) for w in words}
        found: dict[str, float] = {}
        for w in words:
            for i in self.holding(w):
                if i != own:
                    found[i] = found.get(i, 0.0) + idf[w]
        return [i for i, _ in sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def crud_items(train_dir: Path) -> Iterator[Item]:
    news = {}
    with open(train_dir / "crud_train_news.jsonl", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            news[d["id"]] = d["text"]
    corpus = _Corpus(news)
    with open(train_dir / "crud_train_qa.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        own_id = r["sources"][0]
        if own_id not in news:
            continue
        question, evidence = r["question"], list(r.get("evidence") or [])
        own = _sentences(news[own_id])
        labels = [int(_answers(c.sentence, evidence)) for c in own]
        if r["answerable"] and not any(labels):
            continue  # an evidence sentence the splitter cut otherwise: no clean label
        words = content_words(question)
        if len(own) > MAX_OWN:  # the answering sentences, then the ones that share most of the question
            idf = {w: 1.0 for w in words}
            keep = sorted(range(len(own)), key=lambda i: (-labels[i], -_score(words, own[i].sentence, idf)))[:MAX_OWN]
            keep.sort()
            own, labels = [own[i] for i in keep], [labels[i] for i in keep]
        hard: list[Candidate] = []
        for other in corpus.others(question, own_id, OTHER_ARTICLES):
            sentences = _sentences(news[other])
            sentences.sort(key=lambda c: -sum(w in c.sentence for w in words))
            hard += sentences[:HARD // OTHER_ARTICLES + 1]
        hard = hard[:HARD]
        yield Item(question, tuple(own + hard), tuple(labels + [0] * len(hard)), crud_group(own_id),
                   bool(r["answerable"]), "crud")


def cmrc_items(train_dir: Path, limit: int | None = None) -> Iterator[Item]:
    n = 0
    for name in ("cmrc2018_dev.json", "cmrc2018_trial.json"):
        path = train_dir / "cmrc2018" / name
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))["data"]
        for article in data:
            for paragraph in article["paragraphs"]:
                read = sentences_of(paragraph["context"])
                spans, candidates = [(s, e) for s, e, _ in read], [c for _, _, c in read]
                for qa in paragraph["qas"]:
                    starts = {a["answer_start"] for a in qa["answers"] if a.get("answer_start", -1) >= 0}
                    labels = [int(any(s <= a < e for a in starts)) for s, e in spans]
                    if not any(labels) or len(candidates) < 2:
                        continue
                    yield Item(qa["question"], tuple(candidates[:MAX_OWN]), tuple(labels[:MAX_OWN]),
                               f"cmrc:{name}:{paragraph['id']}", True, "cmrc")
                    n += 1
                    if limit is not None and n >= limit:
                        return


__all__ = ["Item", "cmrc_items", "crud_group", "crud_items"]
