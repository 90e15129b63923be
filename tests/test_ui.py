"""The chat page's formatting and the app's settings, over the fake pipeline (no models, no browser)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from rag import ui
from rag.types import Answer, Article, Chunk, Citation, Passage

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _passage(text: str, title: str = "标题", start: int = 0, rank: int = 1) -> tuple[Passage, Article]:
    article = Article(id="a1", source="page.txt", title=title, text="导语。" + text + "结尾。", date="2025-12-14")
    start = start or len("导语。")
    chunk = Chunk(id="c1", article_id="a1", text=text, start=start, end=start + len(text), title=title,
                  date="2025-12-14", source="page.txt")
    return Passage(chunk, rank, 0.5), article


def test_document_text_is_escaped_everywhere() -> None:
    passage, article = _passage(f"签约金额约3亿元。{HOSTILE}", title=HOSTILE)
    s = article.text.index("签约")
    cit = Citation(1, "a1", HOSTILE, "page.txt", s, s + 9, "签约金额约3亿元。")
    answer = Answer("问？", f"约3亿元[1]。{HOSTILE}", False, (cit,), (passage,), unsupported=(HOSTILE,))
    for html in (ui.sources_html(answer, articles={"a1": article}), ui.answer_markdown(answer),
                 ui.sources_html(None, [passage], HOSTILE, {"a1": article})):
        assert "<script" not in html and "<img" not in html
        assert "&lt;script&gt;" in html


def test_cited_span_is_marked_in_the_passage_and_in_the_full_article() -> None:
    passage, article = _passage("当天，16家单位签署合作协议，总签约采购金额约3亿元。")
    s = article.text.index("总签约")
    cit = Citation(1, "a1", "标题", "page.txt", s, s + 12, article.text[s:s + 12])
    html = ui.sources_html(Answer("问？", "约3亿元[1]。", False, (cit,), (passage,)), articles={"a1": article})
    # the card (its mark the target of [1], so a phone shows the span, not the card's top) and the folded article
    assert html.count('<mark id="src-1-1-span">总签约采购金额约3亿元。</mark>') == 1
    assert html.count("<mark>总签约采购金额约3亿元。</mark>") == 1 and html.count('id="src-1-1-span"') == 1
    assert '<a class="src-back" href="#chat">↑ 回到回答</a>' in html  # one tap back to the answer
    assert "<details><summary>查看全文</summary>" in html and "导语。" in html and 'id="src-1-1"' in html


def test_refusal_lists_the_closest_passages_with_their_articles() -> None:
    passage, article = _passage("南岳衡山出现雾凇。")
    answer = Answer("问？", "资料中没有找到这个问题的答案。", True, (), (passage,))
    html = ui.sources_html(answer, articles={"a1": article})
    assert "最接近的资料" in html and "<mark>南岳衡山出现雾凇。</mark>" in html  # its place in the article
    md = ui.answer_markdown(answer)
    assert md.startswith("**资料中没有找到") and "最接近的资料" in md


def test_removed_claims_are_folded_away_under_an_answer() -> None:
    passage, _ = _passage("签约金额约3亿元。")
    answer = Answer("问？", "约3亿元[1]。", False, (), (passage,), unsupported=("总部设在北京[1]。",))
    md = ui.answer_markdown(answer, turn=3)
    assert "[[1]](#src-3-1-span)" in md and "<s>总部设在北京。</s>" in md and "找不到依据" in md
    head, folded = md.split('<details class="removed">')
    assert "总部" not in head  # not answer text: inside the folded part only
    assert "removed" in ui.answer_markdown(answer, "en")


def test_a_refusal_shows_none_of_the_removed_claims() -> None:
    """"1.2万元/平方米" invented for a question the pages do not answer must not stay on screen under it."""
    passage, _ = _passage("长沙楼市成交回暖。")
    answer = Answer("长沙今年的房价是多少？", "资料中没有找到这个问题的答案。", True, (), (passage,),
                    unsupported=("长沙今年的房价是1.2万元/平方米[1]。",))
    md = ui.answer_markdown(answer)
    assert "1.2万元" not in md and md.startswith("**资料中没有找到")


def test_the_draft_is_shown_as_provisional_and_escaped() -> None:
    draft = ui.provisional("签约金额约3亿元[1]<img src=x>", "zh")
    assert "正在核对出处" in draft and 'class="draft"' in draft and "<img" not in draft
    assert "Checking the sources" in ui.provisional("x", "en")


def test_stage_message_names_the_articles_and_the_reading_time() -> None:
    passage, _ = _passage("签约金额约3亿元。", title="一场对接会背后的产业耦合新棋局")
    zh = ui.stage_message([passage, passage], "zh", 6.2)
    assert "找到 2 段资料" in zh and "《一场对接会背后的产业耦合新棋局》" in zh and "大约 6 秒" in zh
    assert "Found 1 passages" in ui.stage_message([passage], "en") and "reading" not in ui.stage_message([passage], "en")


def test_each_answer_keeps_its_own_sources_in_the_panel() -> None:
    first, article = _passage("签约金额约3亿元。", title="对接会")
    second, _ = _passage("南岳衡山出现雾凇。", title="雾凇")
    one = ui.sources_html(Answer("q1", "a[1]", False, (Citation(1, "a1", "对接会", "p", 3, 8, "签约金额约"),), (first,)),
                          articles={"a1": article}, turn=1)
    two = ui.sources_html(Answer("q2", "b[1]", False, (Citation(1, "a1", "雾凇", "p", 3, 8, "南岳衡山出"),), (second,)),
                          articles={"a1": article}, turn=2)
    panel = ui.panel(two, [(1, "对接会签约采购金额是多少？", one)])
    assert panel.index('id="src-2-1"') < panel.index('id="src-1-1"')  # the newest answer first
    assert "第 1 问的来源：对接会签约采购金额是多少？" in panel
    texts = dict(re.findall(r'id="(src-\d+-\d+)">.*?<div class="src-text">(.*?)</div>', panel))
    assert "3亿元" in texts["src-1-1"] and "雾凇" in texts["src-2-1"]  # the old answer's [1] opens its own passage


@pytest.mark.parametrize("typed, shown", [
    ("<b>粗</b><img src=x onerror=alert(1)>", "&lt;b&gt;粗&lt;/b&gt;&lt;img src=x onerror=alert\\(1\\)&gt;"),
    ("**不要加粗** # 不是标题", "\\*\\*不要加粗\\*\\* \\# 不是标题"),
    ("益阳为什么能成为首选？", "益阳为什么能成为首选？"),
])
def test_a_question_shows_as_typed(typed: str, shown: str) -> None:
    assert ui.as_text(typed) == shown


@pytest.mark.parametrize("name, label", [
    ("llama.cpp:qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "本地模型 Qwen2.5 1.5B"),
    ("llama.cpp:my-own-model.gguf", "本地模型 my-own-model.gguf"),
    ("openai:qwen3-32b@http://gpu:8000/v1", "服务器模型 qwen3-32b"),
])
def test_models_are_named_for_people(name: str, label: str) -> None:
    assert ui.model_label(name) == label


@pytest.mark.parametrize("name, shown", [
    ("003_ff9d31c6b8d2987c.txt", "003.txt"), ("sub/000_e0dd732e3fc9ef1b.txt", "sub/000.txt"),
    ("星沙公园.md", "星沙公园.md"), ("report_2025.pdf", "report_2025.pdf"),
])
def test_source_file_names_lose_their_hash(name: str, shown: str) -> None:
    assert ui.display_source(name) == shown


def test_the_remove_confirmation_names_the_file_in_both_languages() -> None:
    js = ui.confirm_remove_js()
    assert "window.confirm" in js and "确定移除" in js and "Remove" in js and "{name}" in js


@pytest.mark.parametrize("lang,word", [("zh", "引用来源"), ("en", "Sources cited")])
def test_panel_labels_follow_the_language(lang: str, word: str) -> None:
    passage, article = _passage("签约金额约3亿元。")
    cit = Citation(1, "a1", "标题", "page.txt", 3, 8, "签约金额约")
    assert word in ui.sources_html(Answer("q", "a[1]", False, (cit,), (passage,)), lang=lang)


def test_every_label_exists_in_both_languages() -> None:
    assert set(ui.LABELS["zh"]) == set(ui.LABELS["en"])
    for lang in ui.LABELS:
        assert ui.t(lang, "upload", types="txt", mb=50)


def test_examples_come_from_the_corpus(fake_pipeline, tmp_path: Path) -> None:
    pipe = fake_pipeline(backend="extractive")
    assert ui.example_questions(pipe.index) == ui.EXAMPLE_QUESTIONS
    other = dataclasses.replace(pipe.index, articles={
        "x": Article(id="x", source="mine.md", title="星沙口袋公园建设提速", text="……")})
    assert ui.example_questions(other) == ["《星沙口袋公园建设提速》这篇报道讲了什么？"]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_retrieval_mode_and_extractive_choice_per_question(fake_pipeline, mode: str) -> None:
    pipe = fake_pipeline("湖南有电机企业2000多家[1]。")
    events = list(pipe.stream("对接会签约采购金额是多少？", top_k=2, mode=mode, extractive=True))
    assert len(events[0].passages) == 2
    answer = events[-1].answer
    assert "3亿元" in answer.text and not pipe.generator.prompts  # the loaded LLM was not asked
    if mode == "dense":
        assert all(p.lexical_score is None for p in answer.passages)
    if mode == "lexical":
        assert all(p.dense_score is None for p in answer.passages)


def test_unknown_retrieval_mode_is_a_clear_error(fake_pipeline) -> None:
    from rag.errors import InputError

    with pytest.raises(InputError, match="检索方式"):
        fake_pipeline(backend="extractive").retrieve("问题", mode="magic")


def test_app_answers_through_its_api_with_settings(served_fake) -> None:
    """The real Gradio app over the fake pipeline, driven through gradio_client: the settings reach the
    pipeline and the streamed history ends with a cited answer."""
    pipe, client = served_fake("总签约采购金额约3亿元[1]。")
    outputs = list(client.submit("对接会签约采购金额是多少？", [], api_name="/chat"))
    history, panel, _ = outputs[-1]
    assert "3亿元" in str(history[-1]["content"]) and "<mark>" in panel and "查看全文" in panel
    outputs = list(client.submit("对接会签约采购金额是多少？", [], 2, "short", "extractive", "lexical", "en",
                                 api_name="/chat"))
    history, panel, _ = outputs[-1]
    assert "Sources cited" in panel and panel.count('class="src-card"') <= 2
    assert len(pipe.generator.prompts) == 1  # the second answer was extractive, as asked
    result = client.predict("", api_name="/ask")
    assert "error" in result and "请输入" in result["error"]


@pytest.fixture
def served_fake(fake_pipeline):
    """The real Gradio app over a fake pipeline whose model says `reply`, served on 127.0.0.1."""
    from fakes import free_port

    import app as app_module

    demos = []

    def serve(reply: str):
        pipe = fake_pipeline(reply)
        port = free_port()
        demo = app_module.build_app(pipe).queue(default_concurrency_limit=1)
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
        demos.append(demo)
        from gradio_client import Client

        return pipe, Client(f"http://127.0.0.1:{port}/", verbose=False)

    yield serve
    for demo in demos:
        app_module.close_page(demo)


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content)


def test_the_bubble_says_what_is_happening_then_shows_the_checked_answer(served_fake) -> None:
    _, client = served_fake("总签约采购金额约3亿元[1]。总部设在北京[1]。")
    bubbles = [_text(history[-1]) for history, _, _ in client.submit("对接会签约采购金额是多少？", [], api_name="/chat")]
    assert any("找到" in b and "段资料" in b and "秒后开始回答" in b for b in bubbles)  # passages found, reading
    drafts = [b for b in bubbles if 'class="draft"' in b]
    assert drafts and all("正在核对出处" in b for b in drafts)  # unchecked text is never shown as the answer
    final = bubbles[-1]
    assert 'class="draft"' not in final and "3亿元" in final and "#src-1-1" in final
    assert final.index("总部设在北京") > final.index('<details class="removed">')  # folded away, not answer text


def test_a_too_long_question_stays_in_the_box_with_the_message(served_fake) -> None:
    _, client = served_fake("总签约采购金额约3亿元[1]。")
    question = "对接会签约采购金额是多少？" * 100
    history, panel, box = list(client.submit(question, [], api_name="/chat"))[-1]
    assert box == question
    assert len(history) == 1 and "问题太长" in _text(history[0]) and "输入框" in _text(history[0])


def test_markup_in_a_question_shows_as_text_and_the_answer_stays_chinese(served_fake) -> None:
    pipe, client = served_fake("总签约采购金额约3亿元[1]。")
    question = '<b>对接会</b>签约采购金额是多少？<img src=x onerror="alert(1)">'
    history, _, _ = list(client.submit(question, [], api_name="/chat"))[-1]
    asked = _text(history[0])
    assert "<img" not in asked and "<b>" not in asked and "&lt;img" in asked
    assert "请用英文回答" not in str(pipe.generator.prompts[-1]) and "English" not in str(pipe.generator.prompts[-1])


def test_an_older_answer_keeps_its_own_sources(served_fake) -> None:
    _, client = served_fake("总签约采购金额约3亿元[1]。")
    first, _, _ = list(client.submit("对接会签约采购金额是多少？", [], api_name="/chat"))[-1]
    history, panel, _ = list(client.submit("对接会签约采购金额约多少亿元？", first, api_name="/chat"))[-1]
    assert "#src-1-1" in _text(history[1]) and "#src-2-1" in _text(history[3])
    assert 'id="src-1-1"' in panel and 'id="src-2-1"' in panel


class _SlowLLM:
    """A generator that takes a moment to load, or fails to."""

    name = "slow-llm"

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.loaded = fail, False

    def warm_up(self) -> None:
        import time

        time.sleep(0.3)
        if self.fail:
            from rag.errors import ModelError

            raise ModelError("weights could not be loaded")
        self.loaded = True

    def stream(self, messages, max_tokens=160):
        yield "总签约采购金额约3亿元[1]。"


@pytest.mark.parametrize("fail", [False, True])
def test_models_load_in_the_background_with_a_status(fake_pipeline, fail: bool) -> None:
    import app as app_module

    pipe = fake_pipeline(backend="extractive")
    pipe.generator = _SlowLLM(fail)
    warmup = app_module.Warmup(pipe).start()
    assert "正在加载模型" in warmup.status() or warmup.done.is_set()
    assert warmup.done.wait(10)
    if fail:
        assert pipe.generator is None and "摘录模式" in pipe.notice
        assert "部分模型未能加载" in warmup.status() and "⚠️ 语言模型" in warmup.status()
        assert "3亿元" in pipe.ask("对接会签约采购金额是多少？").text  # answers go on, extractively
    else:
        assert warmup.status().startswith("✅") and "Models ready" in warmup.status("en")


@pytest.mark.parametrize("question, english", [
    ('<b>对接会</b>签约金额是多少？<img src=x onerror="alert(1)">', False),
    ("<script>document.title</script>湖南有多少家电机企业？", False),
    ("How much was signed at the <b>matchmaking</b> meeting?", True),
    ("益阳 GDP growth rate in 2025 was what?", True),
    ("a < b 的时候怎么办？", False),
])
def test_the_answer_language_follows_the_words_not_the_markup(question: str, english: bool) -> None:
    from rag.asked import is_english

    assert is_english(question) is english


@pytest.mark.parametrize("title, shown", [
    ("（上接1版①）首先，益阳拥有产业配套空间优势", "续前版报道（上接1版①）"),
    ("（紧接1版③）把问题解决率作为衡量标准", "续前版报道（紧接1版③）"),
    ("一场对接会背后的产业耦合新棋局", "一场对接会背后的产业耦合新棋局"),
    ("（图）雪后南岳", "（图）雪后南岳"),
])
def test_a_continued_fragment_is_named_as_one(title: str, shown: str) -> None:
    assert ui.card_title(title) == shown


def test_the_upload_label_lists_each_type_once() -> None:
    assert ui.file_types({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}) == "html、md、pdf、txt"


def test_each_question_and_answer_leave_a_log_line_without_their_text(served_fake, caplog) -> None:
    """A stalled question shows in the log as a question line with no answer line after it."""
    import logging

    _, client = served_fake("总签约采购金额约3亿元[1]。")
    with caplog.at_level(logging.INFO, logger="rag.app"):
        list(client.submit("对接会签约采购金额是多少？", [], api_name="/chat"))
    lines = [r.getMessage() for r in caplog.records if r.name == "rag.app"]
    asked = [line for line in lines if line.startswith("question ")]
    answered = [line for line in lines if line.startswith("answer ")]
    assert asked and ": 13 characters, 0 before it in the session" in asked[0]
    assert answered and "1 citations" in answered[0] and "first word" in answered[0]
    assert not any("签约" in line for line in lines)  # what was asked stays out of the log


def test_what_is_typed_while_an_answer_streams_stays_in_the_box(served_fake) -> None:
    """The box is emptied once, as the question is sent; the updates that stream the answer leave it alone
    (each used to empty it, so "雾凇是哪天出现的？" typed meanwhile was sent as its last few characters)."""
    _, client = served_fake("总签约采购金额约3亿元[1]。")
    job = client.submit("对接会签约采购金额是多少？", [], api_name="/chat")
    job.result()
    boxes = [out[2] for out in job.outputs()]
    assert boxes[0] == "" and len(boxes) > 2
    assert all(isinstance(b, dict) and "value" not in b for b in boxes[1:]), boxes


def _slow_down(pipe, seconds: float) -> None:
    """The scripted model gives each piece `seconds` apart, so an answer is still streaming when the next
    thing happens."""
    import time

    fast = pipe.generator.stream

    def slowly(messages, max_tokens=160):
        for piece in fast(messages, max_tokens):
            time.sleep(seconds)
            yield piece

    pipe.generator.stream = slowly


def test_a_second_question_sent_while_the_first_streams_is_answered_after_it(served_fake) -> None:
    import time

    pipe, client = served_fake("总签约采购金额约3亿元[1]。")
    _slow_down(pipe, 0.2)
    first = client.submit("对接会签约采购金额是多少？", [], api_name="/chat")
    time.sleep(0.5)
    second = client.submit("签约的单位有多少家？", [], api_name="/chat")
    first.result(timeout=60)
    history = second.result(timeout=60)[0]
    texts = [(m["role"], _text(m)) for m in history]
    assert [r for r, _ in texts] == ["user", "assistant", "user", "assistant"]
    assert texts[0][1] == "对接会签约采购金额是多少？" and texts[2][1] == "签约的单位有多少家？"
    assert all("#src-" in t for r, t in texts if r == "assistant"), texts  # both answered, neither a draft
    waiting = [_text(out[0][3]) for out in second.outputs() if out[0] and len(out[0]) == 4]
    assert any("等上一个问题回答完" in w for w in waiting)  # its place was shown while it waited


def test_a_new_conversation_stops_the_old_ones_answer_from_coming_back(served_fake) -> None:
    import time

    pipe, client = served_fake("总签约采购金额约3亿元[1]。" * 20)
    _slow_down(pipe, 0.1)
    job = client.submit("对接会签约采购金额是多少？", [], api_name="/chat")
    while not any(out and out[0] and "draft" in _text(out[0][-1]) for out in job.outputs()):
        time.sleep(0.05)
    history = client.predict("zh", api_name="/new_conversation")[0]
    assert history == []
    seen = len(job.outputs())
    job.result(timeout=30)
    after = [out[0] for out in job.outputs()[seen + 1:]]  # one update may have been on its way
    assert not any(isinstance(o, list) and o for o in after), after  # nothing of the old chat comes back
    ticket = pipe.line.try_hold("free")  # its answer was stopped and the model freed
    assert ticket and pipe.line.waiting() == 0
    pipe.line.leave(ticket, True)
    again = client.predict("对接会签约采购金额是多少？", [], api_name="/chat")[0]
    assert len(again) == 2 and "#src-" in _text(again[1])  # the next question starts a fresh conversation


def test_the_english_labels_hold_no_chinese_and_the_chinese_ones_no_english() -> None:
    import re

    for key, text in ui.LABELS["en"].items():
        assert not re.search(r"[\u4e00-\u9fff，。：；（）、]", text), key
    allowed = {"MB", "seeds", "removed", "sources"}  # a unit, a folder's name, an anchor
    for key, text in ui.LABELS["zh"].items():
        words = set(re.findall(r"[A-Za-z]{2,}", re.sub(r"\{\w+\}", "", text)))
        assert words <= allowed, (key, words)


@pytest.mark.parametrize("date, lang, shown", [
    ("12月13日", "en", "13 December"), ("2026年4月2日", "en", "2 April 2026"), ("12月13日", "zh", "12月13日"),
    ("2025-12-14", "en", "2025-12-14"), ("13月40日", "en", "13月40日"), ("", "en", ""),
])
def test_a_date_is_written_in_the_pages_language(date: str, lang: str, shown: str) -> None:
    assert ui.date_text(date, lang) == shown


def test_the_upload_label_lists_types_in_the_pages_language() -> None:
    assert ui.file_types([".md", ".txt", ".htm"], "en") == "md, txt"
    assert ui.file_types([".md", ".txt", ".htm"], "zh") == "md、txt"


def test_example_questions_come_in_the_pages_language() -> None:
    import re

    assert all(not re.search(r"[\u4e00-\u9fff]", q) for q in ui.example_questions(None, "en"))
    assert all(re.search(r"[\u4e00-\u9fff]", q) for q in ui.example_questions(None, "zh"))


@pytest.mark.parametrize("lang, words", [("en", "too long (1200 characters; at most 1000)"), ("zh", "1200 字")])
def test_a_too_long_question_is_told_in_the_pages_language(lang: str, words: str) -> None:
    import re

    text = ui.t(lang, "too_long", n=1200, limit=1000)
    assert words in text and bool(re.search(r"[\u4e00-\u9fff]", text)) is (lang == "zh")


def test_an_empty_send_changes_nothing_and_leaves_a_log_line(served_fake, caplog) -> None:
    import logging

    _, client = served_fake("总签约采购金额约3亿元[1]。")
    with caplog.at_level(logging.INFO, logger="rag.app"):
        outputs = list(client.submit("   ", [], api_name="/chat"))
    assert all(isinstance(o, dict) and "value" not in o for out in outputs for o in out)  # nothing changed
    assert any("empty box sent" in r.getMessage() for r in caplog.records if r.name == "rag.app")
