"""Python API: ``nlp.extract(text)``, ``nlp.extract_many(texts)``, ``nlp.load()``.

The default model (``models/default``) is loaded once per process and device.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from nlp.schema import NAME_LABELS, VALUE_LABELS, Entity

_PREDICTORS: dict = {}


def get_predictor(model: str | Path | None = None, device: str = "auto", precision: str = "auto"):
    """A cached :class:`~nlp.inference.Predictor` for ``model`` (default: the shipped model)."""
    from nlp.inference import Predictor, resolve_device, resolve_precision
    from nlp.paths import DEFAULT_MODEL_DIR

    path = Path(model) if model else DEFAULT_MODEL_DIR
    device = resolve_device(device)
    key = (str(path.resolve()), device, resolve_precision(precision, device))
    if key not in _PREDICTORS:
        _PREDICTORS[key] = Predictor(path, device=device, precision=key[2])
    return _PREDICTORS[key]


def canonical_name(surface: str) -> str:
    """A name's canonical form: scrape noise removed, whitespace dropped, simplified script (OpenCC t2s)."""
    from nlp.text import clean, to_simplified

    return "".join(to_simplified(clean(surface).text).split())


def make_entity(text: str, start: int, end: int, label: str, score: float) -> Entity:
    """The entity record for span ``text[start:end]``, with parsed value or canonical name."""
    from nlp.text import clean
    from nlp.values import parse_value

    surface = text[start:end]
    entity = Entity(surface, label, start, end, round(float(score), 4))
    if label in VALUE_LABELS:
        parsed = parse_value(label, clean(surface).text)
        entity.value, entity.unit, entity.approximate = parsed["value"], parsed["unit"], parsed["approximate"]
    elif label in NAME_LABELS:
        entity.canonical = canonical_name(surface)
    return entity


def extract_many(texts: Iterable[str], batch_size: int = 32, model: str | Path | None = None,
                 device: str = "auto", precision: str = "auto") -> list[list[dict]]:
    """Entities of each text as plain dicts; offsets index the original strings, so
    ``text[e["start"]:e["end"]] == e["text"]`` always holds. ``precision``: see :class:`nlp.inference.Predictor`."""
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
    predictor = get_predictor(model, device, precision)
    results = []
    for text, spans in zip(texts, predictor.predict(texts, batch_size=batch_size)):
        results.append([make_entity(text, s, e, label, score).to_dict() for s, e, label, score in spans])
    return results


def extract(text: str, model: str | Path | None = None, device: str = "auto",
            precision: str = "auto") -> list[dict]:
    """Entities in one text: ``[{text, label, start, end, score, ...}]`` (see :func:`extract_many`)."""
    if not isinstance(text, str):
        raise TypeError(f"extract() expects str, got {type(text).__name__}")
    return extract_many([text], model=model, device=device, precision=precision)[0]


def load(model: str | Path | None = None, device: str = "auto", precision: str = "auto"):
    """A spaCy ``Language``: character tokens and an ``nlp_entities`` component running the model."""
    from nlp.pipeline import make_pipeline

    return make_pipeline(model, device, precision)
