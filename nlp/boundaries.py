"""Word boundaries from a Chinese segmenter: measuring where gold edges fall, and snapping decoded name edges.

Two uses (issue 15, lever 2 and the measurement asked for by lever 4):

- :func:`edge_alignment` counts, for gold spans, how many edges fall strictly inside one of the encoder's pieces
  (which piece-level BIO labels cannot express) and how many coincide with a segmenter's word boundaries. It
  measures on the cleaned inference windows exactly as :class:`nlp.inference.Predictor` builds them.
- :func:`snap_spans` moves an INSTITUTION / PROGRAMME edge that cuts inside a segmenter word outwards to that
  word's edge when that edge is strictly the nearer one, the decoding-time option ``Predictor(boundaries="jieba")`` /
  ``nlp evaluate --boundaries jieba``.

jieba is imported only when a segmenter is asked for (the ``segment`` extra: ``pip install 'nlp[segment]'``).
"""
from __future__ import annotations

import functools

from nlp.errors import NlpError

SEGMENTERS = ("none", "jieba")
SNAP_LABELS = ("INSTITUTION", "PROGRAMME")
MAX_SHIFT = 3
"""An edge moves by at most this many characters (a long dictionary word does not swallow a clause)."""


@functools.lru_cache(maxsize=1)
def _jieba_tokenizer():
    try:
        import jieba
    except ImportError:
        raise NlpError("--boundaries jieba needs jieba (pip install 'nlp[segment]' or pip install jieba)") from None
    import logging

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def word_edges(text: str, segmenter: str = "jieba", simplify: bool = True) -> set[int]:
    """Character positions ``0..len(text)`` that begin or end a word of ``segmenter``'s segmentation.

    ``simplify``: segment the OpenCC t2s form of the text (jieba's dictionary is simplified; on traditional text it
    glues names to their neighbours: 醫管局面, 強積金轉) and map the edges back; where a phrase conversion changes
    the length, only the edges that map exactly are kept."""
    if segmenter == "jieba":
        source = text
        offsets = None
        if simplify and text:
            from nlp.text import convert

            converted = convert(text, "t2s")
            source = converted.text
            if len(source) != len(text):
                offsets = converted.offsets
        edges = {0, len(text)}
        for _word, start, end in _jieba_tokenizer().tokenize(source):
            for edge in (start, end):
                if offsets is None:
                    edges.add(edge)
                elif edge < len(offsets) and (edge == 0 or offsets[edge - 1] != offsets[edge]):
                    edges.add(offsets[edge])
        return edges
    raise NlpError(f"unknown segmenter {segmenter!r} (expected one of {', '.join(s for s in SEGMENTERS if s != 'none')})")


def piece_interiors(encoding) -> set[int]:
    """Positions strictly inside one piece (between two characters of the same piece) of a
    :class:`nlp.pieces.PieceEncoding`."""
    return {p for span in encoding.char_spans if span for p in range(span[0] + 1, span[1])}


def _snap(position: int, edges: list[int], is_start: bool, low: int, high: int, ties: str, widen_only: bool) -> int:
    """The word edge nearest ``position`` within ``[low, high]`` and ``MAX_SHIFT``, or ``position`` itself when no
    edge qualifies. A tie stays at ``position`` (``ties="stay"``) or widens the span (``"widen"``: left for a
    start, right for an end); ``widen_only`` refuses a move that would shrink the span."""
    import bisect

    i = bisect.bisect_left(edges, position)
    if i < len(edges) and edges[i] == position:
        return position
    left = edges[i - 1] if i > 0 else None
    right = edges[i] if i < len(edges) else None
    candidates = [e for e in (left, right) if e is not None and low <= e <= high and abs(e - position) <= MAX_SHIFT]
    if not candidates:
        return position
    if ties == "stay" and len(candidates) == 2 and position - left == right - position:
        return position
    snapped = min(candidates, key=lambda e: (abs(e - position), e > position if is_start else e < position))
    if widen_only and (snapped > position if is_start else snapped < position):
        return position
    return snapped


def snap_spans(text: str, spans, edges: set[int], labels=SNAP_LABELS, ties: str = "stay", widen_only: bool = True):
    """Spans ``(start, end, label, score)`` with each edge of a ``labels`` span that falls inside a word (not in
    ``edges``) moved to the strictly nearer edge of that word (see :func:`_snap` for ``ties`` and ``widen_only``;
    the defaults are the variant measured best on dev_real). An edge never crosses a neighbouring span,
    whitespace or the span's other edge; the other spans pass through unchanged."""
    ordered = sorted(edges)
    spans = sorted(spans)
    result = []
    for k, (start, end, label, *rest) in enumerate(spans):
        if label in labels:
            low = max([0] + [s[1] for s in spans[:k]])
            high = min([len(text)] + [s[0] for s in spans[k + 1:]])
            new_start = _snap(start, ordered, True, low, end - 1, ties, widen_only)
            new_end = _snap(end, ordered, False, max(new_start, start) + 1, high, ties, widen_only)
            if not any(c.isspace() for c in text[min(new_start, start):max(new_end, end)]):
                start, end = new_start, new_end
        result.append((start, end, label, *rest))
    return result


def edge_alignment(tokenizer, docs, segmenters=("jieba",), labels=None, window_chars: int = 128,
                   context: int = 32, simplify: bool = True) -> dict:
    """Per label: ``{"spans", "starts_in_piece", "ends_in_piece", "<segmenter>_starts", "<segmenter>_ends"}``,
    plus ``"all"``. Gold spans are mapped onto the cleaned text and counted in the inference window whose core
    holds their first character (as :class:`nlp.inference.Predictor` reports them); a span running past its
    window's end is counted under ``"past_window"`` and not measured. ``<segmenter>_starts``/``_ends``: edges on a
    word boundary of that segmenter's segmentation of the window text (of its t2s form when ``simplify``, as
    :func:`word_edges`)."""
    from nlp.pieces import encode_texts
    from nlp.text import clean, span_to_clean
    from nlp.windows import context_windows

    table: dict[str, dict[str, int]] = {}

    def row(label):
        return table.setdefault(label, {"spans": 0, "starts_in_piece": 0, "ends_in_piece": 0, "past_window": 0,
                                        **{f"{s}_{k}": 0 for s in segmenters for k in ("starts", "ends")}})

    for doc in docs:
        cleaned = clean(doc.text)
        gold = []
        for start, end, label in doc.entities:
            if labels and label not in labels:
                continue
            mapped = span_to_clean(cleaned.offsets, start, end)
            if mapped:
                gold.append((*mapped, label))
        windows = context_windows(cleaned.text, window_chars, context)
        encodings = encode_texts(tokenizer, [cleaned.text[s:e] for s, e, _, _ in windows])
        for (w_start, w_end, core_start, core_end), encoding in zip(windows, encodings):
            mine = [g for g in gold if core_start <= g[0] < core_end]
            if not mine:
                continue
            inside = piece_interiors(encoding)
            window_text = cleaned.text[w_start:w_end]
            words = {s: word_edges(window_text, s, simplify) for s in segmenters}
            for start, end, label in mine:
                for key in (label, "all"):
                    r = row(key)
                    if end > w_end:
                        r["past_window"] += 1
                        continue
                    s, e = start - w_start, end - w_start
                    r["spans"] += 1
                    r["starts_in_piece"] += s in inside
                    r["ends_in_piece"] += e in inside
                    for seg, edges in words.items():
                        r[f"{seg}_starts"] += s in edges
                        r[f"{seg}_ends"] += e in edges
    return dict(sorted(table.items(), key=lambda item: (item[0] == "all", item[0])))


def format_alignment(table: dict, segmenters=("jieba",)) -> str:
    """:func:`edge_alignment` as a Markdown table."""
    head = ["label", "spans", "start in piece", "end in piece"] + [f"{s} start on word edge" for s in segmenters] \
        + [f"{s} end on word edge" for s in segmenters]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, r in table.items():
        cells = [label, str(r["spans"]), str(r["starts_in_piece"]), str(r["ends_in_piece"])]
        cells += [f"{r[f'{s}_starts']} ({r[f'{s}_starts'] / max(r['spans'], 1):.1%})" for s in segmenters]
        cells += [f"{r[f'{s}_ends']} ({r[f'{s}_ends'] / max(r['spans'], 1):.1%})" for s in segmenters]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
