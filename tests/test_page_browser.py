"""The chat page in Debian's Chromium over a scripted model (fast; the real model's browser test is in
test_real_models.py): one language at a time, a conversation that changes language, and a phone that reaches
a cited span and gets back to the answer. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from fakes import HashingEmbedder, close_page, free_port

from rag.pipeline import Pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]
CJK = re.compile(r"[\u4e00-\u9fff，。：；（）、]")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")]


class Bilingual:
    """Answers an English prompt in English and a Chinese one in Chinese, each sentence cited."""

    name = "scripted-bilingual"

    def __init__(self) -> None:
        self.prompts: list[list[dict]] = []

    def stream(self, messages, max_tokens=160):
        self.prompts.append(messages)
        prompt = messages[-1]["content"]
        if "Answer in English" in prompt:
            reply = "About 300 million yuan was signed[1]."
        elif "多少家单位" in prompt:
            reply = "当天,16家单位签署合作协议[1]。"
        else:
            reply = "总签约采购金额约3亿元[1]。"
        for i in range(0, len(reply), 4):
            yield reply[i:i + 4]


@pytest.fixture
def page_url(seeds_copy: Path, tmp_path: Path):
    import app as app_module

    steps = "second_look,kind_check,scope_check,clauses,reader_cite"  # the default less the model's doubt and meaning
    s = Settings(seeds_dir=str(seeds_copy), index_dir=str(tmp_path / "idx"), cache_dir=str(tmp_path / "c"),
                 data_dir=str(tmp_path / "data"), steps=steps)
    pipe = Pipeline(s, HashingEmbedder(), Bilingual())
    pipe.ensure_index()
    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    yield f"http://127.0.0.1:{port}/"
    close_page(demo)


@pytest.fixture
def browser(tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=str(CHROMIUM),
                                                        args=FLAGS, headless=True)
        yield context
        context.close()


def _ask(page, question: str, turn: int) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    page.locator(f"#chat a[href^='#src-{turn}-']").first.wait_for(timeout=30_000)


def _settled_own_text(page, foreign: str, chrome: str = "", seconds: float = 5.0) -> str:
    """The page's own words once a language switch has settled: Gradio redraws the tab bar a moment after the
    other labels (for a frame it held both languages' tab names), so this polls until no `foreign` word is
    left or `seconds` pass, and returns what it read last."""
    import time

    end = time.monotonic() + seconds
    while True:
        own = re.sub(chrome, "", _own_text(page)) if chrome else _own_text(page)
        if not re.search(foreign, own) or time.monotonic() > end:
            return own
        time.sleep(0.1)


def _own_text(page) -> str:
    """The page's own words: every label, button, example and line outside the chat and the sources."""
    return page.evaluate("""() => {
        const skip = ['#chat', '#sources', '#kb-table', '#index-info', '#lang'];  // the picker names both
        const hidden = [];
        skip.forEach(s => document.querySelectorAll(s).forEach(e => {
            hidden.push([e, e.style.display]); e.style.display = 'none'; }));
        const text = document.querySelector('gradio-app').innerText;  // what is shown, as shown
        hidden.forEach(([e, d]) => { e.style.display = d; });
        return text; }""")


def test_english_mode_shows_no_chinese_of_its_own_and_a_mixed_conversation_stays_one_language(
        page_url: str, browser) -> None:
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(page_url)
    page.locator("#lang").get_by_text("English").click()
    page.wait_for_function("() => document.querySelector('#send').innerText.trim() === 'Ask'", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#examples-zh') === null"
                           " || document.querySelector('#examples-zh').offsetParent === null", timeout=30_000)
    own = _settled_own_text(page, CJK.pattern)
    assert not CJK.search(own), [own[max(0, m.start() - 40):m.end() + 40] for m in CJK.finditer(own)][:3]
    assert "Luyu Optoelectronics" in page.locator("#examples-en").inner_text()
    # An English question: an English answer, and the sources' dates in English
    _ask(page, "How much was signed at the matchmaking meeting, the 对接会?", 1)  # hashed vectors: a word to find
    answer = page.locator("#chat .message-row").last.inner_text()
    assert "300 million yuan" in answer and not CJK.search(answer), answer
    metas = page.locator("#sources .src-meta").all_inner_texts()
    assert metas and not any(re.search(r"\d+月\d+日", m) for m in metas), metas  # "13 December", not 12月13日
    # A Chinese follow-up: not glued to the English question before it, answered in Chinese only
    _ask(page, "那它有多少家单位签约？", 2)
    answer = page.locator("#chat .message-row").last.inner_text()
    assert "16家" in answer and not re.search(r"[A-Za-z]{3,}", answer), answer
    searched = [m for m in page.locator("#sources .src-meta").all_inner_texts() if m.startswith("Searched as:")]
    assert not any(re.search(r"[A-Za-z]{3,}", m.split(":", 1)[1]) for m in searched), searched
    page.screenshot(path=str(artifacts / "english-mode.png"), full_page=True)
    # the library tab in English too
    page.get_by_role("tab", name="Documents").click()
    assert not CJK.search(page.locator("#kb-upload").inner_text().split("Drop")[0])
    # back to Chinese: no English of the page's own
    page.locator("#lang").get_by_text("中文").click()
    page.wait_for_function("() => document.querySelector('#send').innerText.trim() === '提问'", timeout=30_000)
    # Gradio's own chrome (its footer and the drop zone, in the browser's language) and file types are not ours
    chrome = r"MB|docx|html|jsonl|pdf|txt|Drop File Here|- or -|Click to Upload|Use via API|Built with Gradio|" \
             r"Settings|Stop Recording|Runs|Loading"
    own = _settled_own_text(page, r"[A-Za-z]{3,}", chrome)
    assert not re.search(r"[A-Za-z]{3,}", own), re.findall(r"[A-Za-z]{3,}", own)


def test_on_a_phone_a_citation_shows_its_span_and_one_tap_goes_back_to_the_answer(page_url: str, browser) -> None:
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page_url)
    _ask(page, "对接会签约采购金额是多少？", 1)
    page.locator("#chat a[href='#src-1-1-span']").first.click()
    page.wait_for_function("() => location.hash === '#src-1-1-span'", timeout=10_000)
    page.wait_for_timeout(300)
    mark = page.locator("#src-1-1-span").bounding_box()
    assert mark is not None and 0 <= mark["y"] and mark["y"] + min(mark["height"], 120) <= 844, mark  # on screen
    page.screenshot(path=str(artifacts / "phone-span.png"))
    page.locator("#src-1-1 .src-back").click()
    page.wait_for_timeout(300)
    chat = page.locator("#chat").bounding_box()
    assert chat is not None and chat["y"] < 844 and chat["y"] + chat["height"] > 0, chat  # the answer in view
    page.screenshot(path=str(artifacts / "phone-back.png"))


def test_a_refused_upload_is_not_left_listed_as_attached(page_url: str, browser, tmp_path: Path) -> None:
    bad = tmp_path / "notes.xyz"
    bad.write_text("hello", encoding="utf-8")
    page = browser.new_page()
    page.goto(page_url)
    page.locator("#lang").get_by_text("English").click()
    page.wait_for_function("() => document.querySelector('#send').innerText.trim() === 'Ask'", timeout=30_000)
    page.get_by_role("tab", name="Documents").click()
    page.locator("#kb-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("() => document.querySelector('#kb-status').innerText.includes('notes.xyz')",
                           timeout=30_000)
    status = page.locator("#kb-status").inner_text()
    assert "are not taken" in status and not CJK.search(status), status  # said why, in the page's language
    page.wait_for_function("() => !document.querySelector('#kb-upload').innerText.includes('notes.xyz')",
                           timeout=10_000)  # the box is empty again: nothing looks attached
