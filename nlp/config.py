"""Training configuration: YAML files in ``configs/`` validated into dataclasses.

Every key has a type and a default here; an unknown key or a value of the wrong type is one :class:`NlpError`
naming the key and the file. Relative paths in a config resolve against the project root.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

from nlp.errors import NlpError
from nlp.inference import DEVICES
from nlp.schema import LABELS


@dataclass
class ExtraSource:
    path: str = ""
    """Gold/silver JSONL file (a glob pattern may name several) trained on alongside ``data.gold``."""
    share: float = 1.0
    """Windows drawn from this source each epoch, as a share of its windows (sampled afresh every epoch with
    the training seed; 0.5 = half of them, 2.0 = each window about twice)."""
    augment: bool = False
    """Also draw augmented copies (``augment``) from this source's windows."""


@dataclass
class DataConfig:
    gold: str = "annotations/seeds.jsonl"
    """Gold JSONL (see annotations/GUIDELINES.md); cross-validation folds are its documents."""
    extra: list = field(default_factory=list)
    """Further training sources, each a mapping with the keys of :class:`ExtraSource` (``path``, ``share``,
    ``augment``). Never cross-validated over; a passage of ``annotations/dev_real.jsonl`` in one is an error."""
    train_ids: list = field(default_factory=list)
    """Document ids to train on; empty = every document not in ``eval_ids``."""
    eval_ids: list = field(default_factory=list)
    """Document ids held out for evaluation after training."""
    window_chars: int = 128
    """Maximum characters per training window (windows split at sentence ends, never inside an entity)."""


@dataclass
class MentionReplacementConfig:
    enabled: bool = True
    probability: float = 0.7
    """Chance that each gold mention in a copy is swapped for a generated one of the same label."""
    value_copies: int = 0
    """Extra copies per epoch of each window holding MONEY/RATIO, every value mention regenerated."""
    swap_values: float = 0.0
    """Chance that a replaced MONEY becomes a generated RATIO and vice versa (few ratios in the seeds)."""


@dataclass
class NoiseConfig:
    enabled: bool = True
    gloss_rate: float = 0.03
    """Share of hanzi followed by a broken pinyin gloss (``?shù)``) in a noisy copy."""
    space_rate: float = 0.02
    """Share of characters followed by a stray space."""


@dataclass
class AugmentConfig:
    copies: int = 1
    """Augmented copies of each training window, drawn afresh every epoch."""
    opencc: bool = True
    """Add a simplified<->traditional (OpenCC) copy of every training window."""
    mention_replacement: MentionReplacementConfig = field(default_factory=MentionReplacementConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 16
    encoder_lr: float = 5e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    o_weight: float = 1.0
    """Loss weight of the O class (below 1 counters class imbalance)."""
    seed: int = 13
    device: str = "auto"
    """auto, cpu or cuda."""
    threads: int = 0
    """CPU threads for torch (0 = torch's default)."""


@dataclass
class ModelConfig:
    base: str = "models/base"
    """Pretrained encoder directory; built by ``nlp base build`` when it is missing and equal to the default."""
    random_init: dict = field(default_factory=dict)
    """For tests: build a tiny randomly-initialised BERT with these BertConfig fields instead of loading ``base``
    (the tokenizer still comes from ``tokenizer``)."""
    tokenizer: str = ""
    """Tokenizer directory when it differs from ``base``."""
    isolate: str = ""
    """Characters the tokenizer always emits as pieces of their own (e.g. ``%‰元``), saved with the model."""
    save_dtype: str = "float16"
    """float16 or float32 weights in the saved model."""


@dataclass
class Config:
    labels: list = field(default_factory=lambda: list(LABELS))
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    source: str = ""
    """The file this config was read from (set by :func:`load_config`)."""

    def to_dict(self) -> dict:
        record = dataclasses.asdict(self)
        record.pop("source")
        return record


_CHOICES = {
    "train.device": set(DEVICES),
    "model.save_dtype": {"float16", "float32"},
}


_AT_LEAST_ONE = {"train.epochs", "train.batch_size", "data.window_chars"}


def _build(cls, values: dict, prefix: str, source: str):
    if not isinstance(values, dict):
        raise NlpError(f"{source}: '{prefix.rstrip('.') or 'top level'}' must be a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise NlpError(f"{source}: unknown key '{name}' (allowed here: {', '.join(sorted(known))})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value, f"{name}.", source)
            continue
        kwargs[key] = _check_value(name, hint, value, source)
    return cls(**kwargs)


def _check_value(name: str, hint, value, source: str):
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
        list: isinstance(value, list),
        dict: isinstance(value, dict),
    }[hint]
    if not ok:
        raise NlpError(f"{source}: '{name}' must be {hint.__name__}, got {value!r}")
    if hint in (int, float) and value < 0:
        raise NlpError(f"{source}: '{name}' must not be negative, got {value!r}")
    if name in _AT_LEAST_ONE and value < 1:
        raise NlpError(f"{source}: '{name}' must be at least 1, got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise NlpError(f"{source}: '{name}' must be one of {', '.join(sorted(_CHOICES[name]))}, got {value!r}")
    return float(value) if hint is float else value


def config_from_dict(values: dict, source: str = "<config>") -> Config:
    """Validate a mapping into a :class:`Config`."""
    config = _build(Config, values or {}, "", source)
    config.source = source
    unknown = [label for label in config.labels if label not in LABELS]
    if unknown or not config.labels:
        raise NlpError(f"{source}: 'labels' must be a non-empty subset of {', '.join(LABELS)}, got {config.labels}")
    config.data.extra = [_build(ExtraSource, item, f"data.extra[{i}].", source)
                         for i, item in enumerate(config.data.extra)]
    for i, extra in enumerate(config.data.extra):
        if not extra.path or extra.share <= 0:
            raise NlpError(f"{source}: 'data.extra[{i}]' needs a 'path' and a positive 'share'")
    for key in ("probability", "swap_values", "gloss_rate", "space_rate", "warmup_ratio"):
        for section in (config.augment.mention_replacement, config.augment.noise, config.train):
            if hasattr(section, key) and getattr(section, key) > 1:
                raise NlpError(f"{source}: '{key}' must be between 0 and 1, got {getattr(section, key)}")
    return config


def apply_overrides(values: dict, overrides: list[str], source: str) -> dict:
    """Set dotted ``KEY=VALUE`` overrides (values parsed as YAML) into a config mapping."""
    import yaml

    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise NlpError(f"{source}: override {item!r} must look like KEY=VALUE, e.g. augment.opencc=false")
        *parents, leaf = key.strip().split(".")
        node = values
        for i, part in enumerate(parents):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise NlpError(f"{source}: override {item!r}: '{'.'.join(parents[:i + 1])}' is not a section")
            node = child
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise NlpError(f"{source}: override {item!r}: value is not valid YAML") from None
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        node[leaf] = value
    return values


def load_config(path: Path, overrides: list[str] = ()) -> Config:
    """Read and validate a YAML config file, with optional dotted ``KEY=VALUE`` overrides applied on top."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NlpError(f"{path}: no such config file") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise NlpError(f"{path}{line}: invalid YAML ({getattr(err, 'problem', err)})") from None
    source = str(path)
    if overrides:
        values = apply_overrides(values or {}, list(overrides), source)
        source += " (with " + " ".join(f"--set {o}" for o in overrides) + ")"
    return config_from_dict(values, source)


def resolve_path(value: str) -> Path:
    """A config path: absolute as given, relative to the project root otherwise."""
    from nlp.paths import PROJECT_ROOT

    path = Path(value)
    return path if path.is_absolute() else PROJECT_ROOT / path
