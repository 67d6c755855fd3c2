"""What each token shows: the prompt's own text, visible whitespace, and characters that byte-level tokenizers
split over several tokens shown once (on the token that completes them) with the other pieces as bytes."""

from __future__ import annotations

from typing import Any

import pytest

from attnwidget import AttentionExtractor, AttentionWidget
from attnwidget.engine.tokens import byte_label, display_tokens, token_bytes, visible_text
from attnwidget.output.figures import AttentionVisualizer


def test_visible_text_one_glyph_each() -> None:
    assert visible_text("a\nb") == "a↵b" and visible_text("\r\n") == "↵" and visible_text("\t") == "⇥"
    assert visible_text("") == "∅" and visible_text("  ") == "␣␣" and visible_text(" the") == " the"
    assert visible_text("\u200d") == "⟨U+200D⟩" and visible_text("\u0301") == "⟨U+0301⟩"
    assert visible_text("<b>x</b>") == "<b>x</b>", "escaping is the views' job (textContent)"
    assert byte_label(b"\xf0\x9f") == "⟨f0 9f⟩"


@pytest.fixture(scope="module")
def smollm2_tokenizer(smollm2: AttentionExtractor) -> Any:
    return smollm2.tokenizer


def texts(tokenizer: Any, prompt: str) -> Any:
    encoded = tokenizer(prompt, return_offsets_mapping=True)
    return display_tokens(tokenizer, prompt, encoded["input_ids"], [tuple(s) for s in encoded["offset_mapping"]])


@pytest.mark.slow
def test_a_split_character_shows_once_and_its_pieces_as_bytes(smollm2_tokenizer: Any) -> None:
    # SmolLM2's byte-level BPE writes "Hello 🌍 世界" as 10 tokens, splitting 🌍 (4 bytes) over three and each
    # CJK character (3 bytes) over two or three. Before: ' 🌍', '🌍', 'į', ' ', '世', 'ĸ', '界', 'ķ', 'Į'.
    result = texts(smollm2_tokenizer, "Hello 🌍 世界")
    assert result.display == ["Hello", " ⟨f0 9f⟩", "⟨8c⟩", "🌍", "␣", "⟨e4 b8⟩", "世", "⟨e7⟩", "⟨95⟩", "界"]
    assert "".join(result.display).count("🌍") == 1 and "".join(result.display).count("世") == 1
    assert result.notes[1] == "part of “🌍” (U+1F30D), completed by #3"
    assert result.notes[2] == "part of “🌍” (U+1F30D), completed by #3"
    assert result.notes[3] == "completes “🌍” (U+1F30D), begun in #1"
    assert set(result.notes) == {1, 2, 3, 5, 6, 7, 8, 9}
    # Every piece's bytes, together, are exactly the prompt's UTF-8.
    ids = smollm2_tokenizer("Hello 🌍 世界")["input_ids"]
    assert b"".join(token_bytes(smollm2_tokenizer, i) or b"" for i in ids) == "Hello 🌍 世界".encode()


@pytest.mark.slow
def test_joiners_and_combining_marks_are_visible(smollm2_tokenizer: Any) -> None:
    result = texts(smollm2_tokenizer, "naïve café 👩\u200d🚀!")
    assert result.display[:3] == ["na", "ïve", " café"], "whole characters stay the prompt's own text"
    assert result.display[3:] == [" ⟨f0 9f⟩", "⟨91⟩", "👩", "⟨e2 80⟩", "⟨U+200D⟩", "⟨f0 9f⟩", "⟨9a⟩", "🚀", "!"]
    assert texts(smollm2_tokenizer, "a\tb\nc  d").display == ["a", "⇥", "b", "↵", "c", "␣", " d"]


@pytest.mark.slow
def test_the_same_text_in_the_widget_figures_and_export(smollm2: AttentionExtractor, tmp_path: Any) -> None:
    from attnwidget import export_html

    result = smollm2.extract_activations("Hello 🌍 世界")
    assert result.display_tokens[1:4] == [" ⟨f0 9f⟩", "⟨8c⟩", "🌍"]
    assert result.token_notes[3] == "completes “🌍” (U+1F30D), begun in #1"
    w = AttentionWidget(result)
    assert w._tokens == result.display_tokens
    assert w._info["token_notes"]["1"] == "part of “🌍” (U+1F30D), completed by #3"
    page = export_html(w, tmp_path / "page.html").read_text(encoding="utf-8")
    assert "⟨8c⟩" in page and "completed by #3" in page
    figure = AttentionVisualizer().plot_attention_heatmap(result.attention(0), result.display_tokens, 0, 0)
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels[1:4] == [" ⟨f0 9f⟩", "⟨8c⟩", "🌍"]


def test_wordpiece_tokens_have_no_notes(bert_tokenizer: Any) -> None:
    result = texts(bert_tokenizer, "Hello 🌍 world")
    assert (result.notes == {} and "🌍" in result.display) or "[UNK]" in result.display
