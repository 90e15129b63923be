"""Formatting for the chat page: answer text with clickable [n], the sources panel as escaped HTML, and the
page's labels in Chinese (default) and English."""
from __future__ import annotations

import html
import re
from collections.abc import Mapping

from rag.index import Index
from rag.pipeline import EXTRACTIVE_NOTICE
from rag.types import Answer, Article, Passage

# The examples the page offers, written from the seed pages (none is an evaluation question); a real-model test
# asks each and wants it answered with a checked citation (tests/test_real_models.py).
EXAMPLE_QUESTIONS_EN = [
    "How much will Luyu Optoelectronics invest in Yiyang?",
    "How many units signed cooperation agreements at the matchmaking meeting?",
    "When was the new energy planning forum held in Changsha?",
]
EXAMPLE_QUESTIONS = [
    "益阳成为长株潭都市圈扩群首选靠哪三大核心支撑？",
    "对接会上省工信厅发布了多少家企业的供需信息？",
    "新能源规划论坛由哪个单位主办？",
    "益阳与湘江新区相距多远？",
    "麓宇光电计划在益阳投资什么项目？",
]

CSS = """
.src-card {border:1px solid var(--border-color-primary); border-radius:8px; padding:10px 12px; margin:0 0 10px 0;}
.src-card:target, .src-card:has(mark:target) {outline:2px solid #d97706;}
.src-text mark:target {scroll-margin-top:30vh;}
.src-back {display:inline-block; margin-top:6px; font-size:0.9em;}
.src-head {font-weight:600; margin-bottom:4px;}
.src-meta {color:var(--body-text-color-subdued); font-size:0.85em; margin-bottom:6px;}
.src-text, .src-article {white-space:pre-wrap; line-height:1.6;}
.src-text mark, .src-article mark {background:#fde68a; color:inherit; padding:0 1px;}
.src-card details {margin-top:6px;}
.src-card summary {cursor:pointer; color:var(--link-text-color); font-size:0.9em;}
.src-article {max-height:420px; overflow-y:auto; border-top:1px dashed var(--border-color-primary); padding-top:6px;
              margin-top:4px;}
.src-turn {color:var(--body-text-color-subdued); font-size:0.9em; margin:14px 0 6px 0;
           border-top:1px solid var(--border-color-primary); padding-top:8px;}
#chat a, #sources a {color:var(--link-text-color); text-decoration:underline; font-weight:600;}
.draft-note {color:var(--body-text-color-subdued); font-size:0.9em; margin-bottom:4px;}
.draft {opacity:0.55; font-style:italic;}
.removed summary {cursor:pointer; color:var(--body-text-color-subdued); font-size:0.9em;}
.removed s {color:var(--body-text-color-subdued);}
@media (max-width: 640px) {
  #chat {height:46vh !important; min-height:220px;}
  #kb-table table {font-size:0.85em;}
  #kb-table {overflow-x:auto;}
  #kb-upload {min-height:120px;}
  #kb-upload label[data-testid="block-label"] {white-space:normal !important; height:auto !important;
                                               max-width:calc(100% - 16px) !important; line-height:1.35;}
}
"""

# Every label the page shows, by language. The answers themselves follow the question's language.
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "## 湖南日报资料问答\n只根据已收录的报纸版面回答，每句话都注明出处；资料里没有的，会直说没有找到。",
        "tab_chat": "问答", "tab_library": "资料库", "chat": "对话", "question": "您的问题",
        "placeholder": "例如：益阳为什么能成为长株潭都市圈扩群的首选？", "send": "提问", "stop": "停止",
        "new": "新对话", "sources": "来源", "settings": "设置",
        "top_k": "参考段落数", "length": "回答长度", "short": "简短", "normal": "标准", "long": "详细",
        "backend": "回答方式", "extractive": "摘录模式（不用语言模型，直接引用原文句子）",
        "mode": "检索方式", "hybrid": "混合（向量＋关键词）", "dense": "向量", "lexical": "关键词",
        "library_note": "上传新的版面或文章后会自动更新索引；更新期间仍可正常提问（用的是旧索引）。",
        "upload": "上传文件（{types}；单个不超过 {mb} MB）", "pick": "选择文件", "remove": "移除该文件",
        "reindex": "重建索引", "headers": "文件|文章数|段落数|日期|标题", "unreadable": "未能读取：",
        "empty_panel": "提问后，这里会显示回答引用的原文段落。", "searched": "检索用问题：",
        "cited": "引用来源", "closest": "最接近的资料", "pending": "检索到的资料（正在生成回答…）",
        "open_article": "查看全文", "refusal_note": "最接近的资料列在来源栏里，供您查看。",
        "unsupported": "以下内容在资料中找不到依据，已从回答中删去：",
        "missing": "资料中没有找到这一问的答案：{part}",
        "info": "资料库：{articles} 篇文章，{chunks} 个段落 · 建于 {created} · 嵌入模型 {embedder} · 生成：{generator}",
        "no_llm": "摘录模式（无语言模型）",
        "embedder_model": "嵌入模型", "llm_model": "语言模型", "loading": "⏳ 正在加载模型，可以先提问（会稍等）",
        "ready": "✅ 模型已就绪（后台加载用了 {seconds} 秒）", "partly_ready": "⚠️ 部分模型未能加载",
        "waiting": "⏳ 排队等待语言模型：前面还有 {ahead} 个回答。资料已列在来源栏里。",
        "after_previous": "⏳ 等上一个问题回答完再回答这一个。",
        "stopped_waiting": "已停止：回答还没开始生成。",
        "busy": "⚠️ 语言模型忙，等待太久，请稍后再问。",
        "retry": "🔎 再仔细读一遍最相关的两段原文……",
        "found": "🔎 找到 {n} 段资料（{titles}），[看资料](#sources)。", "reading": "⏳ 模型正在阅读，大约 {seconds} 秒后开始回答……",
        "checking": "⏳ 正在核对出处……（下面是模型的草稿，核对后才算回答）",
        "removed": "另有 {n} 句在资料中找不到依据，已删去（点开查看）",
        "turn_sources": "第 {n} 问的来源：{question}",
        "too_long": "⚠️ 问题太长（{n} 字），请控制在 {limit} 字以内。问题仍在输入框里，可以删减后再发。",
        "examples": "示例问题", "back": "↑ 回到回答", "internal_error": "出了点问题，已记录在日志里，请再试一次。",
        "extractive_notice": "语言模型不可用，已改用摘录模式（直接引用原文句子）。",
        "continued": "续前版报道（{where}）", "local_model": "本地模型 {model}", "server_model": "服务器模型 {model}",
        "added": "已加入：{names}", "not_added": "未加入：{why}", "no_files": "没有选择文件。",
        "pick_first": "没有移除任何文件。", "removed_file": "已移除 {name}（文件移到 {where}，可以找回）。",
        "confirm_remove": "确定移除“{name}”吗？文件会移到 seeds/.removed/，可以找回。",
        "index_updated": "索引已更新：", "index_same": "资料没有变化，索引已是最新。",
        "index_failed": "⚠️ 索引更新失败，原来的索引仍在使用。",
    },
    "en": {
        "title": "## Hunan Daily archive Q&A\nAnswers come only from the indexed newspaper pages, every sentence with "
                 "its source; when the pages do not say, it tells you so.",
        "tab_chat": "Ask", "tab_library": "Documents", "chat": "Conversation", "question": "Your question",
        "placeholder": "e.g. How much was signed at the matchmaking meeting?",
        "send": "Ask", "stop": "Stop", "new": "New chat", "sources": "Sources",
        "settings": "Settings", "top_k": "Passages to read", "length": "Answer length", "short": "Short",
        "normal": "Normal", "long": "Long", "backend": "Answer with",
        "extractive": "Extractive (no language model: quotes source sentences)", "mode": "Retrieval",
        "hybrid": "Hybrid (vectors + keywords)", "dense": "Vectors", "lexical": "Keywords",
        "library_note": "Uploading a page or article updates the index; questions keep being answered from the "
                        "old index meanwhile.",
        "upload": "Upload files ({types}; at most {mb} MB each)", "pick": "Choose a file", "remove": "Remove file",
        "reindex": "Rebuild index", "headers": "File|Articles|Passages|Date|Titles", "unreadable": "Could not read: ",
        "empty_panel": "Ask a question: the passages the answer cites appear here.", "searched": "Searched as: ",
        "cited": "Sources cited", "closest": "Closest passages", "pending": "Passages found (writing the answer…)",
        "open_article": "Open article", "refusal_note": "The closest passages are listed under Sources.",
        "unsupported": "Not supported by the passages, removed from the answer:",
        "missing": "The documents do not answer this part: {part}",
        "info": "Index: {articles} articles, {chunks} passages · built {created} · embedder {embedder} · "
                "answers: {generator}",
        "no_llm": "extractive (no language model)",
        "embedder_model": "embedding model", "llm_model": "language model",
        "loading": "⏳ Loading the models; you can ask now (the answer waits for them)",
        "ready": "✅ Models ready (loaded in the background in {seconds} s)", "partly_ready": "⚠️ Some models did not load",
        "waiting": "⏳ Waiting for the language model: {ahead} answer(s) ahead. The passages are under Sources.",
        "after_previous": "⏳ This one is answered as soon as your previous question is.",
        "stopped_waiting": "Stopped before the answer was started.",
        "busy": "⚠️ The language model has been busy too long: please ask again later.",
        "retry": "🔎 Reading the two closest passages in full once more…",
        "found": "🔎 Found {n} passages ({titles}): [see them](#sources).", "reading": "⏳ The model is reading; the answer starts in about {seconds} s…",
        "checking": "⏳ Checking the sources… (the model's draft below counts only once checked)",
        "removed": "{n} more sentence(s) had no support in the passages and were removed (open to see)",
        "turn_sources": "Sources of question {n}: {question}",
        "too_long": "⚠️ The question is too long ({n} characters; at most {limit}). It is still in the box: "
                    "shorten it and send again.",
        "examples": "Examples", "back": "↑ Back to the answer", "internal_error": "Something went wrong; it was "
                                                                           "logged. Please try again.",
        "extractive_notice": "The language model is unavailable: the answers quote source sentences.",
        "continued": "Continued from another page ({where})", "local_model": "Local model {model}", "server_model": "Server model {model}",
        "added": "Added: {names}", "not_added": "Not added: {why}", "no_files": "No file chosen.",
        "pick_first": "No file was removed.", "removed_file": "Removed {name} (moved to {where}; it can be recovered).",
        "confirm_remove": "Remove \u201c{name}\u201d? The file is moved to seeds/.removed/ and can be recovered.",
        "index_updated": "Index updated: ", "index_same": "Nothing changed; the index is up to date.",
        "index_failed": "⚠️ The index could not be updated; the previous one is still in use.",
    },
}
LANGUAGES = [("中文", "zh"), ("English", "en")]
LENGTHS = {"short": 80, "normal": 160, "long": 320}  # new tokens for each answer length


def t(lang: str, key: str, **values: object) -> str:
    text = LABELS.get(lang, LABELS["zh"])[key]
    return text.format(**values) if values else text


def example_questions(index: Index | None, lang: str = "zh") -> list[str]:
    """Example questions for the current corpus, in `lang`: the shipped ones for the seed pages, else
    questions about the first few articles' headlines."""
    shipped = EXAMPLE_QUESTIONS_EN if lang == "en" else EXAMPLE_QUESTIONS
    if index is None:
        return shipped
    sources = {a.source for a in index.articles.values()}
    if any(s.startswith(("000_", "003_")) for s in sources):
        return shipped
    titles = [a.title for a in index.articles.values() if 4 <= len(a.title) <= 30 and not a.continuation]
    if lang == "en":
        return [f"What does the article “{title}” report?" for title in titles[:4]]
    return [f"《{title}》这篇报道讲了什么？" for title in titles[:4]]


def _claim_text(claim: str) -> str:
    return re.sub(r"\[\d+\]", "", claim).strip()


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def as_text(text: str) -> str:
    """Text typed by a person, for a Markdown bubble: shown as typed, no tag or Markdown mark taking effect."""
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def _links(text: str, turn: int) -> str:
    """[n] in escaped answer text -> a link to the span card n of this answer's sources highlights (the card
    is marked as the one opened)."""
    return re.sub(r"\[(\d+)\]", lambda m: f"[[{m.group(1)}]](#src-{turn}-{m.group(1)}-span)", text)


def answer_markdown(answer: Answer, lang: str = "zh", turn: int = 1) -> str:
    """The checked answer for the chat bubble: [n] becomes a link to that source card of answer `turn` in the
    panel. Claims the checker removed are not answer text: for an answer they are folded away under a plain
    label, and a refusal shows none of them (nothing it said was supported)."""
    text = _links(html.escape(answer.text), turn)
    if answer.refused:
        text = f"**{text}**\n\n*{t(lang, 'refusal_note')}*"
    for part in answer.missing:
        text += f"\n\n*{html.escape(t(lang, 'missing', part=part))}*"
    if not answer.refused and answer.unsupported:
        items = "".join(f"<li><s>{html.escape(_claim_text(c))}</s></li>" for c in answer.unsupported)
        text += (f'\n\n<details class="removed"><summary>{t(lang, "removed", n=len(answer.unsupported))}</summary>'
                 f"<ul>{items}</ul></details>")
    if answer.notice:
        notice = t(lang, "extractive_notice") if answer.notice == EXTRACTIVE_NOTICE else answer.notice
        text += f"\n\n> ⚠️ {html.escape(notice)}"
    return text


def provisional(draft: str, lang: str = "zh") -> str:
    """What the bubble shows while the model writes: its text dimmed, under a line saying it is being
    checked; the checked answer replaces it."""
    return f'<div class="draft-note">{t(lang, "checking")}</div><div class="draft">{html.escape(draft)}</div>'


def stage_message(passages: list[Passage], lang: str = "zh", seconds: float | None = None) -> str:
    """The bubble once passages are found: how many, from which articles, and how long the model will read."""
    titles = list(dict.fromkeys(p.chunk.title for p in passages if p.chunk.title))[:3]
    names = "、".join(f"《{html.escape(x)}》" for x in titles) if lang == "zh" else \
        "; ".join(html.escape(x) for x in titles)
    text = t(lang, "found", n=len(passages), titles=names or "-")
    if seconds is not None:
        text += "\n\n" + t(lang, "reading", seconds=max(1, round(seconds)))
    return text


# How the page names a model file to people; the file name is shown for a model not listed here.
MODEL_NAMES = {"qwen2.5-coder-1.5b": "Qwen2.5 1.5B", "qwen2.5-coder-0.5b": "Qwen2.5 0.5B"}


def model_label(generator_name: str, lang: str = "zh") -> str:
    """"llama.cpp:qwen2.5-coder-1.5b-instruct-q4_k_m.gguf" -> "本地模型 Qwen2.5 1.5B"; a server's model by its name."""
    backend, _, model = generator_name.partition(":")
    if backend == "openai":
        return t(lang, "server_model", model=model.split("@")[0])
    stem = model.lower()
    name = next((label for key, label in MODEL_NAMES.items() if stem.startswith(key)), model)
    return t(lang, "local_model", model=name)


def display_source(name: str) -> str:
    """A source file's name for people: without the content hash the archive adds ("003_ff9d31c6b8d2987c.txt" ->
    "003.txt")."""
    return re.sub(r"[_-][0-9a-f]{12,}(?=\.\w+$|$)", "", name)


def _highlight(text: str, spans: list[tuple[int, int]], anchor: str = "") -> str:
    """`text` escaped, with the (start, end) ranges wrapped in <mark>; the first mark has the id `anchor`, so
    that a link to it shows the span itself, not the top of a card taller than a phone's screen."""
    out, pos = [], 0
    for s, e in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        if s < pos or s >= e:
            continue
        mark = f'<mark id="{anchor}">' if anchor and "</mark>" not in out else "<mark>"
        out += [html.escape(text[pos:s]), mark, html.escape(text[s:e]), "</mark>"]
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


_CONTINUED = re.compile(r"^[（(]\s*((?:上接|紧接|下接)[^）)]{1,12})[）)]")


def card_title(title: str, lang: str = "zh") -> str:
    """A card's heading: a fragment continued from another page is titled by its own first sentence, which the
    card's text then repeats; it is named as the continuation it is instead."""
    m = _CONTINUED.match(title)
    if not m:
        return title
    return t(lang, "continued", where=m.group(1))


def _card(p: Passage, spans: list[tuple[int, int]], article: Article | None, lang: str, turn: int) -> str:
    """One source card: title, date and file, the passage with its supporting span marked, and the whole
    article (span marked too) folded under "open article". `spans` are offsets into the article text."""
    c = p.chunk
    body = _highlight(c.text, [(s - c.start, e - c.start) for s, e in spans], f"src-{turn}-{p.rank}-span")
    meta = " · ".join(html.escape(x) for x in (date_text(c.date, lang), display_source(c.source)) if x)
    full = ""
    if article is not None and article.text:
        full = (f'<details><summary>{t(lang, "open_article")}</summary>'
                f'<div class="src-article">{_highlight(article.text, spans or [(c.start, c.end)])}</div></details>')
    head = html.escape(card_title(c.title, lang))
    return (f'<div class="src-card" id="src-{turn}-{p.rank}"><div class="src-head">[{p.rank}] {head}</div>'
            f'<div class="src-meta">{meta}</div><div class="src-text">{body}</div>{full}'
            f'<a class="src-back" href="#chat">{t(lang, "back")}</a></div>')


def sources_html(answer: Answer | None, passages: list[Passage] | None = None, rewritten: str = "",
                 articles: Mapping[str, Article] | None = None, lang: str = "zh", turn: int = 1) -> str:
    """The sources of answer `turn`: cited passages with the supporting span highlighted; for a refusal, the
    closest passages. Every piece of document text is HTML-escaped."""
    if answer is None and not passages:
        return f'<div class="src-meta">{t(lang, "empty_panel")}</div>'
    articles = articles or {}
    passages = list(answer.passages if answer else passages or [])
    rewritten = rewritten or (answer.query if answer else "")
    parts = []
    if rewritten:
        parts.append(f'<div class="src-meta">{t(lang, "searched")}{html.escape(rewritten)}</div>')
    if answer is not None and not answer.refused:
        spans: dict[int, list[tuple[int, int]]] = {}
        for cit in answer.citations:
            spans.setdefault(cit.n, []).append((cit.start, cit.end))
        parts.append(f"<h4>{t(lang, 'cited')}</h4>")
        parts += [_card(p, spans[p.rank], articles.get(p.chunk.article_id), lang, turn)
                  for p in passages if p.rank in spans]
    else:
        parts.append(f"<h4>{t(lang, 'closest' if answer is not None else 'pending')}</h4>")
        parts += [_card(p, [], articles.get(p.chunk.article_id), lang, turn) for p in passages]
    return "\n".join(parts)


def panel(current: str, earlier: list[tuple[int, str, str]], lang: str = "zh") -> str:
    """The sources panel: the newest answer's sources, then each earlier answer's (newest first) under the
    question it answered, so that an older answer's [n] still opens its own passage."""
    parts = [current] if current else []
    for n, question, body in reversed(earlier):
        parts.append(f'<div class="src-turn">{t(lang, "turn_sources", n=n, question=html.escape(question[:60]))}</div>')
        parts.append(body)
    return "\n".join(parts) or sources_html(None, lang=lang)


def confirm_remove_js() -> str:
    """Browser-side check before 移除该文件: the file is named and the user must agree; declined, the server is
    told no file (and says none was removed)."""
    import json

    messages = json.dumps({lang: LABELS[lang]["confirm_remove"] for lang in LABELS}, ensure_ascii=False)
    return ("(name, lang) => { if (!name) return [null, lang]; const m = " + messages + ";"
            " const text = (m[lang] || m.zh).replace('{name}', name);"
            " return window.confirm(text) ? [name, lang] : [null, lang]; }")


_ALIASES = {".htm": ".html", ".markdown": ".md"}


def file_types(suffixes, lang: str = "zh") -> str:
    """The upload label's list of types, each once: ".htm" and ".markdown" are read but need no mention."""
    return listed(sorted({s.lstrip(".") for s in suffixes if s not in _ALIASES}), lang)


def listed(items, lang: str = "zh") -> str:
    """Names run together as a list in the page's language: "a、b" or "a, b"."""
    return ("、" if lang == "zh" else ", ").join(items)


_DATE = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def date_text(date: str, lang: str = "zh") -> str:
    """An article's date for the page: as written in Chinese; in English "12月13日" is "13 December" and
    "2026年4月2日" "2 April 2026" (another form is left as it is)."""
    m = _DATE.match(date.strip()) if lang == "en" else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        return date
    return " ".join(x for x in (str(int(m.group(3))), _MONTHS[int(m.group(2)) - 1], m.group(1) or "") if x)
