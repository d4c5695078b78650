"""Entity-level scores: seqeval strict (IOB2) over character tags, i.e. exact-span precision/recall/F1."""
from __future__ import annotations

from nlp.schema import LABELS
from nlp.spans import char_bio, overlaps

Spans = list[tuple[int, int, str]]


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


def span_counts(gold: Spans, predicted: Spans, labels=LABELS) -> dict:
    """Exact-span true positives, predicted and gold mentions per label for one document:
    ``{label: (tp, n_predicted, n_gold)}``. Summed over documents these give the same P/R/F1 as
    :func:`span_scores` (seqeval strict IOB2 counts exactly the spans whose edges and label both match)."""
    gold_set = {(s, e, label) for s, e, label, *_ in gold if label in labels}
    pred_set = {(s, e, label) for s, e, label, *_ in predicted if label in labels}
    return {label: (sum(1 for x in pred_set & gold_set if x[2] == label),
                    sum(1 for x in pred_set if x[2] == label),
                    sum(1 for x in gold_set if x[2] == label)) for label in labels}


def _prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def _summed(doc_counts: list[dict], labels) -> dict:
    totals = {label: [0, 0, 0] for label in list(labels) + ["micro"]}
    for counts in doc_counts:
        for label in labels:
            for k, v in enumerate(counts[label]):
                totals[label][k] += v
                totals["micro"][k] += v
    return totals


def bootstrap_scores(doc_counts: list[dict], labels=LABELS, samples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> dict:
    """P/R/F1 per label and micro from per-document :func:`span_counts`, each with a percentile bootstrap
    interval over documents (documents drawn with replacement ``samples`` times; seeded, so reproducible):
    ``{label: {"precision", "recall", "f1", "support", "f1_low", "f1_high"}}``."""
    import random

    rng = random.Random(seed)
    labels = list(labels)
    point = _summed(doc_counts, labels)
    draws = {label: [] for label in point}
    n = len(doc_counts)
    for _ in range(samples if n else 0):
        totals = _summed([doc_counts[rng.randrange(n)] for _ in range(n)], labels)
        for label, (tp, n_pred, n_gold) in totals.items():
            draws[label].append(_prf(tp, n_pred, n_gold)[2])
    result = {}
    tail = (1 - level) / 2
    for label, (tp, n_pred, n_gold) in point.items():
        precision, recall, f1 = _prf(tp, n_pred, n_gold)
        f1s = sorted(draws[label])
        low = f1s[int(tail * len(f1s))] if f1s else f1
        high = f1s[min(len(f1s) - 1, int((1 - tail) * len(f1s)))] if f1s else f1
        result[label] = {"precision": precision, "recall": recall, "f1": f1, "support": n_gold,
                         "f1_low": low, "f1_high": high}
    return result


def format_interval_scores(scores: dict, title: str = "") -> str:
    """A plain-text table of :func:`bootstrap_scores` output."""
    lines = [title] if title else []
    lines.append(f"{'label':<13}{'P':>8}{'R':>8}{'F1':>8}{'95% interval':>16}{'support':>9}")
    for label, row in scores.items():
        lines.append(f"{label:<13}{row['precision']:>8.3f}{row['recall']:>8.3f}{row['f1']:>8.3f}"
                     f"{'[' + format(row['f1_low'], '.3f') + ', ' + format(row['f1_high'], '.3f') + ']':>16}"
                     f"{row['support']:>9}")
    return "\n".join(lines)


def grouped_scores(groups: dict[str, list[dict]], labels=LABELS, samples: int = 1000) -> dict:
    """:func:`bootstrap_scores` for each named group of per-document counts (empty groups left out)."""
    return {name: bootstrap_scores(counts, labels, samples) for name, counts in groups.items() if counts}


BOUNDARY, MISSED, SPURIOUS = "wrong edges", "missed", "spurious"


def span_confusion(gold: list[Spans], predicted: list[Spans], labels=LABELS) -> dict:
    """Where each gold mention went and where each spurious prediction came from, per label.

    Returns ``{gold_label: {outcome: count}}`` where an outcome is a predicted label (a span with the same exact
    edges, so the diagonal is the true positives), ``"wrong edges"`` (only overlapping predictions) or ``"missed"``
    (nothing overlaps); the extra row ``"spurious"`` counts, per predicted label, predictions that overlap no gold
    mention."""
    outcomes = list(labels) + [BOUNDARY, MISSED]
    table = {label: dict.fromkeys(outcomes, 0) for label in labels}
    table[SPURIOUS] = dict.fromkeys(outcomes, 0)
    for gold_spans, predicted_spans in zip(gold, predicted):
        exact = {(s, e): label for s, e, label, *_ in predicted_spans}
        for start, end, label, *_ in gold_spans:
            if label not in table:
                continue
            if (start, end) in exact and exact[start, end] in table[label]:
                outcome = exact[start, end]
            elif overlaps(start, end, predicted_spans):
                outcome = BOUNDARY
            else:
                outcome = MISSED
            table[label][outcome] += 1
        for start, end, label, *_ in predicted_spans:
            if label in table[SPURIOUS] and not overlaps(start, end, gold_spans):
                table[SPURIOUS][label] += 1
    return table


def confusion_svg(table: dict, title: str = "") -> str:
    """The :func:`span_confusion` table as an SVG heat map (rows: gold label; columns: what the model did), shaded
    by each row's share so that rows of different sizes compare."""
    from html import escape

    rows, columns = list(table), list(next(iter(table.values())))
    cell, left, top = 96, 120, 70 if title else 46
    width, height = max(left + cell * len(columns) + 10, 800), top + 34 * len(rows) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>']
    if title:
        parts.append(f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>')
    for j, column in enumerate(columns):
        parts.append(f'<text x="{left + cell * j + cell / 2}" y="{top - 8}" text-anchor="middle">{escape(column)}</text>')
    for i, row in enumerate(rows):
        y = top + 34 * i
        total = sum(table[row].values()) or 1
        parts.append(f'<text x="{left - 8}" y="{y + 21}" text-anchor="end">{escape(row)}</text>')
        for j, column in enumerate(columns):
            count = table[row][column]
            good = row == column
            shade = count / total
            colour = (f"rgb({int(255 - 180 * shade)},{int(255 - 60 * shade)},{int(255 - 180 * shade)})" if good else
                      f"rgb({int(255 - 40 * shade)},{int(255 - 170 * shade)},{int(255 - 170 * shade)})")
            x = left + cell * j
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="32" fill="{colour}" stroke="#ccc"/>')
            parts.append(f'<text x="{x + cell / 2}" y="{y + 21}" text-anchor="middle">{count}</text>')
    parts.append(f'<text x="10" y="{height - 10}" fill="#555">rows: gold label, or predictions that overlap no gold; '
                 f'columns: the predicted label with the same edges, or what happened instead</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def format_confusion(table: dict) -> str:
    """A plain-text version of :func:`span_confusion` output."""
    columns = list(next(iter(table.values())))
    lines = [f"{'gold / outcome':<16}" + "".join(f"{c:>13}" for c in columns)]
    lines += [f"{row:<16}" + "".join(f"{table[row][c]:>13}" for c in columns) for row in table]
    return "\n".join(lines)
