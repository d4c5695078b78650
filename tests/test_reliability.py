"""Failure behaviour as a feature: fuzzing extract, odd inputs, broken models and configs."""
import json
import os
import shutil

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import nlp
from nlp.cli import main
from nlp.schema import LABELS

FUZZ_EXAMPLES = int(os.environ.get("NLP_FUZZ_EXAMPLES", "2000"))  # the slow run; the default run tries 100

fragments = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=8),  # CJK
    st.sampled_from(["😀", "👨‍👩‍👧", "🇨🇳", "\u200b", "\ufeff", "\x00", "\x07", "\x1b[0m", "\r\n", "\t"]),
    st.sampled_from(["e\u0301", "\u0300", "a\u0308\u0323", "\u20dd"]),  # combining marks
    st.sampled_from(["(wèi)", "(zhì)", "(shēng)", "(", ")", "?shù)", "（", "）"]),  # lone glosses, brackets
    st.sampled_from(["《", "》", "“", "”", "「", "」", "『", "』", "\"", "'", "《《》》", "“”“"]),  # quote soup
    st.sampled_from(["医院", "人民医院", "1300餘萬元", "5.48%", "百分之八十", "九成", "卫生院", "健康扶贫"]),
    st.text(max_size=6),  # anything
    st.sampled_from(["\ud800", "\udfff", "\ud83d", "\udc00x", "\ufffe", "\uffff", "\U0010ffff"]),  # invalid
    st.builds(lambda c, n: c * n, st.sampled_from(["院", "元", "%", " ", "a", "。"]), st.integers(1, 300)),
)
fuzz_texts = st.lists(fragments, max_size=12).map("".join)


def check_entities(text, entities):
    previous_end = 0
    for e in entities:
        assert text[e["start"]:e["end"]] == e["text"]
        assert 0 <= e["start"] < e["end"] <= len(text)
        assert e["start"] >= previous_end  # sorted, non-overlapping
        previous_end = e["end"]
        assert e["label"] in LABELS


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(fuzz_texts)
def test_extract_never_raises_and_spans_are_exact(tiny_model_dir, text):
    check_entities(text, nlp.extract(text, model=tiny_model_dir, device="cpu"))


@pytest.mark.slow
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(fuzz_texts)
def test_extract_never_raises_and_spans_are_exact_long_run(tiny_model_dir, text):
    check_entities(text, nlp.extract(text, model=tiny_model_dir, device="cpu"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "<html><body><p>沁源縣人民醫院</p><script>var x = '1300萬元';</script></body></html>",
        "The hospital spent 1.2 million yuan, about 5% of its budget.",
        "Москва 北京 Ελλάδα 서울 東京 1300餘萬元 ٣٤٥ 🇨🇳",
    ],
)
def test_odd_inputs_give_exact_results_or_nothing(tiny_model_dir, text):
    check_entities(text, nlp.extract(text, model=tiny_model_dir, device="cpu"))
    if not text.strip():
        assert nlp.extract(text, model=tiny_model_dir, device="cpu") == []


@pytest.mark.slow
def test_one_megabyte_document(tiny_model_dir):
    seeds = "".join(open(f"seeds/{n}", encoding="utf-8").read() for n in sorted(os.listdir("seeds")))
    text = (seeds * (1_000_000 // len(seeds) + 1))[:1_000_000]
    entities = nlp.extract(text, model=tiny_model_dir, device="cpu")
    check_entities(text, entities)


@pytest.mark.slow
def test_one_megabyte_without_any_sentence_break(tiny_model_dir):
    text = "医" * 300_000
    check_entities(text, nlp.extract(text, model=tiny_model_dir, device="cpu"))


# --- broken models and configs: one clear message, no traceback ---------------------------------------------

def run_cli(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


def test_missing_model_directory(capsys, tmp_path):
    code, err = run_cli(capsys, ["evaluate", str(tmp_path / "nope")])
    assert code == 2 and "not a model directory" in err and "Traceback" not in err


def test_corrupt_model_weights(capsys, tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    code, err = run_cli(capsys, ["evaluate", str(broken)])
    assert code == 2 and "cannot load the model" in err and "Traceback" not in err


def test_model_with_foreign_labels(capsys, tiny_model_dir, tmp_path):
    foreign = tmp_path / "foreign"
    shutil.copytree(tiny_model_dir, foreign)
    config = json.loads((foreign / "config.json").read_text())
    config["id2label"] = {"0": "O", "1": "B-PERSON", "2": "I-PERSON"}
    (foreign / "config.json").write_text(json.dumps(config))
    code, err = run_cli(capsys, ["evaluate", str(foreign)])
    assert code == 2 and "do not match this package's schema" in err


def test_unknown_config_key(capsys, tmp_path):
    config = tmp_path / "x.yaml"
    config.write_text("train:\n  learning_rate: 0.1\n")
    code, err = run_cli(capsys, ["train", str(config)])
    assert code == 2 and f"{config}: unknown key 'train.learning_rate'" in err and "Traceback" not in err


def test_annotations_with_bad_offsets(capsys, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "000_64dc6dbb97b84d12.txt", "text": "x", "entities": [[0, 5, "MONEY"]]}) + "\n")
    code, err = run_cli(capsys, ["annotations", "validate", str(gold)])
    assert code == 1 and f"{gold}:1: span [0, 5) MONEY: offsets out of range" in err


def test_debug_flag_shows_the_traceback(tmp_path):
    with pytest.raises(Exception):
        main(["--debug", "evaluate", str(tmp_path / "nope")])


def test_a_name_across_a_hard_window_cut_is_seen_whole():
    """A long run with no punctuation is cut at the window width; the windows overlap there, so the model sees a
    name across the cut whole and reports it once."""
    from nlp.windows import context_windows, sentence_windows

    text = "还吃了饭" * 30 + "首都医科大学附属北京天坛医院" + "还吃了饭" * 10
    name = text.index("首都")
    cores = sentence_windows(text, 128)
    assert any(s < name + 4 < e == name + 8 for s, e in cores) or any(s <= name < e < name + 14 for s, e in cores)
    windows = context_windows(text, 128, 32)
    holder = [w for w in windows if w[2] <= name < w[3]]
    assert len(holder) == 1 and holder[0][0] <= name and name + 14 <= holder[0][1]
    # soft cuts get no context: sentence windows stay as they were
    assert [w[:2] for w in context_windows("国务院。" * 100, 128, 32)] == sentence_windows("国务院。" * 100, 128)


def test_spans_are_reported_once_where_windows_overlap(tiny_model_dir):
    from nlp.inference import Predictor

    text = "国务院投入资金" * 60
    predictor = Predictor(tiny_model_dir, "cpu", precision="float32", rules=False)
    spans = predictor.predict([text])[0]
    assert len({(s, e) for s, e, *_ in spans}) == len(spans)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                                             children, max_size=3),
                           max_leaves=6)
jsonl_lines = st.one_of(
    st.builds(lambda i, t: json.dumps({"id": f"r{i}", "text": t}), st.integers(0, 10**6), fuzz_texts),
    json_values.map(json.dumps),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(jsonl_lines, min_size=1, max_size=6), raw=st.binary(max_size=200))
def test_cli_fuzz_random_json_and_bytes(tiny_model_dir, tmp_path_factory, lines, raw):
    """Random JSON, random bytes: exit 0 or 1, one record per input line with text, never a traceback."""
    # the CLI runs in-process: an uncaught exception (a traceback) fails the test

    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "in.jsonl").write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + b"\n")
    (folder / "raw.txt").write_bytes(raw)
    out = folder / "out.jsonl"
    code = main(["extract", str(folder / "in.jsonl"), str(folder / "raw.txt"), "-o", str(out),
                 "--model", str(tiny_model_dir), "--device", "cpu", "--quiet"])
    assert code in (0, 1)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    non_blank = [line for line in "\n".join(lines).encode("utf-8", "surrogatepass").split(b"\n") if line.strip()]
    assert len(records) >= 1
    assert len(records) <= len(non_blank) + 1
    assert all(set(r) == {"id", "entities", "error"} for r in records)
    assert len({json.dumps(r["id"]) for r in records}) == len(records)  # each id exactly once
