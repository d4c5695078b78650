"""Entity records: the predictor cache, and each predicted span turned into an :class:`~nlp.schema.Entity` with its
parsed value (MONEY, RATIO) or canonical name (INSTITUTION, PROGRAMME). Shared by the Python API and the spaCy
component, so neither imports the other.
"""
from __future__ import annotations

from pathlib import Path

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
