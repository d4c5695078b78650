"""``nlp extract``: inputs, bad-input error records, formats, atomic output, and kill-then-resume."""
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nlp import api, extract_cli
from nlp.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED_TEXTS = [path.read_text(encoding="utf-8") for path in sorted((ROOT / "seeds").glob("*.txt"))]

# Stand-in entities for the format tests (the tiny random model rarely finds any): real records from make_entity.
_FAKE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:医院|醫院|大学)|\d+(?:\.\d+)?万元|\d+(?:\.\d+)?%")


def fake_extract_many(texts, batch_size=32, model=None, device="auto", precision="auto"):
    results = []
    for text in texts:
        entities = []
        for m in _FAKE.finditer(text):
            label = "MONEY" if m.group().endswith("元") else "RATIO" if m.group().endswith("%") else "INSTITUTION"
            entities.append(api.make_entity(text, m.start(), m.end(), label, 0.9).to_dict())
        results.append(entities)
    return results


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on a small machine shared with other jobs, two spinning threads make each tiny
    forward pass up to 100x slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def extract(tiny_model_dir, capsys):
    """Run ``nlp extract ARGS --model <tiny> --device cpu`` in-process: (exit code, stdout, stderr)."""
    def run(*args):
        code = main(["extract", *map(str, args), "--model", str(tiny_model_dir), "--device", "cpu"])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr(api, "extract_many", fake_extract_many)


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def by_id(recs: list[dict]) -> dict:
    return {r["id"]: r for r in recs}


def test_txt_file_offsets_index_the_file_as_decoded(extract, fake_model, tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("标题\r\n北京天坛医院投入300万元,占比5%。".encode("utf-8"))
    code, out, err = extract(path)
    assert code == 0
    [record] = records(out)
    assert record["id"] == str(path) and record["error"] is None
    text = path.read_bytes().decode("utf-8")
    assert [e["label"] for e in record["entities"]] == ["INSTITUTION", "MONEY", "RATIO"]
    for e in record["entities"]:
        assert text[e["start"]:e["end"]] == e["text"]
    money = record["entities"][1]
    assert money["value"] == 3000000 and money["unit"] == "CNY"
    assert err.strip().splitlines()[-1] == "1 documents, 3 entities, 0 errors"


def test_real_model_on_a_directory_recursively_sorted(extract, tiny_model_dir, tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "b.txt").write_text(SEED_TEXTS[0][:300], encoding="utf-8")
    (tmp_path / "d" / "sub" / "a.txt").write_text(SEED_TEXTS[1][:300], encoding="utf-8")
    (tmp_path / "d" / "a.txt").write_text(SEED_TEXTS[2][:300], encoding="utf-8")
    (tmp_path / "d" / "notes.md").write_text("not a text input", encoding="utf-8")
    code, out, _ = extract(tmp_path / "d", "--batch-size", "2")
    assert code == 0
    recs = records(out)
    d = tmp_path / "d"
    assert [r["id"] for r in recs] == [str(d / "a.txt"), str(d / "b.txt"), str(d / "sub" / "a.txt")]
    texts = [SEED_TEXTS[2][:300], SEED_TEXTS[0][:300], SEED_TEXTS[1][:300]]
    assert [r["entities"] for r in recs] == api.extract_many(texts, model=tiny_model_dir, device="cpu")
    assert all(r["error"] is None for r in recs)


def test_jsonl_with_custom_fields_and_missing_ids(extract, fake_model, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"doc": "x1", "body": "在北京天坛医院"}\n\n{"body": "无编号 12%"}\n{"doc": 7, "body": ""}\n',
                    encoding="utf-8")
    code, out, _ = extract(path, "--text-field", "body", "--id-field", "doc")
    assert code == 0
    recs = records(out)
    assert [r["id"] for r in recs] == ["x1", f"{path}:3", 7]
    assert recs[0]["entities"][0]["text"] == "在北京天坛医院"
    assert recs[1]["entities"][0]["value"] == pytest.approx(0.12)
    assert recs[2] == {"id": 7, "entities": [], "error": None}  # empty text: a normal record


def _stdin(monkeypatch, data: bytes):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_stdin_plain_text_and_jsonl(extract, fake_model, monkeypatch):
    _stdin(monkeypatch, "第一行\n在北京天坛医院\n".encode("utf-8"))
    code, out, _ = extract("-")
    assert code == 0
    [record] = records(out)
    assert record["id"] == "-" and record["entities"][0]["start"] == 4
    _stdin(monkeypatch, b'{"id": "a", "text": "x"}\nnot json\n')
    code, out, _ = extract("-", "--jsonl")
    assert code == 1
    assert [(r["id"], r["error"]) for r in records(out)] == [
        ("a", None), ("-:2", "-:2: not valid JSON (Expecting value, column 1)")]


def test_every_bad_input_becomes_an_error_record_and_the_batch_completes(extract, monkeypatch, tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("正常的文本", encoding="utf-8")
    bad_utf8 = tmp_path / "bad.txt"
    bad_utf8.write_bytes("第一行\n第二".encode("utf-8") + b"\xff\xfe")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    locked = tmp_path / "locked.txt"
    locked.write_text("secret", encoding="utf-8")
    locked.chmod(0)
    if os.access(locked, os.R_OK):  # root reads anything: simulate the permission error
        real_open = extract_cli._open_input

        def denying_open(path):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path)
        monkeypatch.setattr(extract_cli, "_open_input", denying_open)
    missing = tmp_path / "missing.txt"
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_bytes(b'{"id": "ok", "text": "fine"}\n'
                      b'{"id": "broken", \n'
                      b'[1, 2]\n'
                      b'{"id": "nofield", "body": "x"}\n'
                      b'{"id": "number", "text": 5}\n'
                      b'{"id": "bad-bytes", "text": "\xff"}\n'
                      b'{"id": "last", "text": ""}\n')
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    inputs = [good, bad_utf8, binary, locked, missing, jsonl, empty]
    code, out, err = extract(*inputs, "--batch-size", "2")
    locked.chmod(0o644)
    assert code == 1
    recs = by_id(records(out))
    assert len(recs) == 13
    errors = {k: r["error"] for k, r in recs.items() if r["error"] is not None}
    assert errors == {
        str(bad_utf8): f"{bad_utf8}:2: invalid UTF-8 at byte offset 16 (invalid start byte)",
        str(binary): f"{binary}: binary file (NUL byte at byte offset 8), not UTF-8 text",
        str(locked): f"{locked}: cannot read (permission denied)",
        str(missing): f"{missing}: no such file or directory",
        f"{jsonl}:2": f"{jsonl}:2: not valid JSON (Expecting property name enclosed in double quotes, column 18)",
        f"{jsonl}:3": f"{jsonl}:3: not a JSON object (got list)",
        "nofield": f"{jsonl}:4: no 'text' field",
        "number": f"{jsonl}:5: field 'text' must be a string, got int",
        f"{jsonl}:6": f"{jsonl}:6: invalid UTF-8 at byte offset 29 of the line (invalid start byte)",
    }
    assert all(recs[k]["entities"] == [] for k in errors)
    for k in (str(good), "ok", "last", str(empty)):
        assert recs[k]["error"] is None
    assert err.strip().splitlines()[-1] == "13 documents, 0 entities, 9 errors"
    assert "Traceback" not in err


def test_binary_jsonl_is_one_error_record(extract, tmp_path):
    path = tmp_path / "blob.jsonl"
    path.write_bytes(b"\x00\x01\x02" * 100)
    code, out, _ = extract(path)
    assert code == 1
    assert records(out) == [{"id": str(path), "entities": [],
                             "error": f"{path}: binary file (NUL byte at byte offset 0), not JSONL"}]


def test_missing_or_corrupt_model_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "text.txt").write_text("文本", encoding="utf-8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{", encoding="utf-8")
    for model in (tmp_path / "nothing", broken):
        code = main(["extract", str(tmp_path / "text.txt"), "--model", str(model), "--device", "cpu"])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err.startswith("nlp: error: ") and len(err.strip().splitlines()) == 1
        assert str(model) in err


def test_usage_errors(extract, tmp_path):
    code, _, err = extract(tmp_path, "--resume")
    assert code == 2 and "--resume needs --output" in err
    code, _, err = extract(tmp_path, "--resume", "--output", tmp_path / "o.tsv", "--format", "tsv")
    assert code == 2 and "jsonl only" in err


def test_tsv_format(extract, fake_model, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("北京天坛医院\t投入约300万元", encoding="utf-8")
    (tmp_path / "b.txt").write_text("没有实体", encoding="utf-8")
    code, out, _ = extract(path, tmp_path / "b.txt", "--format", "tsv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("\t") == list(extract_cli.TSV_COLUMNS)
    rows = [line.split("\t") for line in lines[1:]]
    assert rows == [
        [str(path), "0", "6", "INSTITUTION", "北京天坛医院", "0.9", "", "", "", "北京天坛医院", ""],
        [str(path), "10", "15", "MONEY", "300万元", "0.9", "3000000", "CNY", "false", "", ""],
        [str(tmp_path / "b.txt")] + [""] * 10,  # a document with no entity still has its row
    ]


def test_html_format(extract, fake_model, tmp_path):
    (tmp_path / "a<b>.txt").write_text("在北京天坛医院,投入300万元", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xff")
    code, out, _ = extract(tmp_path, "--format", "html")
    assert code == 1
    assert out.lstrip().startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    assert out.count("<body") == 1 and out.count("</body>") == 1
    assert '<html lang="zh">' in out and '<meta charset="utf-8">' in out
    assert '<mark class="entity" style="background: #7aecec' in out and ">INSTITUTION</span>" in out
    assert extract_cli.LABEL_COLORS["MONEY"] in out and ">MONEY</span>" in out
    assert f"<h2 style=\"margin: 0\">{tmp_path}/a&lt;b&gt;.txt</h2>" in out
    assert f"error: {tmp_path}/c.txt:1: invalid UTF-8" in out
    # one section per document, the same page however the documents were batched
    code, one_by_one, _ = extract(tmp_path, "--format", "html", "--batch-size", "1")
    assert one_by_one == out and out.count("<figure") == 2


def test_output_is_atomic_when_the_run_fails(extract, monkeypatch, tmp_path):
    for i in range(3):
        (tmp_path / "in").mkdir(exist_ok=True)
        (tmp_path / "in" / f"{i}.txt").write_text(f"文本{i}", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n", encoding="utf-8")
    calls = []
    real = api.extract_many

    def failing(texts, **kwargs):
        calls.append(texts)
        if len(calls) > 1:
            raise RuntimeError("model exploded")
        return real(texts, **kwargs)
    monkeypatch.setattr(api, "extract_many", failing)
    with pytest.raises(RuntimeError, match="exploded"):
        extract(tmp_path / "in", "--batch-size", "1", "--output", out)
    assert out.read_text(encoding="utf-8") == "old\n"  # untouched: replaced only by a finished run
    partial = out.with_name("out.jsonl.partial")
    assert [r["id"] for r in records(partial.read_text(encoding="utf-8"))] == [str(tmp_path / "in" / "0.txt")]
    monkeypatch.setattr(api, "extract_many", real)
    code, stdout, _ = extract(tmp_path / "in", "--output", out)  # without --resume: everything again
    assert code == 0 and stdout == "" and not partial.exists()
    assert len(records(out.read_text(encoding="utf-8"))) == 3


def test_resume_processes_only_new_and_failed_documents(extract, monkeypatch, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.txt").write_text(f"文本{i}", encoding="utf-8")
    (src / "bad.txt").write_bytes(b"\xff")
    out = tmp_path / "out.jsonl"
    assert extract(src, "--output", out)[0] == 1
    (src / "3.txt").write_text("文本3", encoding="utf-8")
    (src / "bad.txt").write_text("修好了", encoding="utf-8")
    seen = []
    real = api.extract_many
    monkeypatch.setattr(api, "extract_many", lambda texts, **kw: seen.extend(texts) or real(texts, **kw))
    code, _, err = extract(src, "--output", out, "--resume")
    assert code == 0
    assert sorted(seen) == sorted(["文本3", "修好了"])
    recs = records(out.read_text(encoding="utf-8"))
    assert sorted(r["id"] for r in recs) == sorted(str(p) for p in src.glob("*.txt"))
    assert all(r["error"] is None for r in recs)
    assert "5 documents, 0 entities, 0 errors (3 documents kept from the earlier run)" in err


def test_progress_bar_only_when_asked(extract, tmp_path):
    (tmp_path / "a.txt").write_text("文本", encoding="utf-8")
    _, _, err = extract(tmp_path, "--progress")
    assert "1/1" in err and "doc" in err
    _, _, err = extract(tmp_path, "--progress", "--quiet")
    assert err.strip() == "1 documents, 0 entities, 0 errors"


def test_kill_then_resume_gives_every_id_once_with_clean_run_entities(extract, tiny_model_dir, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    texts = {src / f"{i:02d}.txt": f"第{i}篇。" + SEED_TEXTS[i % len(SEED_TEXTS)][:800] for i in range(30)}
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    # A named pipe in place of file 12: the child processes 00-11 (one flushed batch each), then blocks reading
    # it, so the kill lands mid-run at a known point whatever the machine's speed.
    stuck = src / "12.txt"
    stuck.unlink()
    os.mkfifo(stuck)
    out = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    command = [sys.executable, "-m", "nlp", "extract", str(src), "--output", str(out), "--batch-size", "1",
               "--model", str(tiny_model_dir), "--device", "cpu", "--quiet"]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if partial.exists() and partial.read_bytes().count(b"\n") >= 12:
                break
            time.sleep(0.05)
        assert child.poll() is None, f"child ended early: {child.stderr.read()[-2000:]!r}"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=60)
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()
    assert partial.read_bytes().count(b"\n") == 12
    with open(partial, "ab") as handle:  # as if killed in the middle of writing a record
        handle.write(b'{"id": "' + str(src / "12.txt").encode() + b'", "entit')
    stuck.unlink()
    stuck.write_text(texts[stuck], encoding="utf-8")

    code, _, err = extract(src, "--output", out, "--batch-size", "1", "--resume")
    assert code == 0 and out.exists() and not partial.exists()
    assert "30 documents" in err and "(12 documents kept from the earlier run)" in err
    resumed = records(out.read_text(encoding="utf-8"))
    ids = [r["id"] for r in resumed]
    assert sorted(ids) == sorted(str(p) for p in texts) and len(set(ids)) == 30

    clean = tmp_path / "clean.jsonl"
    assert extract(src, "--output", clean, "--batch-size", "4")[0] == 0
    assert by_id(resumed) == by_id(records(clean.read_text(encoding="utf-8")))


@pytest.mark.parametrize("fmt", ["jsonl", "tsv", "html"])
def test_lone_surrogates_in_ids_and_texts_never_crash_the_batch(extract, tiny_model_dir, tmp_path, fmt):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "投入3亿元\\ud83d"}\n{"id": "b\\udc00", "text": "国务院\\udc00投入"}\n'
                      '{"id": "c", "text": "好"}\n', encoding="utf-8")
    out = tmp_path / f"out.{fmt}"
    code, _, err = extract(source, "--format", fmt, "--output", out)
    assert code == 0 and "Traceback" not in err
    written = out.read_bytes().decode("utf-8")  # valid UTF-8 whatever the input held
    if fmt == "jsonl":
        records = [json.loads(line) for line in written.splitlines()]
        assert [r["id"] for r in records] == ["a", "b\udc00", "c"]
        assert all(r["error"] is None for r in records)


def test_lone_surrogates_in_python_are_read_as_spaces(tiny_model_dir):
    from nlp.text import clean

    assert clean("国\ud800务院").text == "国 务院"
    for text in ("x\ud800", "\udfff", "投入3亿元\ud83d"):
        entities = api.extract(text, model=tiny_model_dir, device="cpu")
        assert all(text[e["start"]:e["end"]] == e["text"] for e in entities)


@pytest.mark.parametrize("name", ["same.txt", "same.jsonl"])
def test_output_onto_an_input_is_refused_and_the_input_kept(extract, tmp_path, name):
    source = tmp_path / name
    content = '{"id": "a", "text": "国务院"}\n' if name.endswith(".jsonl") else "国务院投入3亿元。"
    source.write_text(content, encoding="utf-8")
    code, _, err = extract(source, "-o", source)
    assert code == 2 and "is also an input" in err
    assert source.read_text(encoding="utf-8") == content


def test_output_inside_an_input_directory_is_not_read_back(extract, fake_model, tmp_path):
    (tmp_path / "a.txt").write_text("在北京天坛医院", encoding="utf-8")
    out = tmp_path / "out.txt"
    for _ in range(2):
        code, _, _ = extract(tmp_path, "-o", out)
        assert code == 0
        ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
        assert ids == [str(tmp_path / "a.txt")]


def test_a_full_disk_is_one_line_and_its_own_exit_status(extract, fake_model, monkeypatch, tmp_path):
    import errno

    def full(self, docs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(extract_cli.Writer, "write", full)
    (tmp_path / "a.txt").write_text("在北京天坛医院", encoding="utf-8")
    code, _, err = extract(tmp_path / "a.txt", "-o", tmp_path / "out.jsonl")
    assert code == 3 and "no space left on device" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_tsv_has_a_row_for_an_error(extract, fake_model, tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"\xff")
    code, out, _ = extract(tmp_path / "bad.txt", "--format", "tsv")
    row = out.splitlines()[1].split("\t")
    assert code == 1 and row[0] == str(tmp_path / "bad.txt") and "invalid UTF-8" in row[-1]


def test_byte_order_marks(extract, fake_model, tmp_path):
    text = "在北京天坛医院"
    (tmp_path / "u16.txt").write_bytes(text.encode("utf-16"))
    (tmp_path / "u8.txt").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    (tmp_path / "u8.jsonl").write_bytes(b"\xef\xbb\xbf" + '{"id": "r1", "text": "在北京天坛医院"}\n'.encode("utf-8"))
    (tmp_path / "u16.jsonl").write_bytes('{"id": "r2", "text": "在北京天坛医院"}\n'.encode("utf-16"))
    for name, doc_id in (("u16.txt", None), ("u8.txt", None), ("u8.jsonl", "r1"), ("u16.jsonl", "r2")):
        code, out, _ = extract(tmp_path / name)
        (record,) = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and record["error"] is None, name
        assert record["id"] == (doc_id or str(tmp_path / name))
        # offsets index the text after the byte-order mark
        assert [(e["start"], e["text"]) for e in record["entities"]] == [(0, "在北京天坛医院")], name
