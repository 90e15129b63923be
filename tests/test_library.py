"""The knowledge-base tab's logic: listing, adding and removing documents, re-indexing beside the chat."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from rag import library
from rag.errors import InputError
from rag.ingest.readers import MAX_FILE_BYTES


def test_documents_lists_every_file_with_counts(fake_pipeline) -> None:
    pipe = fake_pipeline(backend="extractive")
    rows = {d.name: d for d in library.documents(pipe.index)}
    assert set(rows) == {"000_e0dd732e3fc9ef1b.txt", "003_ff9d31c6b8d2987c.txt"}
    page = rows["003_ff9d31c6b8d2987c.txt"]
    assert page.articles == 11 and page.chunks > 11 and "一场对接会背后的产业耦合新棋局" in page.titles
    assert "4月3日" in page.date
    assert library.documents(None) == []


def test_add_files_copies_supported_files_and_explains_refusals(tmp_path: Path) -> None:
    up = tmp_path / "uploads"
    up.mkdir()
    (up / "news.md").write_text("# 新闻\n\n内容。", encoding="utf-8")
    (up / "picture.png").write_bytes(b"\x89PNG")
    (up / "empty.txt").write_bytes(b"")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "news.md").write_text("# 旧的\n\n不要覆盖。", encoding="utf-8")
    added, refused = library.add_files([up / "news.md", up / "picture.png", up / "empty.txt"], seeds)
    assert added == ["news-2.md"]  # the existing document is kept, the upload gets a new name
    assert (seeds / "news.md").read_text(encoding="utf-8").startswith("# 旧的")
    assert any("picture.png" in r and "不支持" in r for r in refused)
    assert any("empty.txt" in r and "空" in r for r in refused)


def test_add_files_refuses_oversized_files(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: no real 50 MB written
    added, refused = library.add_files([big], tmp_path / "seeds")
    assert added == [] and "上限" in refused[0]


@pytest.mark.parametrize("name", ["../outside.txt", "missing.txt", ".removed"])
def test_remove_file_refuses_what_is_not_a_document(seeds_copy: Path, name: str) -> None:
    (seeds_copy.parent / "outside.txt").write_text("x", encoding="utf-8")
    with pytest.raises(InputError):
        library.remove_file(name, seeds_copy)
    assert (seeds_copy.parent / "outside.txt").exists()


def test_remove_then_reindex_drops_the_articles_but_keeps_the_file(fake_pipeline, seeds_copy: Path) -> None:
    pipe = fake_pipeline(backend="extractive")
    where = library.remove_file("000_e0dd732e3fc9ef1b.txt", seeds_copy)
    assert (seeds_copy / where).is_file() and where.startswith(".removed/")
    pipe.reindex()
    assert [d.name for d in library.documents(pipe.index)] == ["003_ff9d31c6b8d2987c.txt"]


def test_upload_then_reindex_makes_the_content_answerable(fake_pipeline, seeds_copy: Path, tmp_path: Path) -> None:
    pipe = fake_pipeline(backend="extractive")
    doc = tmp_path / "park.md"
    doc.write_text("# 星沙口袋公园\n\n星沙街道今年新建了12座口袋公园，市民步行五分钟即可到达。", encoding="utf-8")
    library.add_files([doc], seeds_copy)
    steps: list[str] = []
    summary = pipe.reindex(progress=lambda msg, done, total: steps.append(msg))
    assert "1 unchanged" not in summary and any(s.startswith("embedding chunks") for s in steps)
    answer = pipe.ask("星沙街道今年新建了多少座口袋公园？")
    assert "12座" in answer.text and answer.citations[0].source == "park.md"


def test_only_one_reindex_at_a_time_and_questions_keep_working(fake_pipeline, seeds_copy: Path) -> None:
    pipe = fake_pipeline(backend="extractive")
    (seeds_copy / "more.md").write_text("# 更多\n\n" + "新内容的句子。" * 50, encoding="utf-8")
    started, release = threading.Event(), threading.Event()

    def slow(msg: str, done: int, total: int) -> None:
        if msg.startswith("embedding chunks"):
            started.set()
            release.wait(10)

    worker = threading.Thread(target=pipe.reindex, kwargs={"progress": slow})
    worker.start()
    assert started.wait(10)
    with pytest.raises(InputError, match="正在更新索引"):
        pipe.reindex()
    assert "3亿元" in pipe.ask("对接会签约采购金额是多少？").text  # answered from the live index meanwhile
    release.set()
    worker.join(10)
    assert any(a.title == "更多" for a in pipe.index.articles.values())


def test_add_files_reports_an_unreadable_upload(tmp_path: Path) -> None:
    added, refused = library.add_files([tmp_path / "gone.md"], tmp_path / "seeds")
    assert added == [] and "gone.md" in refused[0] and "无法读取" in refused[0]


def test_a_refused_upload_is_explained_in_the_pages_language(tmp_path: Path) -> None:
    import re

    (tmp_path / "notes.xyz").write_text("hello", encoding="utf-8")
    (tmp_path / "empty.md").write_text("", encoding="utf-8")
    _, english = library.add_files([tmp_path / "notes.xyz", tmp_path / "empty.md"], tmp_path / "seeds", "en")
    _, chinese = library.add_files([tmp_path / "notes.xyz", tmp_path / "empty.md"], tmp_path / "seeds", "zh")
    assert english[0].startswith("notes.xyz: files of type .xyz are not taken") and "the file is empty" in english[1]
    assert not any(re.search(r"[\u4e00-\u9fff，（）、]", line) for line in english)
    assert "不支持的文件类型 .xyz" in chinese[0] and "文件是空的" in chinese[1]
