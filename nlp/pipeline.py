"""spaCy integration: a character tokenizer and the ``nlp_entities`` component.

Every character is one token, so entity offsets are exact whatever the model's pieces were. The component runs
the fine-tuned model (via :class:`nlp.inference.Predictor`) and sets ``doc.ents`` with span extensions
``._.score``, ``._.value``, ``._.unit``, ``._.approximate``, ``._.canonical``.

Both are registered through entry points (``spacy_factories``, ``spacy_tokenizers``), so
``spacy.load(path)`` works in a process that never imported ``nlp``; ``to_disk`` copies the model into the
pipeline directory.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

EXTENSIONS = ("score", "value", "unit", "approximate", "canonical")
for _name in EXTENSIONS:
    if not Span.has_extension(_name):
        Span.set_extension(_name, default=None)


class CharTokenizer:
    """One token per character (whitespace included), so ``doc.text`` is the input string exactly."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        return Doc(self.vocab, words=list(text), spaces=[False] * len(text))

    def to_disk(self, path, **kwargs):
        pass

    def from_disk(self, path, **kwargs):
        return self

    def to_bytes(self, **kwargs):
        return b""

    def from_bytes(self, data, **kwargs):
        return self


@spacy.registry.tokenizers("nlp.char_tokenizer.v1")
def create_char_tokenizer():
    def create(nlp: Language) -> CharTokenizer:
        return CharTokenizer(nlp.vocab)

    return create


class EntityRecognizer:
    """Pipeline component: sets ``doc.ents`` from the fine-tuned token classifier."""

    def __init__(self, name: str, model: str, device: str, batch_size: int, precision: str = "auto"):
        self.name = name
        self.model_dir = Path(model) if model else None
        self.device = device
        self.precision = precision
        self.batch_size = batch_size

    @property
    def predictor(self):
        from nlp.entities import get_predictor

        return get_predictor(self.model_dir, self.device, self.precision)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs, batch_size: int | None = None):
        """Docs with ``ents`` set, streamed: the input is read ``batch_size`` docs at a time, so the first doc comes
        out before a long (or endless) stream has been read."""
        import itertools

        from nlp.entities import make_entity

        size = batch_size or self.batch_size
        predictor = self.predictor
        stream = iter(docs)
        while chunk := list(itertools.islice(stream, size)):
            for doc, spans in zip(chunk, predictor.predict([doc.text for doc in chunk], batch_size=size)):
                ents = []
                for start, end, label, score in spans:
                    span = doc.char_span(start, end, label=label)
                    if span is None:  # cannot happen with character tokens; guard for foreign tokenizers
                        continue
                    entity = make_entity(doc.text, start, end, label, score)
                    for name in EXTENSIONS:
                        span._.set(name, getattr(entity, name))
                    ents.append(span)
                doc.ents = ents
                yield doc

    def to_disk(self, path, exclude=tuple()):
        from nlp.paths import DEFAULT_MODEL_DIR

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        source = Path(self.model_dir or DEFAULT_MODEL_DIR)
        if (path / "model").exists() and (path / "model").resolve() == source.resolve():
            return  # saving a loaded pipeline back where it came from: the model is already there
        shutil.copytree(source, path / "model", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.tmp", "training.json"))

    def from_disk(self, path, exclude=tuple()):
        self.model_dir = Path(path) / "model"
        return self


@Language.factory(
    "nlp_entities",
    default_config={"model": "", "device": "auto", "batch_size": 32, "precision": "auto"},
)
def make_entity_recognizer(nlp: Language, name: str, model: str, device: str, batch_size: int,
                           precision: str):
    """Factory of :class:`EntityRecognizer` (``model`` empty = the shipped default model)."""
    return EntityRecognizer(name, model, device, batch_size, precision)


def make_pipeline(model=None, device: str = "auto", precision: str = "auto") -> Language:
    """A blank multi-language pipeline with character tokens and the ``nlp_entities`` component."""
    nlp = spacy.blank("xx", config={"nlp": {"tokenizer": {"@tokenizers": "nlp.char_tokenizer.v1"}}})
    nlp.add_pipe("nlp_entities", config={"model": str(model) if model else "", "device": device,
                                         "precision": precision})
    return nlp
