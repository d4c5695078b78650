"""Scores of predicted spans against gold documents: overall, with bootstrap intervals, and by passage group.

Corpus passages (``annotations/dev_real.jsonl``) carry ``script``, ``noisy`` and ``half`` fields; each field
splits the passages into groups that are scored on their own (simplified / traditional, noisy / clean, the
half whose errors may be read / the half that is only scored).
"""
from __future__ import annotations

from nlp.annotations import Document
from nlp.metrics import bootstrap_scores, format_interval_scores, span_counts
from nlp.schema import LABELS

GROUP_FIELDS = {
    "script": lambda value: str(value),
    "noisy": lambda value: "noisy" if value else "clean",
    "half": lambda value: str(value),
}


def passage_groups(docs: list[Document]) -> dict[str, list[int]]:
    """Indices of the documents in each group, e.g. ``{"script=traditional": [0, 4, …], "noisy": […], …}``."""
    groups: dict[str, list[int]] = {}
    for field, name_of in GROUP_FIELDS.items():
        for i, doc in enumerate(docs):
            if field in doc.meta:
                groups.setdefault(f"{field}={name_of(doc.meta[field])}", []).append(i)
    return dict(sorted(groups.items()))


def grouped_report(docs: list[Document], predicted: list, labels=LABELS, samples: int = 1000) -> dict:
    """``{"all": scores, "<field>=<value>": scores, …}``; each ``scores`` as :func:`nlp.metrics.bootstrap_scores`
    (P/R/F1, support and a 95% bootstrap interval of F1 over passages)."""
    counts = [span_counts([e for e in d.entities if e[2] in labels], spans, labels)
              for d, spans in zip(docs, predicted)]
    report = {"all": bootstrap_scores(counts, labels, samples)}
    for name, indices in passage_groups(docs).items():
        report[name] = bootstrap_scores([counts[i] for i in indices], labels, samples)
    return report


def format_grouped_report(report: dict, docs: list[Document]) -> str:
    """The report as tables, one per group, then a one-line micro summary per group."""
    sizes = {"all": len(docs), **{name: len(ix) for name, ix in passage_groups(docs).items()}}
    blocks = [format_interval_scores(scores, f"{name} ({sizes.get(name, '?')} passages)")
              for name, scores in report.items()]
    summary = ["micro F1 by group: " + "; ".join(
        f"{name} {scores['micro']['f1']:.3f} [{scores['micro']['f1_low']:.3f}, {scores['micro']['f1_high']:.3f}]"
        for name, scores in report.items())]
    return "\n\n".join(blocks + summary)
