"""nlp: institutions, programmes, money amounts and ratios in Chinese news text.

    >>> import nlp
    >>> nlp.extract("沁源縣人民醫院投入1300餘萬元")      # list of plain dicts
    >>> doc = nlp.load()("...")                        # spaCy Doc; doc.ents with span._.value etc.
"""
from nlp.api import extract, extract_many, load
from nlp.schema import LABELS, Entity

__all__ = ["LABELS", "Entity", "extract", "extract_many", "load"]
__version__ = "0.1.0"
