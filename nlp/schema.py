"""The label set and the entity record: defined once, used by every other module."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Union

LABELS: tuple[str, ...] = ("INSTITUTION", "PROGRAMME", "MONEY", "RATIO")
"""Entity labels, in a fixed order (BIO label ids derive from it)."""

VALUE_LABELS = frozenset({"MONEY", "RATIO"})
"""Labels whose spans carry a parsed numeric value."""

NAME_LABELS = frozenset({"INSTITUTION", "PROGRAMME"})
"""Labels whose spans carry a canonical (cleaned, simplified) name."""

Number = Union[int, float]
Value = Union[Number, list]  # a number, or [low, high] for ranges


def bio_labels(labels: tuple[str, ...] = LABELS) -> list[str]:
    """BIO tag inventory: ``O`` then ``B-X``, ``I-X`` for each label, in label order."""
    tags = ["O"]
    for label in labels:
        tags += [f"B-{label}", f"I-{label}"]
    return tags


@dataclass
class Entity:
    """One extracted mention; ``start``/``end`` are character offsets into the caller's original string."""

    text: str
    label: str
    start: int
    end: int
    score: float = 1.0
    value: Optional[Value] = None
    unit: Optional[str] = None
    approximate: Optional[bool] = None
    canonical: Optional[str] = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown label {self.label!r}; expected one of {', '.join(LABELS)}")
        if not 0 <= self.start < self.end:
            raise ValueError(f"bad span [{self.start}, {self.end})")

    def to_dict(self) -> dict:
        """Plain dict: value fields only for MONEY/RATIO, ``canonical`` only for names."""
        record = asdict(self)
        if self.label in VALUE_LABELS:
            record.pop("canonical")
        else:
            for key in ("value", "unit", "approximate"):
                record.pop(key)
        return record
