"""The `rag` command's own output: progress lines that suit a terminal and a log file alike."""
from __future__ import annotations

import io
import sys

import pytest

from rag.cli import _Bar, build_parser


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(bar: _Bar) -> None:
    for i in range(0, 101, 5):
        bar(f"embedding chunks · 3 files, {i} done", i, 100)
    bar("building search index", 0, 1)
    bar("building search index", 1, 1)


def test_progress_into_a_file_is_one_line_per_stage(monkeypatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    _run(_Bar())
    text = out.getvalue()
    assert "\r" not in text
    assert text.splitlines() == ["embedding chunks: 100/100 3 files, 100 done", "building search index: 1/1"]


def test_progress_on_a_terminal_redraws_one_bar(monkeypatch) -> None:
    out = _Terminal()
    monkeypatch.setattr(sys, "stderr", out)
    _run(_Bar())
    text = out.getvalue()
    assert "\r" in text and "100/100" in text and "1/1" in text


@pytest.mark.parametrize("argv, verbose", [(["ask", "问"], False), (["--verbose", "ask", "问"], True)])
def test_verbose_flag(argv: list[str], verbose: bool) -> None:
    assert build_parser().parse_args(argv).verbose is verbose


def test_eval_without_a_step_switches_it_off(monkeypatch, tmp_path) -> None:
    from rag.cli import _settings
    from rag.errors import InputError

    monkeypatch.chdir(tmp_path)  # no rag.toml here
    args = build_parser().parse_args(["eval", "--suite", "x", "--without", "meaning,second_look"])
    steps = _settings(args).steps.split(",")
    assert "meaning" not in steps and "second_look" not in steps and "kind_check" in steps
    with pytest.raises(InputError, match="unknown answer step"):
        _settings(build_parser().parse_args(["eval", "--suite", "x", "--without", "nope"]))


@pytest.mark.parametrize("curve", ["abc", "0.1,x"])
def test_a_confirm_curve_that_is_not_numbers_is_a_clear_message(monkeypatch, tmp_path, capsys, curve: str) -> None:
    from rag.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--suite", str(tmp_path), "--rescore", "r", "--confirm-curve", curve]) == 2
    assert "--confirm-curve takes numbers" in capsys.readouterr().err


@pytest.mark.parametrize("budgets", ["x", "0", "0,-5"])
def test_prompt_bench_budgets_that_are_not_positive_numbers_are_a_clear_message(monkeypatch, tmp_path, capsys,
                                                                                  budgets: str) -> None:
    from rag.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["bench", "prompt", "--budgets", budgets]) == 2
    assert "give positive token budgets" in capsys.readouterr().err
