"""Formatting for the chat page: answer text with clickable [n], and the sources panel as escaped HTML."""
from __future__ import annotations

import html
import re

from rag.index import Index
from rag.types import Answer, Passage

EXAMPLE_QUESTIONS = [
    "益阳为什么能成为长株潭都市圈扩群的首选？",
    "对接会签约采购金额是多少？",
    "南岳衡山的雪后雾凇是哪天出现的？",
    "湖南现在大概有多少家电机企业？",
    "第六届中国人工智能大赛有多少支队伍报名？",
]

CSS = """
.src-card {border:1px solid var(--border-color-primary); border-radius:8px; padding:10px 12px; margin:0 0 10px 0;}
.src-card:target {outline:2px solid #d97706;}
.src-head {font-weight:600; margin-bottom:4px;}
.src-meta {color:var(--body-text-color-subdued); font-size:0.85em; margin-bottom:6px;}
.src-text {white-space:pre-wrap; line-height:1.6;}
.src-text mark {background:#fde68a; color:inherit; padding:0 1px;}
.refusal {color:#b45309; font-weight:600;}
.notice {color:#b91c1c; font-size:0.9em;}
"""


def example_questions(index: Index | None) -> list[str]:
    """The shipped examples whose answers live in the current corpus (all of them for the seed pages)."""
    if index is None:
        return EXAMPLE_QUESTIONS
    sources = {a.source for a in index.articles.values()}
    return EXAMPLE_QUESTIONS if any(s.startswith(("000_", "003_")) for s in sources) else []


def answer_markdown(answer: Answer) -> str:
    """The answer for the chat bubble: [n] becomes a link to that source card in the panel."""
    text = html.escape(answer.text)
    text = re.sub(r"\[(\d+)\]", lambda m: f"[[{m.group(1)}]](#src-{m.group(1)})", text)
    if answer.refused:
        text = f"**{text}**\n\n*下方列出了最接近的资料，供您查看。*"
    if answer.notice:
        text += f"\n\n> ⚠️ {html.escape(answer.notice)}"
    return text


def _card(p: Passage, spans: list[tuple[int, int]]) -> str:
    c = p.chunk
    text = c.text
    marks = sorted((max(0, s - c.start), min(len(text), e - c.start)) for s, e in spans)
    out, pos = [], 0
    for s, e in marks:
        if s < pos or s >= e:
            continue
        out += [html.escape(text[pos:s]), "<mark>", html.escape(text[s:e]), "</mark>"]
        pos = e
    out.append(html.escape(text[pos:]))
    meta = " · ".join(html.escape(x) for x in (c.date, c.source) if x)
    return (f'<div class="src-card" id="src-{p.rank}"><div class="src-head">[{p.rank}] {html.escape(c.title)}</div>'
            f'<div class="src-meta">{meta}</div><div class="src-text">{"".join(out)}</div></div>')


def sources_html(answer: Answer | None, passages: list[Passage] | None = None, rewritten: str = "") -> str:
    """The sources panel: cited passages with the supporting span highlighted; for a refusal, the
    closest passages. Every piece of document text is HTML-escaped."""
    if answer is None and not passages:
        return '<div class="src-meta">提问后，这里会显示回答引用的原文段落。</div>'
    passages = list(answer.passages if answer else passages or [])
    rewritten = rewritten or (answer.query if answer else "")
    parts = []
    if rewritten:
        parts.append(f'<div class="src-meta">检索用问题：{html.escape(rewritten)}</div>')
    if answer is not None and not answer.refused:
        spans: dict[int, list[tuple[int, int]]] = {}
        for cit in answer.citations:
            spans.setdefault(cit.n, []).append((cit.start, cit.end))
        parts.append("<h4>引用来源</h4>")
        parts += [_card(p, spans[p.rank]) for p in passages if p.rank in spans]
    else:
        title = "最接近的资料" if answer is not None else "检索到的资料（正在生成回答…）"
        parts.append(f"<h4>{title}</h4>")
        parts += [_card(p, []) for p in passages]
    return "\n".join(parts)
