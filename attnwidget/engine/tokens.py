"""Token strings a person can read: the prompt's own text for each token, not `Ġcat` or `▁cat`."""

from __future__ import annotations

from typing import Any

# Characters that would break a one-line label, shown as visible stand-ins: the same in every view,
# figure and page (the views receive text already made visible).
_VISIBLE = str.maketrans({"\n": "↵", "\r": "␍", "\t": "⇥"})


def visible_text(text: str) -> str:
    """A token's text as one readable label: line breaks and tabs as symbols (↵ ␍ ⇥), a token of spaces
    only as ␣ (one per space), an empty one as ∅. Leading and inner spaces stay as they are."""
    if not text:
        return "∅"
    shown = text.replace("\r\n", "\n").translate(_VISIBLE)
    return "␣" * len(shown) if shown.strip(" ") == "" else shown


def display_tokens(
    tokenizer: Any, prompt: str, input_ids: list[int], offsets: list[tuple[int, int]] | None
) -> list[str]:
    """One readable string per token.

    With character offsets (fast tokenizers) each token shows the slice of the prompt it covers, so
    leading spaces and Unicode come out exactly as typed. A token that covers no new text (a special
    token, or the second half of a character split across byte-level tokens) falls back to its decoded form.
    """
    texts: list[str] = []
    previous_span: tuple[int, int] | None = None
    for index, token_id in enumerate(input_ids):
        span = offsets[index] if offsets is not None else None
        if span is not None and span[1] > span[0] and span != previous_span:
            text = prompt[span[0] : span[1]]
        else:
            special = token_id in getattr(tokenizer, "all_special_ids", [])
            text = tokenizer.convert_ids_to_tokens(token_id) if special else tokenizer.decode([token_id])
            if not text or text == "\ufffd":
                text = tokenizer.convert_ids_to_tokens(token_id)
        previous_span = span
        texts.append(visible_text(text))
    return texts
