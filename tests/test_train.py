import json
from dataclasses import replace

import pytest

from nlp.config import load_config
from nlp.errors import NlpError
from nlp.inference import Predictor, load_model
from nlp.train import train
from nlp.paths import PROJECT_ROOT as ROOT


@pytest.mark.slow
def test_tiny_training_loop_end_to_end(tiny_config, tmp_path):
    out = tmp_path / "model"
    record = train(tiny_config, out, progress=False)
    losses = record["epoch_losses"]
    assert len(losses) == tiny_config.train.epochs
    assert losses[-1] < losses[0] * 0.8, losses  # loss falls
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert (out / "tokenizer.json").is_file()
    assert all(path.stat().st_mode & 0o777 == 0o644 for path in out.iterdir())  # readable by all, like any file
    saved = json.loads((out / "training.json").read_text())
    assert saved["eval_documents"] == ["002_c7556de24680051a.txt"]
    assert set(saved["eval_scores"]) == {"INSTITUTION", "PROGRAMME", "MONEY", "RATIO", "micro"}
    assert record["boundaries"]["spans"] > 200
    # the LR schedule covers exactly the steps taken, augmented windows (value copies included) counted
    assert tiny_config.augment.mention_replacement.value_copies > 0
    assert record["optimizer_steps"] == record["scheduled_steps"]


def test_saved_model_reloads_and_predicts_the_same_labels(tiny_config, tmp_path):
    import torch

    from nlp.annotations import read_jsonl
    from nlp.inference import load_hf_model
    from nlp.pieces import encode_texts

    out = tmp_path / "model"
    config = replace(tiny_config, train=replace(tiny_config.train, epochs=1))
    record = train(config, out, progress=False)
    # the in-memory model's spans on the held-out document (made before saving) == the reloaded model's
    held_out = [d for d in read_jsonl(ROOT / "annotations" / "seeds.jsonl") if d.id in record["eval_predictions"]]
    again = Predictor(out, device="cpu", precision="float32").predict([d.text for d in held_out])
    assert [[tuple(s[:3]) for s in spans] for spans in again] == \
        [[tuple(s) for s in record["eval_predictions"][d.id]] for d in held_out]
    # and both loaders of the saved directory give the same piece labels
    model, tokenizer = load_model(out)
    hf_model, _ = load_hf_model(out)
    ids = torch.tensor([encode_texts(tokenizer, ["即墨区人民医院投入1382.8元,占92.5%。"])[0].input_ids])
    mask = torch.ones_like(ids)
    with torch.inference_mode():
        assert torch.equal(model(input_ids=ids, attention_mask=mask).argmax(-1),
                           hf_model.eval()(input_ids=ids, attention_mask=mask).logits.argmax(-1))


@pytest.mark.slow
def test_same_config_and_seed_give_same_scores(tiny_config, tmp_path):
    config = replace(tiny_config, train=replace(tiny_config.train, epochs=1))
    first = train(config, tmp_path / "a", progress=False)
    second = train(config, tmp_path / "b", progress=False)
    assert first["epoch_losses"] == second["epoch_losses"]
    assert first["eval_scores"] == second["eval_scores"]


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("train:\n  epochz: 3\n", "unknown key 'train.epochz'"),
        ("train:\n  epochs: many\n", "'train.epochs' must be int"),
        ("train:\n  device: tpu\n", "'train.device' must be one of"),
        ("labels: [PERSON]\n", "'labels' must be a non-empty subset"),
        ("augment:\n  noise:\n    gloss_rate: 3\n", "'gloss_rate' must be between 0 and 1"),
        ("data: [1, 2]\n", "'data' must be a mapping"),
        ("train: {epochs: 3\n", "invalid YAML"),
        ("train:\n  batch_size: 0\n", "'train.batch_size' must be at least 1"),
        ("train:\n  epochs: 0\n", "'train.epochs' must be at least 1"),
        ("data:\n  window_chars: 0\n", "'data.window_chars' must be at least 1"),
    ],
)
def test_bad_config_is_one_clear_error_naming_key_and_file(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(NlpError) as err:
        load_config(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_shipped_configs_are_valid():
    for name in ("default", "tiny"):
        config = load_config(f"configs/{name}.yaml")
        assert config.labels == ["INSTITUTION", "PROGRAMME", "MONEY", "RATIO"]


def test_overrides_set_nested_values_and_are_validated():
    default = load_config(ROOT / "configs" / "default.yaml")
    config = load_config(ROOT / "configs" / "default.yaml", overrides=["augment.opencc=false", "train.epochs=3",
                                                             "augment.noise.enabled=false", "train.encoder_lr=1e-4"])
    assert (config.augment.opencc, config.train.epochs, config.augment.noise.enabled) == (False, 3, False)
    assert config.train.encoder_lr == 1e-4
    assert config.augment.mention_replacement == default.augment.mention_replacement
    assert "--set augment.opencc=false" in config.source
    with pytest.raises(NlpError, match="unknown key 'augment.opencs'"):
        load_config(ROOT / "configs" / "default.yaml", overrides=["augment.opencs=false"])
    with pytest.raises(NlpError, match="must look like KEY=VALUE"):
        load_config(ROOT / "configs" / "default.yaml", overrides=["augment.opencc"])
    with pytest.raises(NlpError, match="'train.epochs' must be int"):
        load_config(ROOT / "configs" / "default.yaml", overrides=["train.epochs=twelve"])


def test_evaluate_folds_scores_each_fold_on_its_held_out_document(tiny_model_dir, tmp_path, capsys):
    from nlp.annotations import read_jsonl
    from nlp.cli import main

    docs = read_jsonl(ROOT / "annotations" / "seeds.jsonl")
    cv_dir = tmp_path / "cv"
    cv_dir.mkdir()
    for doc in docs[:2]:
        (cv_dir / f"fold-{doc.id}").symlink_to(tiny_model_dir)
    assert main(["evaluate", str(cv_dir), "--folds", "--device", "cpu"]) == 2
    assert f"no fold model for document {docs[2].id}" in capsys.readouterr().err
    for doc in docs[2:]:
        (cv_dir / f"fold-{doc.id}").symlink_to(tiny_model_dir)
    out = tmp_path / "cv.json"
    svg = tmp_path / "confusion.svg"
    assert main(["evaluate", str(cv_dir), "--folds", "--device", "cpu", "--precision", "float32",
                 "--output", str(out), "--confusion", str(svg)]) == 0
    result = json.loads(out.read_text())
    assert svg.read_text().startswith("<svg")
    # every gold mention lands in exactly one cell of its row
    assert sum(sum(row.values()) for label, row in result["confusion"].items() if label != "spurious") == sum(
        len(d.entities) for d in docs)
    assert set(result["folds"]) == {d.id for d in docs}
    support = sum(len(d.entities) for d in docs)
    assert result["pooled"]["micro"]["support"] == support
    assert sum(f["scores"]["micro"]["support"] for f in result["folds"].values()) == support
    assert "pooled over 5 held-out documents (float32)" in capsys.readouterr().out


def test_stalled_loss_is_flagged():
    from nlp.train import has_converged

    assert has_converged([1.17, 0.47, 0.31, 0.19, 0.10, 0.02])
    assert not has_converged([1.15, 0.59, 0.59, 0.587, 0.585, 0.59])  # the all-O collapse seen in a CV fold
    assert has_converged([1.2, 0.6])  # too short to judge
    assert has_converged([2.10, 1.52, 1.21, 0.95])  # the tiny config: -55% in four epochs and still falling


def test_span_confusion_counts_each_outcome_once():
    from nlp.metrics import confusion_svg, span_confusion

    gold = [[(0, 4, "INSTITUTION"), (5, 9, "MONEY"), (10, 12, "RATIO"), (13, 15, "PROGRAMME")]]
    predicted = [[(0, 4, "INSTITUTION", 0.9), (5, 8, "MONEY", 0.9), (10, 12, "MONEY", 0.8), (20, 22, "PROGRAMME", 0.7)]]
    table = span_confusion(gold, predicted)
    assert table["INSTITUTION"]["INSTITUTION"] == 1
    assert table["MONEY"]["wrong edges"] == 1
    assert table["RATIO"]["MONEY"] == 1
    assert table["PROGRAMME"]["missed"] == 1
    assert table["spurious"]["PROGRAMME"] == 1
    assert sum(sum(row.values()) for row in table.values()) == 5
    svg = confusion_svg(table, "t")
    assert svg.startswith("<svg") and svg.count("<rect") == 1 + 5 * 6


def _write_passages(path, docs):
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")


@pytest.mark.slow
def test_extra_sources_are_sampled_into_every_epoch(tiny_config, tmp_path):
    passages = []
    for i in range(20):
        text, money = f"第{i}次，国务院投入{i + 1}亿元。", f"{i + 1}亿元"
        entities = [[text.find("国务院"), text.find("国务院") + 3, "INSTITUTION"],
                    [text.find(money), text.find(money) + len(money), "MONEY"]]
        passages.append({"id": f"p{i}", "text": text, "source": {"repo": "x"}, "entities": entities})
    _write_passages(tmp_path / "extra.jsonl", passages)
    base = replace(tiny_config, train=replace(tiny_config.train, epochs=2))
    plain = train(base, tmp_path / "plain", progress=False)
    extra = [{"path": str(tmp_path / "*.jsonl"), "share": 0.5, "augment": False}]
    config = replace(base, data=replace(base.data, extra=[]))
    from nlp.config import ExtraSource

    config.data.extra = [ExtraSource(**e) for e in extra]
    record = train(config, tmp_path / "with-extra", progress=False)
    assert record["extra_documents"] == {str(tmp_path / "*.jsonl"): 20}
    # half of the 20 one-window passages are drawn into each epoch; no augmentation drawn from them
    assert [n - p for n, p in zip(record["epoch_windows"], plain["epoch_windows"])] == [10, 10]
    assert record["optimizer_steps"] == record["scheduled_steps"]


def test_training_on_a_dev_real_passage_is_refused(tiny_config, tmp_path, monkeypatch):
    import nlp.paths
    from nlp.config import ExtraSource

    dev = {"id": "dev-1", "text": "国务院投入3亿元。", "entities": [[0, 3, "INSTITUTION"]]}
    (tmp_path / "ann").mkdir()
    _write_passages(tmp_path / "ann" / "dev_real.jsonl", [dev])
    _write_passages(tmp_path / "silver.jsonl", [dict(dev, id="renamed")])
    monkeypatch.setattr(nlp.paths, "ANNOTATIONS_DIR", tmp_path / "ann")
    config = replace(tiny_config, data=replace(tiny_config.data, extra=[ExtraSource(str(tmp_path / "silver.jsonl"))]))
    with pytest.raises(NlpError, match="dev_real.jsonl .evaluation only.: renamed"):
        train(config, tmp_path / "m", progress=False)


def test_bad_extra_source_is_one_clear_error(tmp_path):
    from nlp.config import config_from_dict

    with pytest.raises(NlpError, match=r"unknown key 'data.extra\[0\].weight'"):
        config_from_dict({"data": {"extra": [{"path": "x.jsonl", "weight": 2}]}}, "c.yaml")
    with pytest.raises(NlpError, match=r"'data.extra\[0\]' needs a 'path' and a positive 'share'"):
        config_from_dict({"data": {"extra": [{"path": "x.jsonl", "share": 0}]}}, "c.yaml")


@pytest.mark.slow
def test_retraining_gives_identical_weights_whatever_the_hash_seed(tmp_path):
    """Two processes with different PYTHONHASHSEED train the tiny config to byte-identical weights."""
    import hashlib
    import os
    import subprocess
    import sys

    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"m{hash_seed}"
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, "-m", "nlp", "train", str(ROOT / "configs" / "tiny.yaml"), "--output",
                        str(out), "--set", "train.epochs=1", "--set", "train.threads=1", "--quiet"],
                       check=True, env=env, capture_output=True)
        digests.append(hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


@pytest.mark.parametrize("entity, reason", [
    ([0, 99, "INSTITUTION"], "out of range"),
    ([3, 1, "INSTITUTION"], "out of range"),
    ([-1, 2, "INSTITUTION"], "out of range"),
    ([0, 3, "PERSON"], "unknown label"),
])
def test_training_refuses_gold_that_the_validator_rejects(tiny_config, tmp_path, entity, reason):
    gold = tmp_path / "gold.jsonl"
    _write_passages(gold, [{"id": "ok", "text": "国务院。", "entities": [[0, 3, "INSTITUTION"]]},
                           {"id": "bad", "text": "国务院投入3亿元。", "entities": [entity]}])
    config = replace(tiny_config, data=replace(tiny_config.data, gold=str(gold), eval_ids=[]))
    with pytest.raises(NlpError, match=rf"gold.jsonl:2: .*{reason}"):
        train(config, tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_training_refuses_overlapping_gold(tiny_config, tmp_path):
    gold = tmp_path / "gold.jsonl"
    _write_passages(gold, [{"id": "bad", "text": "国务院投入3亿元。",
                            "entities": [[0, 3, "INSTITUTION"], [2, 4, "PROGRAMME"]]}])
    config = replace(tiny_config, data=replace(tiny_config.data, gold=str(gold), eval_ids=[]))
    with pytest.raises(NlpError, match=r"gold.jsonl:1: .*overlaps"):
        train(config, tmp_path / "m", progress=False)


@pytest.mark.parametrize("override, message", [
    ("model.tokenizer=models/nope", "model.tokenizer models/nope is not a tokenizer directory"),
    ("model.random_init.hidden_sise=8", "unknown key 'model.random_init.hidden_sise'"),
])
def test_bad_model_settings_are_one_clear_error(tmp_path, capsys, override, message):
    from nlp.cli import main

    code = main(["train", str(ROOT / "configs" / "tiny.yaml"), "--output", str(tmp_path / "m"), "--set", override,
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "-1"], "train.epochs"),
    (["--epochs", "0"], "train.epochs"),
])
def test_command_line_overrides_go_through_the_config_validator(tmp_path, capsys, flags, message):
    from nlp.cli import main

    code = main(["train", str(ROOT / "configs" / "tiny.yaml"), "--output", str(tmp_path / "m"), "--quiet", *flags])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()
