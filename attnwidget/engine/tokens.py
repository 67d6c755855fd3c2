"""Token strings a person can read: the prompt's own text for each token, not `Ġcat` or `▁cat`.

Byte-level tokenizers (GPT-2, SmolLM2, Llama 3, ... and SentencePiece's byte fallback) may split one
character over several tokens: an emoji is four bytes, a CJK character three. Such a token holds bytes, not
text. Each token then shows what it really holds: the whole character once, on the token that completes it,
and the other pieces as their bytes in brackets (``⟨f0 9f⟩``), with a note saying which character they
belong to (`TokenTexts.notes`, shown on hover).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# Characters that would break a one-line label, shown as visible stand-ins: the same in every view,
# figure and page (the views receive text already made visible).
_VISIBLE = str.maketrans({"\n": "↵", "\r": "␍", "\t": "⇥"})
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
# Unicode categories that draw nothing on their own: format (zero-width joiner), controls, separators,
# combining marks.
_INVISIBLE = frozenset({"Cf", "Cc", "Zl", "Zp", "Zs", "Mn", "Me"})


def visible_text(text: str) -> str:
    """A token's text as one readable label: line breaks and tabs as symbols (↵ ␍ ⇥), a token of spaces
    only as ␣ (one per space), an empty one as ∅, one of invisible characters only (a zero-width joiner) as
    their code points (``⟨U+200D⟩``). Leading and inner spaces stay as they are."""
    if not text:
        return "∅"
    shown = text.replace("\r\n", "\n").translate(_VISIBLE)
    if shown.strip(" ") == "":
        return "␣" * len(shown)
    if all(unicodedata.category(char) in _INVISIBLE for char in shown):
        return "⟨" + " ".join(f"U+{ord(char):04X}" for char in shown) + "⟩"
    return shown


def byte_label(data: bytes) -> str:
    """Bytes of a piece of a character, as shown in place of text: ``⟨f0 9f⟩``."""
    return "⟨" + " ".join(f"{b:02x}" for b in data) + "⟩"


@dataclass
class TokenTexts:
    """What each token shows (`display`) and, for tokens that hold part of a character, a note naming it."""

    display: list[str]
    notes: dict[int, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level alphabet, inverted: the character a byte is written as → the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def token_bytes(tokenizer: Any, token_id: int) -> bytes | None:
    """The bytes a token stands for, where the tokenizer writes tokens as bytes: byte-level BPE (each
    character of the token string is one byte) or SentencePiece's byte fallback (``<0xF0>``); None otherwise
    (WordPiece, special tokens)."""
    if token_id in getattr(tokenizer, "all_special_ids", []):
        return None
    piece = tokenizer.convert_ids_to_tokens(int(token_id))
    if not isinstance(piece, str) or not piece:
        return None
    fallback = _BYTE_FALLBACK.match(piece)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    alphabet = _byte_level_alphabet()
    if _is_byte_level(tokenizer) and all(char in alphabet for char in piece):
        return bytes(alphabet[char] for char in piece)
    if "▁" in piece or piece.isprintable():
        return piece.replace("▁", " ").encode("utf-8")
    return None


def _is_byte_level(tokenizer: Any) -> bool:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = getattr(backend, "decoder", None)
    return "ByteLevel" in type(decoder).__name__ or "ByteLevel" in repr(decoder)


def _split_groups(offsets: list[tuple[int, int]]) -> list[list[int]]:
    """Runs of consecutive tokens whose character spans overlap: the pieces of characters split over
    several tokens (a fast tokenizer gives each piece the span of the whole character)."""
    groups: list[list[int]] = []
    current: list[int] = []
    end = -1
    for index, (start, stop) in enumerate(offsets):
        if current and stop > start and start < end:
            current.append(index)
        else:
            if len(current) > 1:
                groups.append(current)
            current = [index]
        end = max(end, stop) if len(current) > 1 else stop
    if len(current) > 1:
        groups.append(current)
    return groups


class Utf8Pieces:
    """Decodes the bytes of tokens that come one after another: what each token shows, and notes for the
    tokens that hold part of a character (`notes`, by token index). A token that completes a character shows
    it whole; the pieces before it show their bytes (``⟨f0 9f⟩``) after any text they complete."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._waiting: list[int] = []  # tokens whose bytes wait for the rest of their character
        self.notes: dict[int, str] = {}

    def add(self, index: int, data: bytes) -> str:
        """What token `index`, holding `data`, shows. Raises UnicodeDecodeError for bytes that are not UTF-8."""
        text = self._decoder.decode(data)
        pending = self._decoder.getstate()[0]
        own = pending[-min(len(data), len(pending)) :] if pending else b""
        if text and self._waiting:
            char = text[0]
            name = f"“{char}” (U+{ord(char):04X})"
            for earlier in self._waiting:
                self.notes[earlier] = f"part of {name}, completed by #{index}"
            self.notes[index] = f"completes {name}, begun in #{self._waiting[0]}"
            self._waiting = []
        if own:
            # Text before the pieces keeps its spaces as they are (" ⟨f0 9f⟩"), line breaks as symbols.
            self._waiting.append(index)
            return text.translate(_VISIBLE) + byte_label(own)
        return visible_text(text)

    def finish(self) -> None:
        """Raise UnicodeDecodeError if the last tokens left a character unfinished."""
        self._decoder.decode(b"", final=True)

    def restart(self) -> None:
        """Forget unfinished bytes (after a token that is not bytes, they can no longer be completed)."""
        self._decoder.reset()
        self._waiting = []


def _decode_pieces(pieces: list[bytes], indices: list[int]) -> tuple[list[str], dict[int, str]] | None:
    """Byte pieces (of the tokens `indices`) → what each shows, and notes for the tokens that hold part of a
    character, by token index; None when the bytes are not UTF-8."""
    decoder = Utf8Pieces()
    try:
        shown = [decoder.add(index, data) for index, data in zip(indices, pieces)]
        decoder.finish()
    except UnicodeDecodeError:
        return None
    return shown, decoder.notes


def _own_text(tokenizer: Any, token_id: int) -> str:
    """A token's text decoded on its own: a special token as written (``</s>``), others decoded; a token that
    decodes to nothing or to a replacement character shows the tokenizer's string for it."""
    special = token_id in getattr(tokenizer, "all_special_ids", [])
    text = tokenizer.convert_ids_to_tokens(token_id) if special else tokenizer.decode([token_id])
    if not text or text == "\ufffd":
        text = tokenizer.convert_ids_to_tokens(token_id)
    return str(text)


class TokenTextStream:
    """Display texts of tokens that arrive one at a time (what a model writes), made the way `display_tokens`
    makes them for a prompt: each token's own bytes decoded, a character split over several tokens shown once
    on the token that completes it and its other pieces as ``⟨bytes⟩`` (with `notes`); a token that is not
    bytes (a special token, a WordPiece) decoded on its own. Once returned, a token's text never changes (a
    later token only adds notes), so a view can show each one as it comes."""

    def __init__(self, tokenizer: Any, start: int) -> None:
        self._tokenizer = tokenizer
        self._next = start  # the index of the next token in the whole sequence (notes name indices)
        self._pieces = Utf8Pieces()

    @property
    def notes(self) -> dict[int, str]:
        return self._pieces.notes

    def add(self, token_id: int) -> str:
        index, self._next = self._next, self._next + 1
        data = token_bytes(self._tokenizer, token_id)
        if data is None:
            self._pieces.restart()
            return visible_text(_own_text(self._tokenizer, token_id))
        try:
            return self._pieces.add(index, data)
        except UnicodeDecodeError:  # not UTF-8 (a stray continuation byte): show the bytes, start afresh
            self._pieces.restart()
            return byte_label(data)


def display_tokens(
    tokenizer: Any, prompt: str, input_ids: list[int], offsets: list[tuple[int, int]] | None
) -> TokenTexts:
    """One readable string per token, and notes for tokens that hold part of a character.

    With character offsets (fast tokenizers) each token shows the slice of the prompt it covers, so
    leading spaces and Unicode come out exactly as typed. Tokens that split characters between them (their
    spans overlap) show their bytes, decoded: the whole character on the token that completes it, the other
    pieces as ``⟨bytes⟩``. A token that covers no text (a special token) shows its decoded form.
    """
    texts: list[str] = []
    previous_span: tuple[int, int] | None = None
    for index, token_id in enumerate(input_ids):
        span = offsets[index] if offsets is not None else None
        if span is not None and span[1] > span[0] and span != previous_span:
            text = prompt[span[0] : span[1]]
        else:
            text = _own_text(tokenizer, token_id)
        previous_span = span
        texts.append(visible_text(text))
    result = TokenTexts(texts)
    for group in _split_groups(list(offsets or [])):
        pieces = [token_bytes(tokenizer, input_ids[i]) for i in group]
        if any(piece is None for piece in pieces):
            continue
        decoded = _decode_pieces(pieces, group)  # type: ignore[arg-type]
        if decoded is None:
            continue
        shown, notes = decoded
        for position, index in enumerate(group):
            result.display[index] = shown[position]
        result.notes.update(notes)
    return result
