"""Python API (the facade): ``nlp.extract(text)``, ``nlp.extract_many(texts)``, ``nlp.load()``.

The default model (``models/default``) is loaded once per process and device.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from nlp.entities import canonical_name, get_predictor, make_entity  # noqa: F401 (public re-exports)


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
