"""The encoder's pieces with character offsets, BIO labels per piece, and decoding back to exact character spans.

The model keeps the encoder's own sentencepiece tokenisation (pieces such as 人民, 医院 span several characters).
Each *content* piece owns a character range of the text; a lone ``▁`` and whitespace-only pieces own none and
are ignored in training and decoding. A piece is tagged ``B-X`` when an entity starts inside it, ``I-X`` when
it lies inside an entity that started earlier, ``O`` otherwise. Decoding joins tagged pieces into spans and
trims characters that can never be an entity edge (whitespace, enclosing punctuation).
"""
from __future__ import annotations

import unicodedata

from dataclasses import dataclass

from nlp.lang import ENCLOSING
from nlp.schema import bio_labels

IGNORE_INDEX = -100


@dataclass
class PieceEncoding:
    """Token ids of one text and, per token, the character range it owns (``None`` for special/empty pieces)."""

    input_ids: list[int]
    char_spans: list[tuple[int, int] | None]


def _owned_ranges(text: str, tokens: list[str], offsets: list[tuple[int, int]]) -> list[tuple[int, int] | None]:
    spans: list[tuple[int, int] | None] = []
    covered = 0
    for token, (start, end) in zip(tokens, offsets):
        if token == "▁" or start >= end:
            spans.append(None)
            continue
        start = max(start, covered)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            spans.append(None)
            continue
        spans.append((start, end))
        covered = end
    return spans


def isolate_characters(tokenizer, chars: str) -> None:
    """Make the fast tokenizer always emit each of ``chars`` as a piece of its own (saved with the tokenizer).

    Sentencepiece merges ``%`` and ``元`` with their neighbours (``5%``, ``%,``, ``元的``), so the character that
    decides between MONEY and RATIO has no piece of its own and value boundaries fall inside pieces.
    """
    import re

    from tokenizers import Regex, pre_tokenizers

    if not chars:
        return
    backend = tokenizer.backend_tokenizer
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(f"[{re.escape(chars)}]"), "isolated"),
        # "first": only the text's first piece gets the ▁ prefix, not each isolated character
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True),
    ])


def encode_texts(tokenizer, texts: list[str], max_length: int = 512) -> list[PieceEncoding]:
    """Tokenise texts with special tokens; truncation past ``max_length`` pieces is an error (windows first).

    ``tokenizer`` is a ``tokenizers.Tokenizer`` or a transformers fast tokenizer (its backend is used).
    """
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if backend.truncation or backend.padding:  # a transformers call may have left these set on the backend
        backend.no_truncation()
        backend.no_padding()
    encodings = []
    for text, encoding in zip(texts, backend.encode_batch(texts, add_special_tokens=True)):
        ids, tokens, offsets = encoding.ids, encoding.tokens, encoding.offsets
        if len(ids) > max_length:
            raise ValueError(f"text of {len(text)} characters gives {len(ids)} pieces (> {max_length})")
        # added special tokens (<s>, </s>) come with empty offsets; <unk> keeps its characters
        encodings.append(PieceEncoding(list(ids), _owned_ranges(text, tokens, offsets)))
    return encodings


def piece_labels(encoding: PieceEncoding, spans: list[tuple[int, int, str]], label2id: dict[str, int]) -> list[int]:
    """Label id per piece for gold character spans (``IGNORE_INDEX`` for pieces that own no characters)."""
    from nlp.spans import char_bio

    length = max((span[1] for span in encoding.char_spans if span), default=0)
    char_tag = char_bio(max(length, max((e for _, e, _ in spans), default=0)), spans)
    labels = []
    for owned in encoding.char_spans:
        if owned is None:
            labels.append(IGNORE_INDEX)
            continue
        tags = char_tag[owned[0]:owned[1]]
        begin = next((t for t in tags if t.startswith("B-")), None)
        # a piece continuing an entity keeps I- even if another starts inside it (the rarer error)
        labels.append(label2id[begin if begin and not tags[0].startswith("I-") else tags[0]])
    return labels


def boundary_misalignment(encoding: PieceEncoding, spans: list[tuple[int, int, str]]) -> tuple[int, int]:
    """(entity starts inside a piece, entity ends inside a piece) for gold spans: what piece labels cannot express."""
    starts = {s for span in encoding.char_spans if span for s in range(span[0] + 1, span[1])}
    mid_start = sum(1 for s, _, _ in spans if s in starts)
    mid_end = sum(1 for _, e, _ in spans if e in starts)
    return mid_start, mid_end


def _edge_junk(char: str) -> bool:
    """Whitespace, enclosing punctuation, and symbols that never begin or end a mention: emoji and other
    pictographs (category So), modifier symbols (Sk), variation selectors. Currency signs (Sc) stay."""
    return (char.isspace() or char in ENCLOSING or unicodedata.category(char) in ("So", "Sk")
            or "\ufe00" <= char <= "\ufe0f")


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink a span past whitespace, enclosing punctuation and emoji-like symbols at its edges."""
    while start < end and _edge_junk(text[start]):
        start += 1
    while end > start and _edge_junk(text[end - 1]):
        end -= 1
    return start, end


def decode(text: str, encoding: PieceEncoding, tag_ids: list[int], scores: list[float],
           id2label: dict[int, str]) -> list[tuple[int, int, str, float]]:
    """Character spans ``(start, end, label, score)`` from per-piece tag ids and their probabilities.

    ``I-X`` after a piece of another label starts a new span (lenient BIO repair); the score of a span is the
    mean probability of its pieces' tags.
    """
    spans = []
    current = None  # [start, end, label, [scores]]
    for owned, tag_id, score in zip(encoding.char_spans, tag_ids, scores):
        if owned is None:
            continue
        tag = id2label[int(tag_id)]
        prefix, _, label = tag.partition("-")
        if current and prefix == "I" and label == current[2]:
            current[1] = owned[1]
            current[3].append(score)
            continue
        if current:
            spans.append(current)
            current = None
        if prefix in ("B", "I"):
            current = [owned[0], owned[1], label, [score]]
    if current:
        spans.append(current)
    result = []
    for start, end, label, piece_scores in spans:
        start, end = trim_span(text, start, end)
        if start < end:
            result.append((start, end, label, float(sum(piece_scores) / len(piece_scores))))
    return result


def decode_marginal(text: str, encoding: PieceEncoding, probs, id2label: dict[int, str]
                    ) -> list[tuple[int, int, str, float]]:
    """Character spans from per-piece tag probabilities, deciding in three marginal steps:

    a piece is inside an entity when ``P(O) < 0.5`` (the mass of all B-/I- tags together wins); it starts a new
    span when its ``B-*`` mass exceeds its ``I-*`` mass; a span's label is the label with the most ``B-X + I-X``
    mass summed over its pieces, and its score that mass per piece. With little training data the mass is often
    split between B/I and between MONEY/RATIO, where a per-piece argmax would break spans apart or drop them.
    """
    outside = next(i for i, tag in id2label.items() if tag == "O")
    labels = sorted({tag[2:] for tag in id2label.values() if tag != "O"})
    begin = {label: next(i for i, t in id2label.items() if t == f"B-{label}") for label in labels}
    inside = {label: next(i for i, t in id2label.items() if t == f"I-{label}") for label in labels}
    spans = []
    current = None  # [start, end, {label: mass}, pieces]
    for owned, row in zip(encoding.char_spans, probs):
        if owned is None:
            continue
        if row[outside] >= 0.5:
            if current:
                spans.append(current)
                current = None
            continue
        b_mass = sum(row[i] for i in begin.values())
        i_mass = sum(row[i] for i in inside.values())
        if current is None or b_mass > i_mass:
            if current:
                spans.append(current)
            current = [owned[0], owned[1], dict.fromkeys(labels, 0.0), 0]
        current[1] = owned[1]
        for label in labels:
            current[2][label] += row[begin[label]] + row[inside[label]]
        current[3] += 1
    if current:
        spans.append(current)
    result = []
    for start, end, mass, pieces in spans:
        label = max(mass, key=mass.get)
        start, end = trim_span(text, start, end)
        if start < end:
            result.append((start, end, label, float(mass[label] / pieces)))
    return result


def viterbi_tags(probs, id2label: dict[int, str]) -> list[int]:
    """The most probable tag sequence under BIO constraints (``I-X`` only after ``B-X`` or ``I-X``), from
    per-piece tag probabilities: a structured decoding with hard transition constraints, no learnt weights."""
    import math

    tags = sorted(id2label)
    allowed = {}
    for prev in tags:
        p_prefix, _, p_label = id2label[prev].partition("-")
        allowed[prev] = [t for t in tags if not (id2label[t].startswith("I-") and
                                                 (p_prefix == "O" or p_label != id2label[t][2:]))]
    start_ok = [t for t in tags if not id2label[t].startswith("I-")]
    log = [[math.log(max(row[t], 1e-12)) for t in tags] for row in probs]
    if not log:
        return []
    score = {t: (log[0][t] if t in start_ok else -math.inf) for t in tags}
    back = []
    for row in log[1:]:
        new, pointers = {}, {}
        for t in tags:
            best_prev, best = None, -math.inf
            for prev in tags:
                if t in allowed[prev] and score[prev] > best:
                    best_prev, best = prev, score[prev]
            new[t], pointers[t] = best + row[t], best_prev
        score = new
        back.append(pointers)
    last = max(score, key=score.get)
    path = [last]
    for pointers in reversed(back):
        path.append(pointers[path[-1]])
    return path[::-1]


def decode_viterbi(text: str, encoding: PieceEncoding, probs, id2label: dict[int, str]
                   ) -> list[tuple[int, int, str, float]]:
    """Character spans from the BIO-constrained best path (:func:`viterbi_tags`) over the pieces that own
    characters; a span's score is the mean probability of its pieces' tags."""
    owned = [i for i, span in enumerate(encoding.char_spans) if span is not None]
    path = viterbi_tags([probs[i] for i in owned], id2label)
    outside = next(i for i, tag in id2label.items() if tag == "O")
    tag_ids = [outside] * len(encoding.char_spans)
    scores = [0.0] * len(encoding.char_spans)
    for i, tag in zip(owned, path):
        tag_ids[i], scores[i] = tag, probs[i][tag]
    return decode(text, encoding, tag_ids, scores, id2label)


def label_maps(labels) -> tuple[dict[str, int], dict[int, str]]:
    """``label2id`` and ``id2label`` for the BIO tags of ``labels``."""
    tags = bio_labels(tuple(labels))
    return {t: i for i, t in enumerate(tags)}, {i: t for i, t in enumerate(tags)}
