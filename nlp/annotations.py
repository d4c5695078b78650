"""Gold annotations: reading, validation, statistics and conversion.

The gold format is JSONL, one document per line:
``{"id": <seed file name>, "text": <exact file content>, "entities": [[start, end, label], ...]}``
with Python ``str`` offsets into the raw text (end exclusive).

Converters: CoNLL-style BIO with one character per line (whitespace characters written as escapes so the text
round-trips exactly) and Label Studio JSON (a list of tasks with ``labels`` results).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from nlp.errors import NlpError, where
from nlp.lang import ENCLOSING, QUOTES
from nlp.schema import LABELS



@dataclass
class Document:
    """A text with gold spans ``(start, end, label)`` into it."""

    id: str
    text: str
    entities: list[tuple[int, int, str]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    """Any other fields of the record (corpus passages: ``script``, ``noisy``, ``source``, ``half``), kept as read."""

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, **self.meta, "entities": [list(e) for e in self.entities]}


# --- reading ------------------------------------------------------------------------------------------------

def _parse_line(path: Path, line_no: int, line: str) -> Document:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise NlpError(f"{where(path, line_no)}: invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not isinstance(obj.get("id"), str):
        raise NlpError(f"{where(path, line_no)}: expected an object with string fields 'id' and 'text'")
    entities = obj.get("entities", [])
    if not isinstance(entities, list) or not all(
        isinstance(e, list) and len(e) == 3 and isinstance(e[0], int) and isinstance(e[1], int)
        and isinstance(e[2], str)
        for e in entities
    ):
        raise NlpError(f"{where(path, line_no)}: 'entities' must be a list of [start, end, label]")
    meta = {k: v for k, v in obj.items() if k not in ("id", "text", "entities")}
    return Document(obj["id"], obj["text"], [tuple(e) for e in entities], meta)


def read_jsonl(path: Path) -> list[Document]:
    """Read a gold JSONL file; a malformed line is an :class:`NlpError` naming file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise NlpError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise NlpError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    return [_parse_line(path, n, line) for n, line in enumerate(lines, 1) if line.strip()]


def write_jsonl(docs: list[Document], path: Path) -> None:
    """Write documents as gold JSONL (atomically: a temporary file renamed into place)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(path)


# --- validation ---------------------------------------------------------------------------------------------

def is_title_inside(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is exactly the inside of a ``《…》`` title (guideline decision 21)."""
    return start > 0 and end < len(text) and text[start - 1] == "《" and text[end] == "》"


def complete_titles(doc: Document) -> Document:
    """Guideline decision 21 applied mechanically: a PROGRAMME span that starts right after ``《`` and stops before
    the title's ``》`` only because of a bracketed or quoted tail (``《…法（征求意见稿）》``) covers the whole inside,
    and so does a PROGRAMME on only the quoted part of a title (``《“十四五”…行动计划》``)."""
    entities = sorted(doc.entities)
    result = []
    for k, (start, end, label) in enumerate(entities):
        if label == "PROGRAMME" and start > 0 and doc.text[start - 1] == "《":
            close = doc.text.find("》", end)
            opening = doc.text.find("《", end)
            following = entities[k + 1][0] if k + 1 < len(entities) else len(doc.text)
            tail = doc.text[end:close] if close != -1 else ""
            if (close != -1 and close < following and (opening == -1 or opening > close) and tail
                    and tail[0] in ENCLOSING and "\n" not in tail and len(tail) <= 20):
                end = close
        result.append((start, end, label))
    # a PROGRAMME on only the quoted part of a title (《“十四五”…行动计划》 -> 十四五) becomes the whole title
    for k, (start, end, label) in enumerate(result):
        if label != "PROGRAMME" or start < 2 or end >= len(doc.text):
            continue
        if doc.text[start - 1] not in QUOTES or doc.text[end] not in QUOTES:
            continue
        open_at = doc.text.rfind("《", 0, start)
        close_at = doc.text.find("》", end)
        if open_at == -1 or close_at == -1 or "》" in doc.text[open_at:start] or "《" in doc.text[end:close_at]:
            continue
        if "\n" in doc.text[open_at:close_at] or close_at - open_at > 60:
            continue
        others = [x for x in result if x is not result[k] and open_at < x[1] and x[0] < close_at]
        if not others:
            result[k] = (open_at + 1, close_at, label)
    return Document(doc.id, doc.text, sorted(result), dict(doc.meta))


def document_problems(doc: Document) -> list[str]:
    """Reasons the document's spans are invalid (empty list when valid)."""
    problems = []
    spans = sorted(doc.entities)
    for start, end, label in spans:
        name = f"span [{start}, {end}) {label}"
        if label not in LABELS:
            problems.append(f"{name}: unknown label (expected one of {', '.join(LABELS)})")
        if not 0 <= start < end <= len(doc.text):
            problems.append(f"{name}: offsets out of range for a text of {len(doc.text)} characters")
            continue
        surface = doc.text[start:end]
        title = is_title_inside(doc.text, start, end)
        for edge, char in (("starts", surface[0]), ("ends", surface[-1])):
            if char.isspace():
                problems.append(f"{name} {surface!r}: {edge} on whitespace")
            elif char in ENCLOSING and not (title and char not in "《》"):
                problems.append(f"{name} {surface!r}: {edge} on enclosing punctuation {char!r}")
    for (s1, e1, l1), (s2, e2, l2) in zip(spans, spans[1:]):
        if s2 < e1:
            problems.append(f"span [{s1}, {e1}) {l1} overlaps span [{s2}, {e2}) {l2}")
    return problems


def validate_file(path: Path, seeds_dir: Path | None = None, *, compare_seeds: bool = True) -> list[str]:
    """All problems in a gold JSONL file as ``file:line: reason`` strings.

    With ``compare_seeds`` (the default), each document's ``text`` must equal the content of the file named by its
    ``id`` in ``seeds_dir`` (default: the project's ``seeds/``); without it, only the records and spans are checked
    (gold data whose texts exist only in the JSONL, like ``annotations/synthetic_dev.jsonl``).
    """
    from nlp.paths import SEEDS_DIR

    path = Path(path)
    seeds_dir = Path(seeds_dir) if seeds_dir else SEEDS_DIR
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        return [f"{path}: cannot read ({err})"]
    problems = []
    seen = set()
    for line_no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = _parse_line(path, line_no, line)
        except NlpError as err:
            problems.append(str(err))
            continue
        if doc.id in seen:
            problems.append(f"{where(path, line_no)}: duplicate id {doc.id!r}")
        seen.add(doc.id)
        seed = seeds_dir / doc.id
        if compare_seeds and not seed.is_file():
            problems.append(f"{where(path, line_no)}: no seed file {seed}")
        elif compare_seeds and seed.read_text(encoding="utf-8") != doc.text:
            problems.append(f"{where(path, line_no)}: text differs from the seed file {seed}")
        problems += [f"{where(path, line_no)}: {p}" for p in document_problems(doc)]
    return problems


# --- statistics ---------------------------------------------------------------------------------------------

def format_stats(docs: list[Document]) -> str:
    """A table of mentions per label per document, with totals."""
    header = f"{'document':<28}" + "".join(f"{label:>13}" for label in LABELS) + f"{'total':>8}"
    rows = [header]
    totals: Counter = Counter()
    for doc in docs:
        counts = Counter(label for _, _, label in doc.entities)
        totals.update(counts)
        rows.append(f"{doc.id:<28}" + "".join(f"{counts[l]:>13}" for l in LABELS) + f"{sum(counts.values()):>8}")
    rows.append(f"{'total':<28}" + "".join(f"{totals[l]:>13}" for l in LABELS) + f"{sum(totals.values()):>8}")
    return "\n".join(rows)


def agreement(reference: list[Document], other: list[Document]) -> dict:
    """Exact-span P/R/F1 per label and micro of ``other`` against ``reference`` (documents matched by id)."""
    from nlp.metrics import span_scores

    by_id = {doc.id: doc for doc in other}
    missing = [doc.id for doc in reference if doc.id not in by_id]
    if missing:
        raise NlpError(f"documents missing from the second annotation: {', '.join(missing)}")
    return span_scores(
        [len(doc.text) for doc in reference],
        [doc.entities for doc in reference],
        [by_id[doc.id].entities for doc in reference],
    )


# --- CoNLL BIO ----------------------------------------------------------------------------------------------

_ESCAPES = {"\n": "\\n", "\t": "\\t", " ": "\\s", "\r": "\\r", "\\": "\\\\"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}


def _escape_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isspace() or not char.isprintable():
        return f"\\u{ord(char):04x}"
    return char


def _unescape_char(token: str) -> str:
    if token in _UNESCAPES:
        return _UNESCAPES[token]
    if token.startswith("\\u") and len(token) > 2:
        return chr(int(token[2:], 16))
    return token


def char_tags(doc: Document) -> list[str]:
    """One BIO tag per character of ``doc.text``."""
    from nlp.spans import char_bio

    return char_bio(len(doc.text), doc.entities)


def spans_from_tags(tags: list[str]) -> list[tuple[int, int, str]]:
    """Spans from BIO tags; an ``I-X`` that does not continue an ``X`` span starts a new one."""
    spans: list[tuple[int, int, str]] = []
    start, label = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, tag_label = tag.partition("-")
        continues = prefix == "I" and tag_label == label
        if start is not None and not continues:
            spans.append((start, i, label))
            start, label = None, None
        if prefix in ("B", "I") and not continues:
            start, label = i, tag_label
    return spans


def to_conll(docs: list[Document]) -> str:
    """CoNLL BIO: ``# id = NAME``, then ``CHAR<TAB>TAG`` per character, a blank line after each document."""
    blocks = []
    for doc in docs:
        lines = [f"# id = {doc.id}"]
        lines += [f"{_escape_char(c)}\t{t}" for c, t in zip(doc.text, char_tags(doc))]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def from_conll(text: str, source: str = "<conll>") -> list[Document]:
    """Parse :func:`to_conll` output back into documents."""
    docs = []
    doc_id, chars, tags = None, [], []

    def flush():
        if doc_id is not None or chars:
            docs.append(Document(doc_id or f"doc{len(docs)}", "".join(chars), spans_from_tags(tags)))

    for line_no, line in enumerate(text.split("\n"), 1):
        if line.startswith("# id = "):
            flush()
            doc_id, chars, tags = line[len("# id = "):], [], []
        elif line == "":
            continue
        else:
            token, sep, tag = line.rpartition("\t")
            if not sep or not (tag == "O" or tag[:2] in ("B-", "I-")):
                raise NlpError(f"{where(source, line_no)}: expected CHAR<TAB>TAG, got {line!r}")
            chars.append(_unescape_char(token))
            tags.append(tag)
    flush()
    return docs


# --- Label Studio -------------------------------------------------------------------------------------------

def to_label_studio(docs: list[Document]) -> list[dict]:
    """Label Studio tasks (``data.text`` + one annotation of ``labels`` results)."""
    tasks = []
    for doc in docs:
        results = [
            {
                "id": f"{doc.id}-{n}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {"start": s, "end": e, "text": doc.text[s:e], "labels": [label]},
            }
            for n, (s, e, label) in enumerate(doc.entities)
        ]
        tasks.append({"data": {"id": doc.id, "text": doc.text}, "annotations": [{"result": results}]})
    return tasks


def from_label_studio(tasks: list[dict], source: str = "<label-studio>") -> list[Document]:
    """Documents from Label Studio tasks (the first annotation of each task)."""
    docs = []
    for n, task in enumerate(tasks):
        try:
            data = task["data"]
            annotations = task.get("annotations") or [{"result": []}]
            spans = [
                (r["value"]["start"], r["value"]["end"], r["value"]["labels"][0])
                for r in annotations[0]["result"]
                if r.get("type") == "labels"
            ]
        except (KeyError, IndexError, TypeError) as err:
            raise NlpError(f"{source}: task {n} is not a Label Studio labels task ({err!r})") from None
        docs.append(Document(str(data.get("id", f"task{n}")), data["text"], sorted(spans)))
    return docs


def to_hf_dataset(docs: list[Document]):
    """The documents as a Hugging Face ``datasets.Dataset``: columns ``id``, ``text`` and ``entities`` (a list of
    ``{"start", "end", "label"}``), ready for ``save_to_disk`` or the Hub."""
    import datasets

    return datasets.Dataset.from_list([
        {"id": d.id, "text": d.text, "entities": [{"start": s, "end": e, "label": label} for s, e, label in d.entities]}
        for d in docs])


def from_hf_dataset(dataset, source: str = "<dataset>") -> list[Document]:
    """Documents from a ``datasets.Dataset`` with the columns of :func:`to_hf_dataset`; a row that lacks them is an
    :class:`NlpError` naming the source and the row."""
    missing = {"id", "text", "entities"} - set(dataset.column_names)
    if missing:
        raise NlpError(f"{source}: the dataset lacks the column(s) {', '.join(sorted(missing))} "
                       f"(expected id, text, entities)")
    docs = []
    for row_no, row in enumerate(dataset):
        try:
            spans = [(int(e["start"]), int(e["end"]), str(e["label"])) for e in row["entities"]]
        except (KeyError, TypeError, ValueError) as err:
            raise NlpError(f"{source}: row {row_no}: entities must be {{start, end, label}} records ({err!r})") from None
        docs.append(Document(str(row["id"]), row["text"], sorted(spans)))
    return docs


def read_any(path: Path) -> list[Document]:
    """Read gold JSONL, CoNLL (``.conll``/``.bio``), Label Studio JSON (``.json``) or a Hugging Face dataset
    directory (``datasets.Dataset.save_to_disk``), by file extension."""
    path = Path(path)
    if path.is_dir():
        import datasets

        try:
            dataset = datasets.load_from_disk(str(path))
        except FileNotFoundError as err:
            raise NlpError(f"{path}: not a dataset saved by datasets' save_to_disk ({err})") from None
        if isinstance(dataset, datasets.DatasetDict):
            raise NlpError(f"{path}: a DatasetDict with splits {', '.join(dataset)}; give one split's directory")
        return from_hf_dataset(dataset, str(path))
    if path.suffix in (".conll", ".bio"):
        return from_conll(path.read_text(encoding="utf-8"), str(path))
    if path.suffix == ".json":
        try:
            tasks = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise NlpError(f"{where(path, err.lineno)}: invalid JSON ({err.msg})") from None
        return from_label_studio(tasks, str(path))
    return read_jsonl(path)


def convert(src: Path, dst: Path, to: str) -> None:
    """Convert ``src`` (any supported format) to ``dst`` in format ``to`` (conll, labelstudio, jsonl, hf)."""
    docs = read_any(src)
    if to == "hf":
        to_hf_dataset(docs).save_to_disk(str(dst))
    elif to == "conll":
        Path(dst).write_text(to_conll(docs), encoding="utf-8")
    elif to == "labelstudio":
        Path(dst).write_text(json.dumps(to_label_studio(docs), ensure_ascii=False, indent=1), encoding="utf-8")
    elif to == "jsonl":
        write_jsonl(docs, dst)
    else:
        raise NlpError(f"unknown target format {to!r} (expected conll, labelstudio, jsonl or hf)")
