"""nlp: institutions, programmes, money amounts and ratios in Chinese news text."""
from nlp.schema import LABELS, Entity

__all__ = ["LABELS", "Entity"]
__version__ = "0.1.0"
