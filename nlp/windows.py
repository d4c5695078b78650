"""Split long texts into sentence windows the encoder can take, never cutting a protected span (a gold entity)."""
from __future__ import annotations

import re

SENTENCE_END = re.compile(r"[。！？!?；;…]+[”’」』)）]*|\n+")
CLAUSE_END = re.compile(r"[,，、:：]|\s+")


def _cuts(text: str, pattern: re.Pattern, start: int, end: int) -> list[int]:
    return [m.end() for m in pattern.finditer(text, start, end) if start < m.end() < end]


def _safe(position: int, protected: list[tuple[int, int]]) -> bool:
    return not any(s < position < e for s, e in protected)


def sentence_windows(text: str, max_chars: int, protected: list[tuple[int, int]] = ()) -> list[tuple[int, int]]:
    """Windows ``[start, end)`` covering ``text``, each at most ``max_chars`` long where possible.

    Cuts go at sentence ends first, then clause punctuation or whitespace, then anywhere; a cut never falls
    strictly inside a ``protected`` span (a window may exceed ``max_chars`` only to honour that).
    """
    protected = sorted(protected)
    boundaries = [c for c in _cuts(text, SENTENCE_END, 0, len(text)) if _safe(c, protected)]
    sentences = list(zip([0] + boundaries, boundaries + [len(text)]))
    pieces: list[tuple[int, int]] = []
    for start, end in sentences:
        while end - start > max_chars:
            candidates = [c for c in _cuts(text, CLAUSE_END, start, start + max_chars + 1) if _safe(c, protected)]
            if not candidates:
                candidates = [c for c in range(start + max_chars, start, -1) if _safe(c, protected)]
            if not candidates:  # a protected span longer than the window: take it whole
                candidates = [next(e for s, e in protected if s < start + max_chars < e)]
            cut = max(candidates)
            pieces.append((start, cut))
            start = cut
        pieces.append((start, end))
    windows: list[tuple[int, int]] = []
    for start, end in pieces:
        if windows and end - windows[-1][0] <= max_chars:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return [(s, e) for s, e in windows if text[s:e].strip()]


def is_soft_cut(text: str, position: int) -> bool:
    """Whether a window edge at ``position`` falls where no name runs across: the text's ends, after sentence or
    clause punctuation, or at whitespace."""
    if position <= 0 or position >= len(text):
        return True
    return bool(SENTENCE_END.match(text, position - 1) or CLAUSE_END.match(text, position - 1)
                or text[position].isspace())


def context_windows(text: str, max_chars: int, context: int) -> list[tuple[int, int, int, int]]:
    """Inference windows ``(start, end, core_start, core_end)``: :func:`sentence_windows` as cores, each widened
    by up to ``context`` characters on a side where its edge is a hard cut (a long run with no punctuation cut at
    a fixed width), so a name across the cut is seen whole. A span belongs to the window whose core holds its
    first character."""
    result = []
    for core_start, core_end in sentence_windows(text, max_chars):
        start = core_start if is_soft_cut(text, core_start) else max(0, core_start - context)
        end = core_end if is_soft_cut(text, core_end) else min(len(text), core_end + context)
        result.append((start, end, core_start, core_end))
    return result
