"""Character spans ``(start, end, label, ...)``: per-character BIO tags, overlap tests, dropping overlaps. Used by the
model's decoding, the span rules, the gold data and the metrics."""
from __future__ import annotations


def char_bio(length: int, spans) -> list[str]:
    """IOB2 tag per character for non-overlapping ``(start, end, label, ...)`` spans."""
    tags = ["O"] * length
    for start, end, label, *_ in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def overlaps(start: int, end: int, spans) -> bool:
    """True if ``[start, end)`` shares a character with any of ``spans``."""
    return any(s < end and start < e for s, e, *_ in spans)


def drop_overlaps(spans: list) -> list:
    """Spans sorted by start, each overlapping one after the first (at equal starts: the longest) dropped."""
    kept: list = []
    for span in sorted(spans, key=lambda sp: (sp[0], sp[0] - sp[1])):
        if not kept or span[0] >= kept[-1][1]:
            kept.append(span)
    return kept
