import json
import subprocess
import sys

import pytest

import nlp
from nlp.api import canonical_name, make_entity
from nlp.schema import LABELS

NOISY = "和平縣醫(yī)共體總院投入1300餘(yú)萬元,占比5.48%。\n" + "即墨区人民医院 " * 3


def test_extract_offsets_index_the_original_string(tiny_model_dir):
    entities = nlp.extract(NOISY, model=tiny_model_dir, device="cpu")
    for e in entities:
        assert NOISY[e["start"]:e["end"]] == e["text"]
        assert e["label"] in LABELS
        assert 0.0 <= e["score"] <= 1.0


def test_extract_many_matches_extract_and_handles_empty(tiny_model_dir):
    texts = [NOISY, "", "   ", open("seeds/003_f19913fe49a733eb.txt", encoding="utf-8").read()]
    many = nlp.extract_many(texts, batch_size=4, model=tiny_model_dir, device="cpu")
    assert many[1] == [] and many[2] == []
    assert many[0] == nlp.extract(NOISY, model=tiny_model_dir, device="cpu")
    for text, entities in zip(texts, many):
        spans = [(e["start"], e["end"]) for e in entities]
        assert spans == sorted(spans)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


def test_extract_rejects_non_strings(tiny_model_dir):
    with pytest.raises(TypeError):
        nlp.extract(b"bytes", model=tiny_model_dir)


def test_entity_records_carry_values_and_canonical_names():
    text = "沁源縣人民醫院投入1300餘(yú)萬元,占比百分之八十"
    money = make_entity(text, text.index("1300"), text.index(",占"), "MONEY", 0.9).to_dict()
    assert money["value"] == 13000000 and money["unit"] == "CNY" and money["approximate"] is True
    assert "canonical" not in money
    ratio = make_entity(text, text.index("百分"), len(text), "RATIO", 0.9).to_dict()
    assert ratio["value"] == pytest.approx(0.8) and ratio["unit"] == "ratio"
    name = make_entity(text, 0, 7, "INSTITUTION", 0.9).to_dict()
    assert name["canonical"] == "沁源县人民医院" and "value" not in name
    assert canonical_name("杜村衛(wèi)生院") == "杜村卫生院"


def test_spacy_pipeline_sets_ents_and_extensions(tiny_model_dir):
    pipeline = nlp.load(model=tiny_model_dir, device="cpu")
    doc = pipeline(NOISY)
    assert doc.text == NOISY
    expected = nlp.extract(NOISY, model=tiny_model_dir, device="cpu")
    assert [(s.start_char, s.end_char, s.label_) for s in doc.ents] == [
        (e["start"], e["end"], e["label"]) for e in expected]
    for span in doc.ents:
        assert span._.score is not None
        if span.label_ in ("INSTITUTION", "PROGRAMME"):
            assert span._.canonical


def test_spacy_to_disk_then_load_in_a_fresh_process(tiny_model_dir, tmp_path):
    # the child script imports only spacy: the factory comes from the `spacy_factories` entry point
    pipeline = nlp.load(model=tiny_model_dir, device="cpu")
    expected = [(s.start_char, s.end_char, s.label_) for s in pipeline(NOISY).ents]
    pipeline.to_disk(tmp_path / "pipe")
    code = (
        "import json, sys, spacy\n"
        f"doc = spacy.load({str(tmp_path / 'pipe')!r})({NOISY!r})\n"
        "print(json.dumps([[s.start_char, s.end_char, s.label_] for s in doc.ents]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [tuple(x) for x in json.loads(result.stdout.strip().splitlines()[-1])] == expected


def test_pipe_streams_an_endless_generator(tiny_model_dir):
    import itertools

    import nlp

    pipe = nlp.load(tiny_model_dir, device="cpu")
    read = []

    def endless():
        for i in itertools.count():
            read.append(i)
            yield f"第{i}条：国务院投入3亿元。"

    first = list(itertools.islice(pipe.pipe(endless(), batch_size=4), 5))
    assert [doc.text for doc in first] == [f"第{i}条：国务院投入3亿元。" for i in range(5)]
    assert len(read) <= 12  # read a few mini-batches ahead at most, not the whole stream


def test_spacy_pipeline_saves_back_onto_its_own_directory(tiny_model_dir, tmp_path):
    import spacy

    import nlp

    nlp.load(tiny_model_dir, device="cpu").to_disk(tmp_path / "p")
    loaded = spacy.load(tmp_path / "p")
    loaded.to_disk(tmp_path / "p")  # used to fail copying the model onto itself
    assert (tmp_path / "p" / "nlp_entities" / "model" / "model.safetensors").is_file()
    assert spacy.load(tmp_path / "p")("国务院").text == "国务院"


def test_two_pipelines_keep_their_own_batch_size(tiny_model_dir):
    import nlp

    a = nlp.load(tiny_model_dir, device="cpu")
    b = nlp.load(tiny_model_dir, device="cpu")
    a.get_pipe("nlp_entities").batch_size, b.get_pipe("nlp_entities").batch_size = 2, 7
    list(a.pipe(["国务院"] * 3))
    assert a.get_pipe("nlp_entities").predictor.batch_size == b.get_pipe("nlp_entities").predictor.batch_size


def test_pipe_with_two_processes_after_use_in_the_parent(tiny_model_dir, tmp_path):
    """torch has run in the parent before spaCy forks its workers: they must not deadlock."""
    import subprocess
    import sys

    script = (
        "import nlp\n"
        f"pipe = nlp.load({str(tiny_model_dir)!r}, device='cpu')\n"
        "pipe('国务院投入3亿元')\n"
        "docs = list(pipe.pipe(['国务院投入3亿元。'] * 6, n_process=2, batch_size=2))\n"
        "print(len(docs))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "6"
