import json

import pytest
from hypothesis import given, strategies as st

from nlp.annotations import (
    Document,
    format_stats,
    from_conll,
    from_label_studio,
    read_jsonl,
    spans_from_tags,
    to_conll,
    to_label_studio,
    validate_file,
    char_tags,
)
from nlp.cli import main
from nlp.paths import ANNOTATIONS_DIR
from nlp.schema import LABELS


def write_docs(path, docs):
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")


@pytest.fixture
def seed_dir(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "a.txt").write_text("即墨区人民医院投入1382.8元,占92.5%。", encoding="utf-8")
    return seeds


def test_committed_gold_annotations_are_valid(capsys):
    gold = ANNOTATIONS_DIR / "seeds.jsonl"
    assert main(["annotations", "validate", str(gold)]) == 0
    docs = read_jsonl(gold)
    assert len(docs) == 5
    counts = {label: sum(e[2] == label for d in docs for e in d.entities) for label in LABELS}
    # rough floor against omissions (issue 3)
    assert counts["MONEY"] >= 25 and counts["RATIO"] >= 6
    assert counts["INSTITUTION"] >= 100 and counts["PROGRAMME"] >= 25


def test_committed_synthetic_dev_set_is_valid_without_seed_files(capsys):
    dev = ANNOTATIONS_DIR / "synthetic_dev.jsonl"
    assert main(["annotations", "validate", str(dev)]) == 1  # its texts are not seed files
    assert "no seed file" in capsys.readouterr().err
    assert main(["annotations", "validate", "--no-seeds", str(dev)]) == 0
    assert len(read_jsonl(dev)) == 40


def test_valid_file_passes(tmp_path, seed_dir):
    text = (seed_dir / "a.txt").read_text(encoding="utf-8")
    path = tmp_path / "gold.jsonl"
    write_docs(path, [{"id": "a.txt", "text": text, "entities": [[0, 7, "INSTITUTION"], [9, 16, "MONEY"]]}])
    assert validate_file(path, seed_dir) == []


@pytest.mark.parametrize(
    "entities, reason",
    [
        ([[0, 99, "INSTITUTION"]], "out of range"),
        ([[0, 7, "HOSPITAL"]], "unknown label"),
        ([[0, 7, "INSTITUTION"], [3, 9, "INSTITUTION"]], "overlaps"),
        ([[7, 9, "PROGRAMME"]], None),  # 投入: legal, if odd
        ([[16, 18, "MONEY"]], "enclosing punctuation"),  # ends on ','? no: starts on ',' -> checked below
    ],
)
def test_validator_reports_file_line_and_reason(tmp_path, seed_dir, entities, reason):
    text = (seed_dir / "a.txt").read_text(encoding="utf-8")
    path = tmp_path / "gold.jsonl"
    write_docs(path, [{"id": "a.txt", "text": text, "entities": []}, {"id": "a.txt", "text": text,
                                                                      "entities": entities}])
    problems = [p for p in validate_file(path, seed_dir) if "duplicate" not in p]
    if reason is None:
        assert problems == []
    elif reason == "enclosing punctuation":
        # text[16] is ',' which is not enclosing punctuation: the span is legal; quotes are tested below
        assert problems == []
    else:
        assert problems and all(p.startswith(f"{path}:2: ") for p in problems)
        assert reason in problems[0]


def test_validator_rejects_whitespace_quote_edges_and_changed_text(tmp_path, seed_dir):
    (seed_dir / "b.txt").write_text("“千名医护进乡村” 工作", encoding="utf-8")
    path = tmp_path / "gold.jsonl"
    write_docs(path, [
        {"id": "b.txt", "text": "“千名医护进乡村” 工作", "entities": [[0, 8, "PROGRAMME"], [9, 11, "PROGRAMME"]]},
        {"id": "b.txt", "text": "“千名医护进乡村” 工作", "entities": [[1, 10, "PROGRAMME"]]},
        {"id": "a.txt", "text": "changed", "entities": []},
        {"id": "missing.txt", "text": "x", "entities": []},
        "not an object",
    ])
    path.write_text(path.read_text(encoding="utf-8") + "{broken json\n", encoding="utf-8")
    problems = validate_file(path, seed_dir)
    joined = "\n".join(problems)
    assert f"{path}:1: span [0, 8) PROGRAMME '“千名医护进乡村': starts on enclosing punctuation" in joined
    assert f"{path}:2: span [1, 10) PROGRAMME '千名医护进乡村” ': ends on whitespace" in joined
    assert f"{path}:3: text differs from the seed file" in joined
    assert f"{path}:4: no seed file" in joined
    assert f"{path}:5: expected an object" in joined
    assert f"{path}:6: invalid JSON" in joined


def test_cli_validate_exits_nonzero_with_reasons(tmp_path, seed_dir, capsys):
    path = tmp_path / "gold.jsonl"
    write_docs(path, [{"id": "a.txt", "text": (seed_dir / "a.txt").read_text(), "entities": [[5, 2, "MONEY"]]}])
    assert main(["annotations", "validate", str(path), "--seeds", str(seed_dir)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1: span [5, 2) MONEY: offsets out of range" in err
    assert "1 problem(s) found" in err


def test_stats_counts_per_label(tmp_path):
    docs = [Document("d1", "x" * 20, [(0, 2, "MONEY"), (3, 5, "MONEY"), (6, 9, "RATIO")])]
    table = format_stats(docs)
    row = [line for line in table.splitlines() if line.startswith("d1")][0].split()
    assert row == ["d1", "0", "0", "2", "1", "3"]


# --- converters round-trip ----------------------------------------------------------------------------------

@st.composite
def documents(draw):
    text = draw(st.text(alphabet=st.sampled_from(list("医院元%万 \n\t\\中心abc1２“”")), min_size=1, max_size=40))
    cuts = sorted(draw(st.sets(st.integers(0, len(text)), max_size=8)))
    entities = []
    for start, end in zip(cuts[::2], cuts[1::2]):
        if start < end:
            entities.append((start, end, draw(st.sampled_from(LABELS))))
    return Document(draw(st.sampled_from(["a.txt", "b c.txt"])), text, entities)


@given(st.lists(documents(), min_size=1, max_size=3))
def test_conll_round_trip(docs):
    back = from_conll(to_conll(docs))
    assert [(d.id, d.text, d.entities) for d in back] == [(d.id, d.text, d.entities) for d in docs]


@given(st.lists(documents(), min_size=1, max_size=3))
def test_label_studio_round_trip(docs):
    tasks = json.loads(json.dumps(to_label_studio(docs), ensure_ascii=False))
    back = from_label_studio(tasks)
    assert [(d.id, d.text, d.entities) for d in back] == [(d.id, d.text, d.entities) for d in docs]


def test_bio_tags_round_trip_adjacent_spans():
    doc = Document("x", "医院医院", [(0, 2, "INSTITUTION"), (2, 4, "INSTITUTION")])
    assert char_tags(doc) == ["B-INSTITUTION", "I-INSTITUTION", "B-INSTITUTION", "I-INSTITUTION"]
    assert spans_from_tags(char_tags(doc)) == doc.entities
    assert spans_from_tags(["I-MONEY", "I-MONEY", "O", "I-RATIO"]) == [(0, 2, "MONEY"), (3, 4, "RATIO")]


def test_cli_convert_round_trip(tmp_path):
    docs = [Document("a.txt", "即墨区人民医院 5%", [(0, 7, "INSTITUTION"), (8, 10, "RATIO")])]
    src = tmp_path / "g.jsonl"
    src.write_text(json.dumps(docs[0].to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["annotations", "convert", str(src), str(tmp_path / "g.conll"), "--to", "conll"]) == 0
    assert main(["annotations", "convert", str(tmp_path / "g.conll"), str(tmp_path / "g.json"),
                 "--to", "labelstudio"]) == 0
    assert main(["annotations", "convert", str(tmp_path / "g.json"), str(tmp_path / "g_hf"), "--to", "hf"]) == 0
    assert main(["annotations", "convert", str(tmp_path / "g_hf"), str(tmp_path / "back.jsonl"),
                 "--to", "jsonl"]) == 0
    back = read_jsonl(tmp_path / "back.jsonl")
    assert (back[0].text, back[0].entities) == (docs[0].text, docs[0].entities)


def test_hugging_face_dataset_directory_is_gold_data(tmp_path, capsys):
    import datasets

    from nlp.annotations import read_any

    gold = read_jsonl(ANNOTATIONS_DIR / "seeds.jsonl")
    main(["annotations", "convert", str(ANNOTATIONS_DIR / "seeds.jsonl"), str(tmp_path / "seeds_hf"), "--to", "hf"])
    loaded = datasets.load_from_disk(str(tmp_path / "seeds_hf"))
    assert loaded.column_names == ["id", "text", "entities"] and len(loaded) == len(gold)
    assert [(d.id, d.text, d.entities) for d in read_any(tmp_path / "seeds_hf")] == [
        (d.id, d.text, sorted(d.entities)) for d in gold]
    datasets.Dataset.from_list([{"id": "a", "body": "x"}]).save_to_disk(str(tmp_path / "wrong"))
    assert main(["annotations", "stats", str(tmp_path / "wrong")]) == 2
    assert "lacks the column(s) entities, text" in capsys.readouterr().err


def test_reading_malformed_jsonl_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "text": "x", "entities": []}\n{"id": 3}\n', encoding="utf-8")
    assert main(["annotations", "stats", str(path)]) == 2
    assert f"nlp: error: {path}:2: expected an object" in capsys.readouterr().err
