"""Ingest, step 2: cut a newspaper page dump into clean articles.

A page holds several articles; headlines come as markdown (`#`, `**…**`) or as bare short lines,
bylines and photo credits sit between them, continuation fragments ("◀◀(上接1版①)") interrupt them,
and lines are broken in the middle of a sentence. The parser works in four passes over the lines:
classify each line, drop repeated paragraphs, re-join broken lines, then group lines into articles.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.types import Article, content_id

# A sentence that ends here: terminal punctuation, possibly followed by closing quotes/brackets.
_ENDS_SENTENCE = re.compile(r"[。！？!?；;….][”’」』）)\]】》\"']*$|[：:]$")
_MARKER = re.compile(r"^[◀▶《<\s]*[(（]\s*((?:上接|紧接|下转|转)\s*\d+\s*版\s*[①-⑳\d]*)\s*[)）][》>]*\s*")
_BYLINE = re.compile(r"(记者|评论员|通讯员|特约|撰稿|编辑)[\s：:]")
_CAPTION = re.compile(r"(摄影报道|\s摄$|^摄影[:：\s])")
_DATELINE = re.compile(r"^(?:湖南日报|本报)?\s*(\d{1,2}月\d{1,2}日)讯\s*(?:[(（]([^)）]{0,60})[)）])?")
_BARE_NAME = re.compile(r"^[\u4e00-\u9fff]{2,3}$")
_CJK = re.compile(r"[\u4e00-\u9fff]")

HEADLINE_MIN_CHARS = 15  # a lone short line this long reads as a new headline; shorter, as a sub-head
SECTION_MAX_CHARS = 8  # in a headline block, a line this short is a section label ("三湘时评")
SHORT_LINE_CHARS = 40


@dataclass
class Line:
    kind: str  # heading | bold | short | byline | caption | marker | text
    text: str
    start: int
    end: int
    level: int = 0  # markdown heading level


@dataclass
class _Draft:
    start: int
    title: str = ""
    subtitle: str = ""
    section: str = ""
    authors: list[str] = field(default_factory=list)
    date: str = ""
    continuation: str = ""
    paragraphs: list[str] = field(default_factory=list)
    end: int = 0


def _classify(raw: str, start: int) -> list[Line]:
    """One source line -> one Line (two when a continuation marker prefixes text)."""
    text = raw.strip()
    end = start + len(raw.rstrip())
    start = start + (len(raw) - len(raw.lstrip()))
    m = _MARKER.match(text)
    if m:
        marker = Line("marker", re.sub(r"\s+", "", m.group(1)), start, start + m.end())
        rest = text[m.end():].strip()
        return [marker] + (_classify(rest, start + m.end()) if rest else [])
    h = re.match(r"^(#{1,6})\s+(.*?)\s*#*$", text)
    if h:
        return [Line("heading", h.group(2).strip(), start, end, level=len(h.group(1)))]
    b = re.match(r"^\*\*(.+?)\*\*$", text)
    if b:
        return [Line("bold", b.group(1).strip(), start, end)]
    text = text.replace("**", "")
    plain = len(text) <= SHORT_LINE_CHARS and not _ENDS_SENTENCE.search(text) and not re.search(r"[，,]", text)
    if plain and _CAPTION.search(text):
        return [Line("caption", text, start, end)]
    if plain and _BYLINE.search(text + " "):
        return [Line("byline", text, start, end)]
    return [Line("short" if plain else "text", text, start, end)]


def classify_lines(page: str) -> list[Line]:
    lines: list[Line] = []
    offset = 0
    for raw in page.splitlines(keepends=True):
        body = raw.rstrip("\r\n")
        if body.strip():
            lines.extend(_classify(body, offset))
        offset += len(raw)
    return lines


def drop_repeats(lines: list[Line]) -> list[Line]:
    """Drop a paragraph printed twice, keeping the later copy.

    A page dump repeats a paragraph where a jump continues it elsewhere; the later copy is the one
    followed by its continuation, so keeping it lets the broken line be re-joined correctly.
    """
    last = {ln.text: i for i, ln in enumerate(lines) if ln.kind == "text" and len(ln.text) >= 20}
    return [ln for i, ln in enumerate(lines) if ln.kind != "text" or last.get(ln.text, i) == i]


def join_broken(lines: list[Line]) -> list[Line]:
    """Re-join a text line that stops mid-sentence with the text line after it.

    "……召开益" + "阳市与湘江新区……" becomes one paragraph. Only text continues text: a headline,
    marker or caption in between means the break was intended.
    """
    out: list[Line] = []
    for ln in lines:
        prev = out[-1] if out else None
        continues = ln.kind == "text" or (ln.kind == "short" and _CJK.match(ln.text))
        if prev is not None and prev.kind == "text" and not _ENDS_SENTENCE.search(prev.text) and continues:
            out[-1] = Line("text", prev.text + ln.text, prev.start, ln.end)
        else:
            out.append(Line(ln.kind, ln.text, ln.start, ln.end, ln.level))
    return out


def _names(byline: str) -> list[str]:
    tail = re.split(r"记者|评论员|通讯员|撰稿|编辑", byline)
    names: list[str] = []
    for part in tail[1:] if len(tail) > 1 else tail:
        for name in re.split(r"[\s、,，]+", part):
            name = re.sub(r"(摄影报道|摄)$", "", name.strip("()（）：: "))
            if 2 <= len(name) <= 4 and _CJK.match(name):
                names.append(name)
    return names


def _headline_block(run: list[Line], start: int) -> _Draft:
    """Sort a block of consecutive headline lines into title, subtitle, section and authors."""
    draft = _Draft(start=start)
    rest: list[Line] = []
    for i, ln in enumerate(run):
        if ln.kind == "byline" or (i > 0 and _BARE_NAME.match(ln.text)):
            draft.authors.extend(_names(ln.text) or [ln.text])
        elif ln.text.startswith("——"):
            draft.subtitle = ln.text
        else:
            rest.append(ln)
    if len(rest) > 1:
        labels = [ln for ln in rest if len(ln.text) <= SECTION_MAX_CHARS]
        if len(labels) < len(rest):
            draft.section = " ".join(ln.text for ln in labels)
            rest = [ln for ln in rest if ln not in labels]
    if rest:
        top = min(rest, key=lambda ln: ln.level or 9)
        draft.title = top.text
        others = [ln.text for ln in rest if ln is not top]
        draft.subtitle = " ".join(others + ([draft.subtitle] if draft.subtitle else []))
    return draft


def _first_sentence(text: str, limit: int = 24) -> str:
    sentence = re.split(r"(?<=[。！？!?])", text, maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[:limit] + "…"


def _finish(draft: _Draft, source: str) -> Article | None:
    text = "\n\n".join(draft.paragraphs).strip()
    if not text:
        return None
    title = draft.title
    if not title:
        title = _first_sentence(draft.paragraphs[0])
        if draft.continuation:
            title = f"（{draft.continuation}）{title}"
    return Article(
        id=content_id(source, title, text), source=source, title=title, text=text,
        subtitle=draft.subtitle, authors=tuple(dict.fromkeys(draft.authors)), date=draft.date,
        section=draft.section, continuation=draft.continuation, span=(draft.start, draft.end),
    )


def _add_text(draft: _Draft, ln: Line) -> None:
    if not draft.paragraphs and not draft.date:
        m = _DATELINE.match(ln.text)
        if m:
            draft.date = m.group(1)
            if m.group(2) and not draft.authors:
                draft.authors.extend(_names(m.group(2)))
    draft.paragraphs.append(ln.text)
    draft.end = ln.end


def parse_page(page: str, source: str) -> list[Article]:
    """Cut one page dump into Articles.

    Example:
        >>> [a.title for a in parse_page("# 标题\\n\\n正文第一句。", "p.txt")]
        ['标题']
    """
    lines = join_broken(drop_repeats(classify_lines(page)))
    articles: list[Article] = []
    draft: _Draft | None = None

    def close() -> None:
        nonlocal draft
        if draft is not None and (art := _finish(draft, source)) is not None:
            articles.append(art)
        draft = None

    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.kind in {"heading", "short", "byline"}:
            j = i
            while j < len(lines) and lines[j].kind in {"heading", "short", "byline"}:
                j += 1
            run = lines[i:j]
            lone_subhead = (len(run) == 1 and ln.kind == "short" and len(ln.text) < HEADLINE_MIN_CHARS
                            and draft is not None and draft.paragraphs)
            if lone_subhead:
                draft.paragraphs.append(ln.text)
            else:
                close()
                draft = _headline_block(run, ln.start)
                draft.end = run[-1].end
            i = j
            continue
        if ln.kind == "marker":
            close()
            draft = _Draft(start=ln.start, continuation=ln.text, end=ln.end)
        elif ln.kind == "bold":
            if draft is None:
                draft = _Draft(start=ln.start)
            draft.paragraphs.append(ln.text)
            draft.end = ln.end
        elif ln.kind == "caption":
            if draft is None:
                draft = _Draft(start=ln.start)
            draft.paragraphs.append(ln.text)
            draft.end = ln.end
            close()  # a photo credit closes its picture story; what follows is another article
        else:
            if draft is None:
                draft = _Draft(start=ln.start)
            _add_text(draft, ln)
        i += 1
    close()
    return articles
