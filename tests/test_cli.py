"""The `attnwidget` command: readable output, and one-line errors with exit status 2 for bad arguments."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attnwidget import AttentionExtractor, Extraction
from attnwidget.cli import main
from attnwidget.engine.tokens import visible_text
from tests.test_generation import sharp


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


# ---- attnwidget generate --------------------------------------------------------------------------------
# Run in this process (`main`), on a tiny model saved as a folder: a subprocess would spend seconds importing
# torch for each case.
GENERATE_PROMPT = "the cat sat on the mat and the cat"


@pytest.fixture(scope="module")
def causal_folder(tmp_path_factory: pytest.TempPathFactory, bert_tokenizer: Any) -> str:
    """A tiny GPT-2 (128 positions) with peaked next-token distributions, saved as a model folder: what
    `--model FOLDER` loads. Its probabilities are far from uniform, so the printed ones say something."""
    folder = tmp_path_factory.mktemp("tiny-causal")
    sharp("gpt2").save_pretrained(folder)
    bert_tokenizer.save_pretrained(folder)
    return str(folder)


def generation_table(stdout: str) -> list[tuple[str, str, str]]:
    """(token, prob, entropy) as printed, read by the header's columns (a token may hold spaces)."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("step  token"))
    prob_end = lines[header].index(" prob") + len(" prob")
    entropy_end = lines[header].index("entropy") + len("entropy")
    rows = []
    for line in lines[header + 1 :]:
        if not line.strip():
            break
        rows.append((line[6 : prob_end - 8].rstrip(), line[prob_end - 6 : prob_end], line[prob_end + 2 : entropy_end]))
    return rows


def page_state(page: Path) -> dict[str, Any]:
    text = page.read_text(encoding="utf-8")
    match = re.search(r'<script type="application/json" id="attnwidget-state">(.*?)</script>', text, re.S)
    assert match is not None
    return dict(json.loads(match.group(1)))


def check_generate_output(stdout: str, expected: Extraction, page: Path) -> None:
    """What `attnwidget generate` printed and wrote for the same greedy run as `expected`."""
    n = len(expected.generated_tokens)
    assert generation_table(stdout) == [
        (repr(visible_text(token)), f"{prob:6.4f}", f"{max(0.0, entropy):7.3f}")
        for token, prob, entropy in zip(expected.generated_tokens, expected.step_probs, expected.step_entropy)
    ]
    output = [line[10:] for line in stdout.splitlines() if line.startswith(("output", " " * 10))]
    assert " ".join(output).split() == expected.generated_text.split()  # the text, wrapped
    assert f"stop      length: {n} tokens written" in stdout
    assert stdout.rstrip().endswith(f"wrote     {page}")
    # The page holds the generation: its steps, their texts and probabilities, every head's rows.
    state = page_state(page)
    info = state["_generation"]["info"]
    assert (info["steps"], info["prompt_length"], info["recorded"]) == (n, expected.prompt_length, True)
    assert state["_generation"]["tokens"] == [visible_text(token) for token in expected.generated_tokens]
    probs = np.frombuffer(base64.b64decode(state["_generation"]["data"]["$bytes"]), "<f4")[:n]
    np.testing.assert_array_equal(probs, expected.step_probs)
    assert state["_step_rows"]["info"]["count"] == n
    assert state["panel"] == "generation"


def test_generate_prints_the_steps_and_writes_the_page(
    causal_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["generate", GENERATE_PROMPT, "-n", "7", "--model", causal_folder, "--out", str(tmp_path)]) == 0
    done = capsys.readouterr()
    assert "Traceback" not in done.err
    expected = AttentionExtractor(causal_folder).generate(GENERATE_PROMPT, max_new_tokens=7)
    check_generate_output(done.out, expected, tmp_path / "generation.html")
    assert f"prompt    {GENERATE_PROMPT!r} ({expected.prompt_length} tokens)" in done.out
    assert "greedy" in done.out


def test_generate_samples_with_a_seed(causal_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate", GENERATE_PROMPT, "-n", "5", "--sample", "--temperature", "0.7", "--top-k", "20",
            "--top-p", "0.9", "--seed", "3", "--model", causal_folder, "--out", str(tmp_path)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sampling (temperature 0.7, top-k 20, top-p 0.9, seed 3)" in printed
    expected = AttentionExtractor(causal_folder).generate(
        GENERATE_PROMPT, max_new_tokens=5, do_sample=True, temperature=0.7, top_k=20, top_p=0.9, seed=3
    )
    assert [row[:2] for row in generation_table(printed)] == [
        (repr(visible_text(token)), f"{prob:6.4f}")
        for token, prob in zip(expected.generated_tokens, expected.step_probs)
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-n", "0"), "-n/--max-new-tokens must be at least 1, got 0"),
        (("-n", "500"), "-n/--max-new-tokens must be at most 117 (the prompt has 11 tokens and"),
        (("--sample", "--temperature", "0"), "--temperature must be > 0 when sampling, got 0.0"),
        (("--sample", "--temperature", "-1"), "--temperature must be > 0 when sampling, got -1.0"),
        (("--sample", "--top-p", "1.5"), "--top-p must be in (0, 1], got 1.5"),
        (("--sample", "--top-p", "0"), "--top-p must be in (0, 1], got 0.0"),
        (("--sample", "--top-k", "0"), "--top-k must be at least 1, got 0"),
        (("--temperature", "0.7"), "--temperature applies only with --sample"),
        (("--model", "minilm-l6"), "generation needs a causal language model; minilm-l6 (BertModel) is an encoder"),
        (("--prompt-is-empty",), "prompt is empty"),
    ],
)
def test_generate_bad_input_exits_2_and_writes_nothing(
    args: tuple[str, ...], message: str, causal_folder: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    prompt, args = ("  ", ()) if args == ("--prompt-is-empty",) else (GENERATE_PROMPT, args)
    model = () if "--model" in args else ("--model", causal_folder)
    assert main(["generate", prompt, *args, *model, "--out", str(out)]) == 2
    done = capsys.readouterr()
    errors = [line for line in done.err.splitlines() if line.startswith("attnwidget: error: ")]
    assert len(errors) == 1 and message in errors[0], done.err
    assert "Traceback" not in done.err and done.out == ""
    assert not out.exists()


@pytest.mark.slow
def test_generate_on_the_bundled_model(smollm2: AttentionExtractor, tmp_path: Path, capsys: Any) -> None:
    """The demo's command (`make demo` runs it with -n 30), on SmolLM2: the same steps as `generate`."""
    assert main(["generate", "Once upon a time", "-n", "12", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    expected = smollm2.generate("Once upon a time", max_new_tokens=12)
    check_generate_output(printed, expected, tmp_path / "generation.html")
    assert "model     smollm2-135m, greedy" in printed
