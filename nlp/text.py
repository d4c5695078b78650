"""Text cleaning with an exact offset map back to the caller's original string.

``clean(raw)`` removes what hurts the model (inline pinyin glosses left by scrapers, zero-width and control
characters) and folds full-width ASCII and odd spaces to their plain forms. It only ever deletes characters or
replaces one character by one character, so every clean character has exactly one source position:
``offsets[i]`` is the index in ``raw`` of clean character ``i`` and offsets are strictly increasing.

Span mapping:
- ``span_to_raw(offsets, s, e)`` maps a clean span to the raw span from the source of its first character to the
  source of its last character (noise in between kept): ``raw[S]`` and ``raw[E-1]`` are the sources of
  ``text[s]`` and ``text[e-1]``.
- ``span_to_clean(offsets, S, E)`` maps a raw span to the clean characters whose sources lie inside it.

``convert(text, config)`` runs OpenCC (simplified <-> traditional) and returns an offset map of the same kind,
also when a phrase conversion changes the length (``内存`` -> ``記憶體`` under ``s2twp``).
"""
from __future__ import annotations

import bisect
import difflib
import functools
import re
import unicodedata
from typing import NamedTuple

from nlp.lang import converter, is_hanzi  # noqa: F401 (is_hanzi re-exported)

# Lowercase Latin letters as they appear in pinyin, tone-marked vowels included.
_PINYIN_LETTERS = "a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêńňǹḿ"
_PINYIN_SYLLABLE = re.compile(
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"  # optional initial
    r"[aeiouüvāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜê]+"  # vowel nucleus
    r"(?:ng|n|r)?[1-5]?"  # optional final consonant / tone digit
)
# A gloss: "(" + one to four pinyin syllables + ")", ASCII or full-width parentheses.
_GLOSS = re.compile(rf"[(（]([{_PINYIN_LETTERS}1-5]{{1,7}}(?: [{_PINYIN_LETTERS}1-5]{{1,7}}){{0,3}})[)）]")
_TONE_MARKS = set("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ")

_ZERO_WIDTH = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}
_KEEP_CONTROLS = {"\n", "\t"}


class CleanText(NamedTuple):
    """Result of :func:`clean`: the cleaned text and, per clean character, its index in the raw string."""

    text: str
    offsets: list[int]


def _is_pinyin(gloss: str) -> bool:
    return all(_PINYIN_SYLLABLE.fullmatch(syllable) for syllable in gloss.split(" "))


def find_pinyin_glosses(raw: str) -> list[tuple[int, int]]:
    """Spans ``[start, end)`` of inline pinyin glosses such as ``(zhì)`` in ``質(zhì)量``.

    A gloss follows a hanzi directly; after any other non-space character it must carry a tone mark, so that
    English like ``item(s)`` or real parentheses such as ``(2009—2011年)`` and ``( 来源:信网)`` are never touched.
    """
    spans = []
    for match in _GLOSS.finditer(raw):
        start = match.start()
        if start == 0 or not _is_pinyin(match.group(1)):
            continue
        before = raw[start - 1]
        toned = not _TONE_MARKS.isdisjoint(match.group(1))
        if is_hanzi(before) or (toned and not before.isspace()):
            spans.append((start, match.end()))
    return spans


@functools.lru_cache(maxsize=4096)
def fold_char(char: str) -> str:
    """One-to-one normalisation of a single character ('' to delete it)."""
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII -> ASCII
        return chr(code - 0xFEE0)
    if char in _ZERO_WIDTH:
        return ""
    if char in _KEEP_CONTROLS:
        return char
    category = unicodedata.category(char)
    if category == "Zs" or char in "\r\x0b\x0c\u2028\u2029":  # odd spaces (NBSP, U+3000, ...) -> ' '
        return " " if char not in "\u2028\u2029" else "\n"
    if category in ("Cc", "Cs"):  # control characters, and lone surrogates (no character at all): a space
        return " "
    return char


def clean(raw: str) -> CleanText:
    """Clean ``raw`` for the model; ``offsets[i]`` is the index in ``raw`` of clean character ``i``."""
    if not isinstance(raw, str):
        raise TypeError(f"clean() expects str, got {type(raw).__name__}")
    removed = find_pinyin_glosses(raw)
    chars: list[str] = []
    offsets: list[int] = []
    gloss_index = 0
    i = 0
    while i < len(raw):
        if gloss_index < len(removed) and i == removed[gloss_index][0]:
            i = removed[gloss_index][1]
            gloss_index += 1
            continue
        folded = fold_char(raw[i])
        if folded:
            chars.append(folded)
            offsets.append(i)
        i += 1
    return CleanText("".join(chars), offsets)


def span_to_raw(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """Map clean span ``[start, end)`` to the raw span from its first to its last character's source."""
    if not 0 <= start < end <= len(offsets):
        raise ValueError(f"span [{start}, {end}) out of range for a text of {len(offsets)} characters")
    return offsets[start], offsets[end - 1] + 1


def span_to_clean(offsets: list[int], start: int, end: int) -> tuple[int, int] | None:
    """Map raw span ``[start, end)`` to the clean characters whose sources lie inside it (None if none do)."""
    clean_start = bisect.bisect_left(offsets, start)
    clean_end = bisect.bisect_left(offsets, end)
    if clean_start >= clean_end:
        return None
    return clean_start, clean_end


def convert(text: str, config: str = "t2s") -> CleanText:
    """OpenCC conversion (``t2s``, ``s2t``, ``s2twp``, ...) with an offset map into ``text``.

    Where a phrase changes length, each output character maps proportionally into the source phrase, so that
    the first and last characters of any converted span still map inside ``text``.
    """
    converted = converter(config).convert(text)
    if len(converted) == len(text):
        return CleanText(converted, list(range(len(text))))
    offsets: list[int] = []
    matcher = difflib.SequenceMatcher(None, text, converted, autojunk=False)
    for _tag, a0, a1, b0, b1 in matcher.get_opcodes():
        source_len, target_len = a1 - a0, b1 - b0
        for j in range(target_len):
            offsets.append(a0 + (j * source_len) // target_len if source_len else min(a0, len(text) - 1))
    return CleanText(converted, offsets)


def to_simplified(text: str) -> str:
    """Simplified-Chinese form of ``text`` (OpenCC t2s)."""
    return converter("t2s").convert(text)
