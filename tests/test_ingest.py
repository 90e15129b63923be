from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from make_golden import parsed

from rag.ingest import read_file
from rag.ingest.page import parse_page
from rag.ingest.readers import decode_bytes

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.name)
def test_seed_pages_match_golden_files(seed: Path) -> None:
    golden = json.loads((ROOT / "tests" / "golden" / (seed.stem + ".json")).read_text(encoding="utf-8"))
    assert json.loads(json.dumps(parsed(seed), ensure_ascii=False)) == golden


def test_page_counts_and_titles() -> None:
    first = read_file(SEEDS[0]).articles
    second = read_file(SEEDS[1]).articles
    assert len(first) == 10 and len(second) == 11
    assert first[0].title == "长株潭都市圈“扩群”，首选为何是益阳"
    assert first[0].authors == ("邢玲", "雷鸿涛")
    assert "一场对接会背后的产业耦合新棋局" in [a.title for a in second]


@pytest.mark.parametrize("joined", [
    "省发改委牵头召开益阳市与湘江新区构建合作园区利益分享机制座谈会",
    "要求完善银发旅游运营管理",
    "智能生产线高效运转",
    "公司联合创始人刘勇",
    "在北交所上市",
    "长沙市政府负责同志作回应",
])
def test_broken_lines_are_rejoined(joined: str) -> None:
    bodies = "".join(a.text for seed in SEEDS for a in read_file(seed).articles)
    assert joined in bodies


def test_no_body_keeps_a_line_break_inside_a_sentence() -> None:
    for seed in SEEDS:
        for a in read_file(seed).articles:
            for para in a.text.split("\n\n"):
                assert "\n" not in para, (a.title, para)


def test_repeated_paragraph_appears_once() -> None:
    bodies = "\n".join(a.text for a in read_file(SEEDS[0]).articles)
    assert bodies.count("《实施意见》通篇贯穿建设老年友好型社会理念") == 1


def test_continuation_fragments_are_their_own_articles() -> None:
    arts = read_file(SEEDS[0]).articles
    fragments = [a for a in arts if a.continuation]
    assert {a.continuation for a in fragments} == {"上接1版①", "上接1版②", "上接1版③"}
    assert all(a.title.startswith("（上接") for a in fragments)


def test_dateline_and_section() -> None:
    arts = {a.title: a for a in read_file(SEEDS[1]).articles}
    assert arts["蒋涤非寄语广大参事馆员"].date == "4月3日"
    assert arts["把提升本质安全水平摆在更加突出位置"].section == "三湘时评"
    assert arts["把提升本质安全水平摆在更加突出位置"].authors == ("周泽中",)


def test_article_spans_point_into_the_source() -> None:
    text = SEEDS[0].read_text(encoding="utf-8")
    for a in read_file(SEEDS[0]).articles:
        s, e = a.span
        assert 0 <= s < e <= len(text)


@pytest.mark.parametrize("page,titles", [
    ("", []),
    ("字", []),  # a lone short line is a headline with no body: nothing to index
    ("# 标题\n\n正文。", ["标题"]),
    ("# 😀表情\n\n表情符号😀也能处理。", ["😀表情"]),
    ("# Mixed 中英 title\n\nEnglish and 中文 mixed body.", ["Mixed 中英 title"]),
    ("正文没有标题，只有一句话。", ["正文没有标题，只有一句话。"]),
    ("# 长文\n\n" + "很长的句子，" * 3000 + "结束。", ["长文"]),
])
def test_parse_page_edge_cases(page: str, titles: list[str]) -> None:
    assert [a.title for a in parse_page(page, "x.txt")] == titles


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "big5"])
def test_encodings_are_detected(tmp_path: Path, encoding: str) -> None:
    text = "# 湖南日报新闻\n\n长沙今天举行了一场关于先进制造业的对接会，签约金额约三亿元。与会企业代表表示合作前景广阔。"
    if encoding == "big5":  # Big5 carries traditional characters
        text = "# 湖南日報新聞\n\n長沙今天舉行了一場關於先進製造業的對接會，簽約金額約三億元。與會企業代表表示合作前景廣闊。"
    path = tmp_path / "page.txt"
    path.write_bytes(text.encode(encoding))
    result = read_file(path)
    assert not result.error
    assert result.articles[0].title in {"湖南日报新闻", "湖南日報新聞"}
    assert "约三亿元" in result.articles[0].text or "約三億元" in result.articles[0].text


@pytest.mark.parametrize("name,data,why", [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"   \n\n  ", "empty"),
    ("binary.txt", bytes(range(256)) * 4, "binary"),
    ("broken.pdf", b"%PDF-1.4\n1 0 obj <<", "PDF"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "docx"),
    ("picture.png", b"\x89PNG\r\n", "unsupported"),
    ("bad.jsonl", b'{"text": "ok"}\nnot json\n', "JSON"),
])
def test_bad_files_are_reported_not_raised(tmp_path: Path, name: str, data: bytes, why: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    result = read_file(path)
    assert result.articles == []
    assert why.lower() in result.error.lower()


def test_html_keeps_main_text_and_drops_navigation(tmp_path: Path) -> None:
    page = ("<html><body><nav>首页 | 新闻 | 登录</nav><article><h1>株洲新闻</h1><p>株洲市地区生产总值达4063.46亿元。</p>"
            "</article><script>alert(1)</script><footer>版权所有</footer></body></html>")
    path = tmp_path / "page.html"
    path.write_text(page, encoding="utf-8")
    (article,) = read_file(path).articles
    assert article.title == "株洲新闻" and "4063.46亿元" in article.text
    assert "登录" not in article.text and "alert" not in article.text and "版权" not in article.text


def test_docx_is_read(tmp_path: Path) -> None:
    from docx import Document

    doc = Document()
    doc.add_heading("岳阳金融活动", level=1)
    doc.add_paragraph("活动现场，多家银行与企业签约。")
    path = tmp_path / "a.docx"
    doc.save(path)
    (article,) = read_file(path).articles
    assert article.title == "岳阳金融活动" and "多家银行" in article.text


def test_jsonl_archive_is_read(tmp_path: Path) -> None:
    path = tmp_path / "archive.jsonl"
    rows = [{"id": "n1", "title": "新闻一", "date": "2023-01-01", "text": "第一条新闻的正文。"},
            {"id": "n2", "text": "没有标题的新闻正文。"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    arts = read_file(path).articles
    assert [a.id for a in arts] == ["n1", "n2"] and arts[0].date == "2023-01-01"
    assert arts[1].title.startswith("没有标题")


def test_decode_refuses_binary() -> None:
    from rag.errors import InputError

    with pytest.raises(InputError, match="binary"):
        decode_bytes(b"\x00\x01\x02abc", "x.txt")


def test_ids_are_stable_content_hashes() -> None:
    a = read_file(SEEDS[0]).articles
    b = read_file(SEEDS[0]).articles
    assert [x.id for x in a] == [x.id for x in b]
    assert all(re.fullmatch(r"[0-9a-f]{16}", x.id) for x in a)
