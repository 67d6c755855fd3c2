"""The `attnwidget` command: readable output, and one-line errors with exit status 2 for bad arguments."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attnwidget.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_summary_on_the_bundled_encoder() -> None:
    done = run_cli("summary", "attention is all you need", "--model", "minilm-l6", "--top", "3")
    assert done.returncode == 0, done.stderr
    assert "6 layers x 12 heads" in done.stdout
    assert "[CLS] | attention | is | all | you | need | [SEP]" in done.stdout
    assert done.stdout.count(" entropy ") == 3
    assert "next " not in done.stdout  # an encoder predicts no next token


@pytest.mark.slow
def test_summary_on_the_default_model() -> None:
    done = run_cli("summary", "Once upon a time")
    assert done.returncode == 0, done.stderr
    assert "30 layers x 9 heads, 3 KV heads" in done.stdout
    assert "next     ','" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("summary", "  ", "--model", "minilm-l6"), "attnwidget: error: prompt is empty"),
        (("summary", "hi", "--model", "gpt2"), "attnwidget: error: model 'gpt2' is not available offline"),
        (("summary", "hi", "--top", "0"), "attnwidget: error: --top must be at least 1, got 0"),
        (("summary", "hi", "--model", "/no/such/folder"), "attnwidget: error: unknown model"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
