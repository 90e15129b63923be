"""No rule and no rule's test quotes an evaluation question: the sets under ../shared/eval and ../shared/peer
measure, they choose nothing. A rule written for one of their questions moves that question and no unseen
one, so the code and its tests take their examples from other text. Whole-path tests with the real models
(tests/test_real_models.py) may ask the seed dev questions, as a user would.

Skipped where the sets are not beside the checkout; they are read there, never copied in."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETS = [ROOT.parent / "shared" / f for f in ("eval/dev.jsonl", "eval/dev_en.jsonl", "peer/crud_qa_dev.jsonl",
                                             "eval/rgb/rgb_qa.jsonl")]
ASKS_AS_A_USER = {"test_real_models.py"}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def longest_shared_run(question: str, text: str) -> str:
    """The longest stretch of `question` that stands in `text` as written."""
    best = ""
    for i in range(len(question)):
        j = i + len(best) + 1
        while j <= len(question) and question[i:j] in text:
            best, j = question[i:j], j + 1
    return best


def quotes(question: str, text: str) -> str:
    """The stretch of `question` that `text` quotes, or "": for a Chinese question a run of 12 characters, or
    of 8 that is half the question; for an English one, a run of 30 that is a third of it (shorter runs are
    the language's common phrases: "how many", "2022年和")."""
    run = longest_shared_run(question, text)
    if len(_CJK.findall(question)) >= len(re.findall(r"[A-Za-z]", question)):
        long_enough = len(run) >= 12 or len(run) >= 8 and 2 * len(run) >= len(question)
    else:
        long_enough = len(run) >= 30 and 3 * len(run) >= len(question)
    return run if long_enough else ""


def _questions() -> list[str]:
    return [json.loads(line)["question"] for f in SETS if f.is_file()
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def _code() -> list[Path]:
    files = [*sorted((ROOT / "rag").rglob("*.py")), ROOT / "app.py", *sorted((ROOT / "tests").glob("*.py"))]
    return [f for f in files if f.name not in ASKS_AS_A_USER]


@pytest.mark.parametrize(("question", "text", "quoted"), [
    ("2021年全省粮食总产量是多少？", "assert ask('2021年全省粮食总产量是多少？')", "2021年全省粮食总产量是多少？"),
    ("2021年全省粮食总产量是多少？", "('2021年和2022年', ['2021年', '2022年'])", ""),  # a common phrase
    ("Who chaired the provincial meeting on science and technology platforms?",
     "ask('Who chaired the provincial meeting on science and technology platforms?')",
     "Who chaired the provincial meeting on science and technology platforms?"),
    ("Who chaired the provincial meeting on science and technology platforms?", "# how many of them", ""),
])
def test_quotes(question: str, text: str, quoted: str) -> None:
    assert quotes(question, text) == quoted


def test_no_rule_or_test_quotes_an_evaluation_question() -> None:
    questions = _questions()
    if not questions:
        pytest.skip("the evaluation sets are not beside this checkout (../shared)")
    found = [f"{path.relative_to(ROOT)}: {run}" for path in _code() for text in [path.read_text(encoding="utf-8")]
             for q in questions if (run := quotes(q, text))]
    assert found == []
