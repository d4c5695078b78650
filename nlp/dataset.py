"""Training examples: gold documents -> cleaned sentence windows with character spans -> piece features."""
from __future__ import annotations

from dataclasses import dataclass, field

from nlp.annotations import Document
from nlp.pieces import encode_texts, piece_labels
from nlp.text import clean, span_to_clean
from nlp.windows import sentence_windows


@dataclass
class Example:
    """A cleaned window of text with gold spans ``(start, end, label)`` relative to it."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    source: str = ""
    """Document id, with the augmentation that made it (``doc.txt``, ``doc.txt+opencc``)."""


def document_examples(doc: Document, window_chars: int, labels=None) -> list[Example]:
    """Clean the document, map its gold spans into the clean text and split it into windows."""
    text, offsets = clean(doc.text)
    spans = []
    for start, end, label in doc.entities:
        if labels is not None and label not in labels:
            continue
        mapped = span_to_clean(offsets, start, end)
        if mapped:
            spans.append((mapped[0], mapped[1], label))
    examples = []
    for w_start, w_end in sentence_windows(text, window_chars, [(s, e) for s, e, _ in spans]):
        inside = [(s - w_start, e - w_start, l) for s, e, l in spans if w_start <= s and e <= w_end]
        examples.append(Example(text[w_start:w_end], inside, doc.id))
    return examples


def featurize(examples: list[Example], tokenizer, label2id: dict[str, int]) -> list[dict]:
    """Token ids and per-piece label ids for each example."""
    encodings = encode_texts(tokenizer, [ex.text for ex in examples])
    return [
        {"input_ids": enc.input_ids, "labels": piece_labels(enc, ex.spans, label2id)}
        for ex, enc in zip(examples, encodings)
    ]


def misalignment_report(examples: list[Example], tokenizer) -> dict:
    """How many gold spans start or end strictly inside one of the encoder's pieces."""
    from nlp.pieces import boundary_misalignment

    total = mid_start = mid_end = 0
    for ex, enc in zip(examples, encode_texts(tokenizer, [ex.text for ex in examples])):
        starts, ends = boundary_misalignment(enc, ex.spans)
        total += len(ex.spans)
        mid_start += starts
        mid_end += ends
    return {"spans": total, "start_inside_piece": mid_start, "end_inside_piece": mid_end}
