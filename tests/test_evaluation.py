"""Count-based scores, bootstrap intervals and passage groups (nlp/metrics.py, nlp/evaluation.py)."""
import random

from nlp.annotations import Document, document_problems
from nlp.evaluation import grouped_report, passage_groups
from nlp.metrics import bootstrap_scores, span_counts, span_scores

LABELS = ("INSTITUTION", "MONEY")


def _random_spans(rng, length):
    spans, pos = [], 0
    while pos < length - 3:
        pos += rng.randrange(1, 6)
        end = pos + rng.randrange(1, 4)
        if end > length:
            break
        spans.append((pos, end, rng.choice(LABELS)))
        pos = end
    return spans


def test_counts_give_the_seqeval_scores():
    rng = random.Random(3)
    lengths = [rng.randrange(20, 60) for _ in range(30)]
    gold = [_random_spans(rng, n) for n in lengths]
    predicted = [[s for s in g if rng.random() < 0.6] + _random_spans(rng, n)[:2] for g, n in zip(gold, lengths)]
    predicted = [sorted({(s, e): (s, e, l) for s, e, l in p}.values()) for p in predicted]
    predicted = [[sp for i, sp in enumerate(p) if i == 0 or sp[0] >= p[i - 1][1]] for p in predicted]
    seqeval = span_scores(lengths, gold, predicted, LABELS)
    ours = bootstrap_scores([span_counts(g, p, LABELS) for g, p in zip(gold, predicted)], LABELS, samples=50)
    for label in list(LABELS) + ["micro"]:
        for metric in ("precision", "recall", "f1", "support"):
            assert abs(ours[label][metric] - seqeval[label][metric]) < 1e-9, (label, metric)
        assert ours[label]["f1_low"] <= ours[label]["f1"] <= ours[label]["f1_high"]


def test_bootstrap_interval_is_reproducible_and_narrows_with_data():
    good = {"INSTITUTION": (9, 10, 10), "MONEY": (0, 0, 0)}
    bad = {"INSTITUTION": (2, 10, 10), "MONEY": (0, 0, 0)}
    few = bootstrap_scores([good, bad] * 2, LABELS, samples=200, seed=1)
    many = bootstrap_scores([good, bad] * 50, LABELS, samples=200, seed=1)
    assert few == bootstrap_scores([good, bad] * 2, LABELS, samples=200, seed=1)
    width = lambda s: s["micro"]["f1_high"] - s["micro"]["f1_low"]  # noqa: E731
    assert width(many) < width(few)
    assert few["micro"]["f1_low"] < few["micro"]["f1"] < few["micro"]["f1_high"]


def test_groups_by_script_noise_and_half():
    docs = [Document("a", "国务院", [(0, 3, "INSTITUTION")], {"script": "simplified", "noisy": False, "half": "read"}),
            Document("b", "國務院", [(0, 3, "INSTITUTION")], {"script": "traditional", "noisy": True, "half": "scored"})]
    assert passage_groups(docs) == {"half=read": [0], "half=scored": [1], "noisy=clean": [0], "noisy=noisy": [1],
                                    "script=simplified": [0], "script=traditional": [1]}
    report = grouped_report(docs, [[(0, 3, "INSTITUTION")], []], labels=LABELS, samples=20)
    assert report["script=simplified"]["micro"]["f1"] == 1.0
    assert report["script=traditional"]["micro"]["f1"] == 0.0
    assert report["all"]["micro"]["recall"] == 0.5


def test_document_meta_round_trips(tmp_path):
    from nlp.annotations import read_jsonl, write_jsonl

    doc = Document("p1", "国务院", [(0, 3, "INSTITUTION")], {"source": {"repo": "r"}, "script": "simplified"})
    write_jsonl([doc], tmp_path / "x.jsonl")
    assert read_jsonl(tmp_path / "x.jsonl") == [doc]


def test_quote_marks_may_edge_a_whole_title_only():
    text = "据《“十四五”国民健康规划》和“十四五”"
    inside = Document("t", text, [(2, 13, "PROGRAMME")])
    assert text[2:13] == "“十四五”国民健康规划"
    assert document_problems(inside) == []
    loose = Document("t", text, [(15, 20, "PROGRAMME")])
    assert text[15:20] == "“十四五”"
    assert any("enclosing punctuation" in p for p in document_problems(loose))


def test_complete_titles_takes_in_a_bracketed_tail():
    from nlp.annotations import complete_titles

    text = "据《网络犯罪防治法（征求意见稿）》和《规定》"
    doc = Document("t", text, [(2, 9, "PROGRAMME"), (19, 21, "PROGRAMME")])
    fixed = complete_titles(doc)
    assert [text[s:e] for s, e, _ in fixed.entities] == ["网络犯罪防治法（征求意见稿）", "规定"]
    assert document_problems(fixed) == []


def test_complete_titles_takes_a_quoted_part_to_the_whole_title():
    from nlp.annotations import complete_titles

    text = "印发《“十四五”特殊教育发展提升行动计划》，国家“十四五”规划"
    doc = Document("t", text, [(4, 7, "PROGRAMME"), (25, 28, "PROGRAMME")])
    assert text[4:7] == "十四五" and text[25:28] == "十四五"
    fixed = complete_titles(doc)
    assert [text[s:e] for s, e, _ in fixed.entities] == ["“十四五”特殊教育发展提升行动计划", "十四五"]
