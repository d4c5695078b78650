import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Tiny models run fastest on one thread, and two spinning OpenMP threads per process slow everything down when
# tests start subprocesses (or share the machine); children inherit this through the environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))


@pytest.fixture(scope="session")
def seed_texts() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in SEEDS}


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory) -> Path:
    """A small sentencepiece-style (Unigram + Metaspace) fast tokenizer trained on the seeds in about a second,
    shaped like the real encoder's: <s> text </s>, offsets, multi-character pieces."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from nlp.text import clean

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=3000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                      unk_token="<unk>", max_piece_length=4)
    texts = [clean(path.read_text(encoding="utf-8")).text for path in SEEDS]
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A </s>",
                                                             special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    out = tmp_path_factory.mktemp("tokenizer")
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_config(tiny_tokenizer_dir):
    """configs/tiny.yaml with the fixture tokenizer (CI has no built base model)."""
    from nlp.config import load_config

    config = load_config(ROOT / "configs" / "tiny.yaml")
    config.model.tokenizer = str(tiny_tokenizer_dir)
    config.model.base = str(tiny_tokenizer_dir)
    return config


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_config, tmp_path_factory) -> Path:
    """A tiny random model trained for two epochs (shared by the inference tests)."""
    from dataclasses import replace

    from nlp.train import train

    config = replace(tiny_config, train=replace(tiny_config.train, epochs=2),
                     data=replace(tiny_config.data, eval_ids=[]))
    out = tmp_path_factory.mktemp("models") / "tiny"
    train(config, out, progress=False)
    return out
