import json
from dataclasses import replace

import pytest

from nlp.config import load_config
from nlp.errors import NlpError
from nlp.inference import Predictor, load_model
from nlp.train import train


def test_tiny_training_loop_end_to_end(tiny_config, tmp_path):
    out = tmp_path / "model"
    record = train(tiny_config, out, progress=False)
    losses = record["epoch_losses"]
    assert len(losses) == tiny_config.train.epochs
    assert losses[-1] < losses[0] * 0.8, losses  # loss falls
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    assert (out / "tokenizer.json").is_file()
    saved = json.loads((out / "training.json").read_text())
    assert saved["eval_documents"] == ["002_c7556de24680051a.txt"]
    assert set(saved["eval_scores"]) == {"INSTITUTION", "PROGRAMME", "MONEY", "RATIO", "micro"}
    assert record["boundaries"]["spans"] > 200


def test_saved_model_reloads_and_predicts_the_same_labels(tiny_config, tmp_path):
    import torch

    out = tmp_path / "model"
    config = replace(tiny_config, train=replace(tiny_config.train, epochs=1))
    train(config, out, progress=False)
    model, tokenizer = load_model(out)
    ids = tokenizer(["即墨区人民医院投入1382.8元,占92.5%。"], return_tensors="pt")
    reloaded = Predictor(model=model, tokenizer=tokenizer, device="cpu")
    again = Predictor(out, device="cpu")
    with torch.inference_mode():
        a = reloaded.model(**ids).logits.argmax(-1)
        b = again.model(**ids).logits.argmax(-1)
    assert torch.equal(a, b)
    text = open("seeds/000_64dc6dbb97b84d12.txt", encoding="utf-8").read()
    assert reloaded.predict([text]) == again.predict([text])


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
