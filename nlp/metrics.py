"""Entity-level scores: seqeval strict (IOB2) over character tags, i.e. exact-span precision/recall/F1."""
from __future__ import annotations

from nlp.schema import LABELS

Spans = list[tuple[int, int, str]]


def char_bio(length: int, spans) -> list[str]:
    """IOB2 tag per character for non-overlapping ``(start, end, label, ...)`` spans."""
    tags = ["O"] * length
    for start, end, label, *_ in spans:
        tags[start] = f"B-{label}"
        for i in range(start + 1, end):
            tags[i] = f"I-{label}"
    return tags


def span_scores(texts_len: list[int], gold: list[Spans], predicted: list[Spans], labels=LABELS) -> dict:
    """Per-label and micro P/R/F1 and support: ``{"INSTITUTION": {"precision":…, "recall":…, "f1":…,
    "support":…}, …, "micro": {…}}``; labels with no gold and no predicted mention are reported with support 0."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    y_true = [char_bio(n, spans) for n, spans in zip(texts_len, gold)]
    y_pred = [char_bio(n, spans) for n, spans in zip(texts_len, predicted)]
    report = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    scores = {}
    for label in list(labels) + ["micro"]:
        row = report.get(label if label != "micro" else "micro avg", {})
        scores[label] = {
            "precision": float(row.get("precision", 0.0)),
            "recall": float(row.get("recall", 0.0)),
            "f1": float(row.get("f1-score", 0.0)),
            "support": int(row.get("support", 0)),
        }
    return scores


def format_scores(scores: dict, title: str = "") -> str:
    """A plain-text table of :func:`span_scores` output."""
    lines = [title] if title else []
    lines.append(f"{'label':<13}{'P':>8}{'R':>8}{'F1':>8}{'support':>9}")
    for label, row in scores.items():
        lines.append(f"{label:<13}{row['precision']:>8.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}{row['support']:>9}")
    return "\n".join(lines)
