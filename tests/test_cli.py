"""The `attnwidget` command: readable output, and one-line errors with exit status 2 for bad arguments."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


# ---- attnwidget compare ---------------------------------------------------------------------------------
def test_compare_custom_writes_every_file(tmp_path: Path) -> None:
    out = tmp_path / "figures"
    done = run_cli(
        "compare", "--mode", "custom", "--prompt1", "the cat sat", "--prompt2", "a cat was sitting",
        "--model", "minilm-l6", "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "all_heads_custom_1.png", "all_heads_custom_2.png", "attention_custom_1.png", "attention_custom_2.png",
        "interactive_attention.html", "layer_stats.png", "neuron_comparison.png",
    ]  # fmt: skip
    for name in names:
        assert f"  {out / name}" in done.stdout
        assert (out / name).stat().st_size > 5_000
    assert "Traceback" not in done.stderr


def test_compare_interactive_writes_the_page_only(tmp_path: Path) -> None:
    done = run_cli("compare", "--mode", "interactive", "--prompt1", "hello <b>world</b>", "--model", "minilm-l6",
                   "--out", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["interactive_attention.html"]
    page = (tmp_path / "interactive_attention.html").read_text()
    assert "hello &lt;b&gt;world&lt;/b&gt;" in page  # the prompt in the page header is escaped text


@pytest.mark.parametrize("mode", ["simple", "questions", "sentiment"])
def test_compare_each_built_in_mode(mode: str, tmp_path: Path) -> None:
    done = run_cli("compare", "--mode", mode, "--model", "minilm-l6", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    names = {p.name for p in tmp_path.iterdir()}
    expected = {f"attention_{mode}_{n}.png" for n in (1, 2, 3)} | {f"all_heads_{mode}_{n}.png" for n in (1, 2, 3)}
    assert names == expected | {"neuron_comparison.png", "layer_stats.png", "interactive_attention.html"}


@pytest.mark.slow
def test_compare_all_on_the_bundled_model(tmp_path: Path) -> None:
    done = run_cli("compare", "--mode", "all", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    names = {p.name for p in tmp_path.iterdir()}
    for mode in ("simple", "questions", "sentiment"):
        assert {f"attention_{mode}_1.png", f"all_heads_{mode}_3.png", f"neuron_comparison_{mode}.png"} <= names
        assert f"layer_stats_{mode}.png" in names
    assert "interactive_attention.html" in names and len(names) == 25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("compare", "--mode", "custom", "--prompt1", "only one"), "mode custom needs --prompt1 and --prompt2"),
        (("compare", "--mode", "custom", "--prompt1", " ", "--prompt2", "b"), "--prompt1 is empty"),
        (("compare", "--mode", "simple", "--prompt1", "x"), "are for modes custom and interactive, not simple"),
        (("compare", "--mode", "poetry"), "invalid choice: 'poetry'"),
        (("compare", "--mode", "simple", "--model", "distilgpt2"), "'distilgpt2' is not available offline"),
    ],
)
def test_compare_bad_arguments(args: tuple[str, ...], message: str) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_compare_help_lists_modes_and_examples() -> None:
    done = run_cli("compare", "--help")
    assert done.returncode == 0
    for text in ("simple", "questions", "sentiment", "interactive", "custom", "examples:", "neuron_comparison.png"):
        assert text in done.stdout
