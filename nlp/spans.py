"""Character spans and their per-character BIO tags (used by the model's decoding, the gold data and the metrics)."""
from __future__ import annotations


def char_bio(length: int, spans) -> list[str]:
    """IOB2 tag per character for non-overlapping ``(start, end, label, ...)`` spans."""
    tags = ["O"] * length
    for start, end, label, *_ in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags
