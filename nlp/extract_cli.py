"""``nlp extract``: run the model over text files, directories, JSONL files or stdin, batch by batch.

Every input document becomes one output record ``{"id": ..., "entities": [...], "error": null | "message"}``.
Bad input (undecodable, binary, unreadable or missing files, broken JSONL lines) becomes an error record and the
run goes on; the exit status is 1 when any record failed. Inputs are read lazily, one batch of documents at a
time, so memory stays bounded by the batch (plus the set of ids already written).

With ``--output FILE`` the records stream into ``FILE.partial`` (flushed after every batch), which is renamed
onto ``FILE`` only when the run ends, so ``FILE`` is never half-written. ``--resume`` keeps the good records of
``FILE`` and ``FILE.partial`` and processes only the documents whose ids are not among them.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Iterator

from nlp.errors import NlpError, OutputError, where
from nlp.inference import DEVICES, PRECISION_HELP, PRECISIONS

LABEL_COLORS = {"INSTITUTION": "#7aecec", "PROGRAMME": "#feca74", "MONEY": "#a6e22d", "RATIO": "#c887fb"}
"""displaCy background colour per label (``--format html``)."""

TSV_COLUMNS = ("id", "start", "end", "label", "text", "score", "value", "unit", "approximate", "canonical", "error")
STDIN = "-"
_BINARY_SNIFF_BYTES = 8192


@dataclass
class Document:
    """One input document: ``text`` to run the model on, or ``error`` saying why there is none."""

    id: str | int
    text: str | None = None
    error: str | None = None
    entities: list = field(default_factory=list)

    def record(self) -> dict:
        return {"id": self.id, "entities": self.entities, "error": self.error}


# ---------------------------------------------------------------------------------------------------- inputs

def _open_input(path: Path):
    """Open an input file for binary reading (one place, so tests can simulate unreadable files as root)."""
    return open(path, "rb")


def _os_reason(err: OSError) -> str:
    return (err.strerror or type(err).__name__).lower()


def decode_text(data: bytes, name: str) -> tuple[str | None, str | None]:
    """``(text, None)`` for UTF-8 text, ``(None, error)`` for binary data or invalid UTF-8 (with line and byte)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its byte-order mark
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError as err:
            return None, f"{name}: invalid UTF-16 at byte offset {err.start} ({err.reason})"
    nul = data.find(b"\x00")
    if nul >= 0:
        return None, f"{name}: binary file (NUL byte at byte offset {nul}), not UTF-8 text"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark is not text: offsets index what follows it
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return None, f"{where(name, line)}: invalid UTF-8 at byte offset {err.start} ({err.reason})"


def read_text_file(path: Path, doc_id: str) -> Document:
    """A whole ``.txt`` file as one document; offsets will index the file decoded as UTF-8 (no newline changes)."""
    try:
        with _open_input(path) as handle:
            data = handle.read()
    except FileNotFoundError:
        return Document(doc_id, error=f"{path}: no such file")
    except IsADirectoryError:
        return Document(doc_id, error=f"{path}: is a directory")
    except OSError as err:
        return Document(doc_id, error=f"{path}: cannot read ({_os_reason(err)})")
    text, error = decode_text(data, str(path))
    return Document(doc_id, text=text, error=error)


def iter_jsonl(lines: Iterable[bytes], name: str, text_field: str, id_field: str) -> Iterator[Document]:
    """Documents from JSONL lines; a bad line becomes an error record naming ``name:line`` (blank lines skipped)."""
    for number, raw in enumerate(lines, 1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]  # a UTF-8 byte-order mark before the first record
        if not raw.strip():
            continue
        fallback_id = where(name, number)
        if b"\x00" in raw:
            yield Document(fallback_id, error=f"{fallback_id}: binary data (NUL byte), not a JSON line")
            continue
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            yield Document(fallback_id, error=f"{fallback_id}: invalid UTF-8 at byte offset {err.start} of the "
                                              f"line ({err.reason})")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield Document(fallback_id, error=f"{fallback_id}: not valid JSON ({err.msg}, column {err.pos + 1})")
            continue
        yield document_from_record(record, fallback_id, text_field, id_field)


def document_from_record(record, fallback_id: str, text_field: str, id_field: str) -> Document:
    """One parsed JSON record as a :class:`Document`: its id and text, or an error naming ``fallback_id`` (used
    by the JSONL reader and by the Ray engine, so both give the same reasons)."""
    if not isinstance(record, dict):
        return Document(fallback_id, error=f"{fallback_id}: not a JSON object (got {type(record).__name__})")
    doc_id = record.get(id_field)
    if doc_id is None:
        doc_id = fallback_id
    elif isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
        return Document(fallback_id, error=f"{fallback_id}: field {id_field!r} must be a string or an integer, "
                                          f"got {type(doc_id).__name__}")
    if text_field not in record:
        return Document(doc_id, error=f"{fallback_id}: no {text_field!r} field")
    text = record[text_field]
    if not isinstance(text, str):
        return Document(doc_id, error=f"{fallback_id}: field {text_field!r} must be a string, "
                                     f"got {type(text).__name__}")
    return Document(doc_id, text=text)


def read_jsonl_file(path: Path, text_field: str, id_field: str) -> Iterator[Document]:
    """Documents of a JSONL file, read line by line; an unreadable or binary file is one error record."""
    try:
        handle = _open_input(path)
    except FileNotFoundError:
        yield Document(str(path), error=f"{path}: no such file")
        return
    except IsADirectoryError:
        yield Document(str(path), error=f"{path}: is a directory")
        return
    except OSError as err:
        yield Document(str(path), error=f"{path}: cannot read ({_os_reason(err)})")
        return
    with handle:
        try:
            head = handle.peek(_BINARY_SNIFF_BYTES)[:_BINARY_SNIFF_BYTES] if hasattr(handle, "peek") else b""
        except OSError as err:
            yield Document(str(path), error=f"{path}: cannot read ({_os_reason(err)})")
            return
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 JSONL with its byte-order mark
            try:
                lines = handle.read().decode("utf-16").encode("utf-8").splitlines(keepends=True)
            except (OSError, UnicodeDecodeError) as err:
                yield Document(str(path), error=f"{path}: unreadable UTF-16 ({err})")
                return
            yield from iter_jsonl(lines, str(path), text_field, id_field)
            return
        nul = head.find(b"\x00")
        if nul >= 0:
            yield Document(str(path), error=f"{path}: binary file (NUL byte at byte offset {nul}), not JSONL")
            return
        try:
            yield from iter_jsonl(handle, str(path), text_field, id_field)
        except OSError as err:  # an I/O error in the middle of the file: report it, keep what was read
            yield Document(str(path), error=f"{path}: read failed ({_os_reason(err)})")


@dataclass
class Source:
    """One input to read: a text file, a JSONL file, stdin, or a path that could not be listed."""

    kind: str  # "text", "jsonl", "stdin-text", "stdin-jsonl", "error"
    path: Path | None = None
    error: str | None = None


def expand_inputs(paths: list[str], stdin_jsonl: bool = False) -> list[Source]:
    """The inputs in order: directories expanded to their ``*.txt`` files (recursive, sorted). Only names are
    listed here; contents are read later, batch by batch."""
    sources: list[Source] = []
    for arg in paths:
        if arg == STDIN:
            sources.append(Source("stdin-jsonl" if stdin_jsonl else "stdin-text"))
            continue
        path = Path(arg)
        if path.is_dir():
            sources += _list_directory(path)
        elif not path.exists() and not path.is_symlink():
            sources.append(Source("error", path, f"{path}: no such file or directory"))
        elif path.suffix.lower() == ".jsonl":
            sources.append(Source("jsonl", path))
        else:
            sources.append(Source("text", path))
    return sources


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _exclude_output(sources: list[Source], output: Path, paths: list[str]) -> list[Source]:
    """Refuse an output that is one of the named inputs (it would be replaced by the results); leave the output
    file and its ``.partial`` out of directory inputs (a second run would read its own earlier output)."""
    for arg in paths:
        if arg != STDIN and not Path(arg).is_dir() and _same_file(Path(arg), output):
            raise NlpError(f"--output {output}: is also an input; the results would replace it "
                           f"(write them to another file)")
    partial = output.with_name(output.name + ".partial")
    return [src for src in sources
            if src.path is None or not (_same_file(src.path, output) or _same_file(src.path, partial))]


def _list_directory(root: Path) -> list[Source]:
    found: list[Path] = []
    problems: list[Source] = []

    def on_error(err: OSError) -> None:
        name = Path(err.filename) if err.filename else root
        problems.append(Source("error", name, f"{name}: cannot list directory ({_os_reason(err)})"))

    for directory, _, files in os.walk(root, onerror=on_error):
        found += [Path(directory) / name for name in files if name.endswith(".txt")]
    return problems + [Source("text", path) for path in sorted(found)]


def iter_documents(sources: list[Source], text_field: str, id_field: str, stdin: IO | None = None
                   ) -> Iterator[Document]:
    """Documents of every source, lazily, in order."""
    for source in sources:
        if source.kind == "error":
            yield Document(str(source.path), error=source.error)
        elif source.kind == "text":
            yield read_text_file(source.path, str(source.path))
        elif source.kind == "jsonl":
            yield from read_jsonl_file(source.path, text_field, id_field)
        else:
            stream = stdin if stdin is not None else sys.stdin
            binary = getattr(stream, "buffer", stream)
            if source.kind == "stdin-jsonl":
                yield from iter_jsonl(binary, STDIN, text_field, id_field)
            else:
                data = binary.read()
                if isinstance(data, str):
                    data = data.encode("utf-8")
                text, error = decode_text(data, "<stdin>")
                yield Document(STDIN, text=text, error=error)


def count_documents(sources: list[Source]) -> int | None:
    """How many documents the sources hold (for the progress bar), or None when stdin is among them."""
    total = 0
    for source in sources:
        if source.kind.startswith("stdin"):
            return None
        if source.kind != "jsonl":
            total += 1
            continue
        if not source.path.is_file():  # a named pipe must not be read twice
            return None
        try:
            with _open_input(source.path) as handle:
                total += max(1, sum(1 for line in handle if line.strip()))
        except OSError:
            total += 1
    return total


# ---------------------------------------------------------------------------------------------------- outputs

def json_line(record) -> str:
    """One JSONL line; a record holding lone surrogates (an id or text from ``"\\ud83d"`` in the input) is
    written with ASCII escapes instead, so the line is valid UTF-8 and reads back to the same strings."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record)
    return line + "\n"


def _printable(text: str) -> str:
    """``text`` with lone surrogates written as ``\\udXXX`` escapes (for TSV and HTML, which have no escapes)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _tsv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = _printable(str(value))
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Writer:
    """Formats records onto a text stream: ``jsonl``, ``tsv`` (one row per entity) or ``html`` (displaCy)."""

    def __init__(self, stream: IO, fmt: str):
        self.stream = stream
        self.format = fmt
        self._html_tail = ""

    def begin(self) -> None:
        if self.format == "tsv":
            self.stream.write("\t".join(TSV_COLUMNS) + "\n")

    def write(self, docs: list[Document]) -> None:
        if self.format == "jsonl":
            for doc in docs:
                self.stream.write(json_line(doc.record()))
        elif self.format == "tsv":
            for doc in docs:
                # one row per entity; a document with none, or with an error, still gets one row (empty cells)
                rows = [[doc.id] + [e.get(key) for key in TSV_COLUMNS[1:-1]] + [None] for e in doc.entities]
                if not rows:
                    rows = [[doc.id] + [None] * (len(TSV_COLUMNS) - 2) + [doc.error]]
                for row in rows:
                    self.stream.write("\t".join(_tsv_cell(cell) for cell in row) + "\n")
        else:
            self._write_html(docs)

    def _write_html(self, docs: list[Document]) -> None:
        from spacy import displacy

        page = displacy.render([html_doc(doc) for doc in docs], style="ent", manual=True, page=True,
                               options={"colors": LABEL_COLORS}, jupyter=False)
        body = re.search(r"<body[^>]*>", page)
        close = page.rindex("</body>")
        if not self._html_tail:
            head = page[:body.end()].replace("<title>displaCy</title>",
                                              '<meta charset="utf-8">\n        <title>nlp extract</title>')
            self.stream.write(head)
            self._html_tail = page[close:]
        self.stream.write(page[body.end():close])

    def end(self) -> None:
        if self.format == "html":
            if not self._html_tail:
                self._write_html([])
            self.stream.write(self._html_tail + "\n")
        self.stream.flush()


def html_doc(doc: Document) -> dict:
    """displaCy's manual input for one record: its text with entity spans, titled by the (escaped) id."""
    title = html.escape(_printable(str(doc.id)))
    if doc.error is not None:
        return {"text": f"error: {doc.error}", "ents": [], "title": title, "settings": {"lang": "zh"}}
    ents = [{"start": e["start"], "end": e["end"], "label": e["label"]} for e in doc.entities]
    text = re.sub("[\ud800-\udfff]", "\ufffd", doc.text or "")  # one-to-one: entity offsets still fit
    return {"text": text, "ents": ents, "title": title, "settings": {"lang": "zh"}}


def _key(doc_id) -> str:
    return json.dumps(doc_id, ensure_ascii=False)


def read_done_records(paths: list[Path]) -> Iterator[tuple[str, dict]]:
    """``(id key, record)`` of every complete, successful record in earlier output files; a truncated or
    broken line (the one a killed run was writing) is ignored, as are error records (they are retried)."""
    for path in paths:
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            continue
        except OSError as err:
            raise NlpError(f"{path}: cannot read the earlier output to resume ({_os_reason(err)})") from None
        with handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    continue
                try:
                    record = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue
                if (isinstance(record, dict) and "id" in record and isinstance(record.get("entities"), list)
                        and record.get("error") is None):
                    yield _key(record["id"]), record


# ---------------------------------------------------------------------------------------------------- running

@dataclass
class Totals:
    documents: int = 0
    entities: int = 0
    errors: int = 0
    reused: int = 0
    duplicates: int = 0

    def summary(self) -> str:
        line = f"{self.documents} documents, {self.entities} entities, {self.errors} errors"
        if self.reused:
            line += f" ({self.reused} documents kept from the earlier run)"
        if self.duplicates:
            line += f"; {self.duplicates} duplicate ids skipped"
        return line


def batches(docs: Iterator[Document], size: int) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def fill_entities(docs: list[Document], batch_size: int, model=None, device: str = "auto",
                  precision: str = "auto") -> None:
    """Run the model over the documents that have text and set their ``entities`` (the local CLI and the Ray
    engine both call this, so their records are the same)."""
    from nlp import api

    texts = [doc for doc in docs if doc.error is None]
    if texts:
        results = api.extract_many([doc.text for doc in texts], batch_size=batch_size, model=model, device=device,
                                   precision=precision)
        for doc, entities in zip(texts, results):
            doc.entities = entities


def run_extract(args: argparse.Namespace) -> int:
    """The ``nlp extract`` command (see :func:`add_parser` for the options)."""
    from nlp import api

    if args.batch_size < 1:
        raise NlpError("--batch-size must be at least 1")
    if args.resume and (not args.output or args.output == STDIN):
        raise NlpError("--resume needs --output FILE (the file to continue)")
    if args.resume and args.format != "jsonl":
        raise NlpError("--resume works with --format jsonl only")
    paths = list(args.paths)
    if not paths:
        if sys.stdin is None or sys.stdin.isatty():
            raise NlpError("no input: give .txt/.jsonl files, directories, or - for stdin")
        paths = [STDIN]
    if paths.count(STDIN) > 1:
        raise NlpError("stdin (-) can be read only once")
    output = Path(args.output) if args.output and args.output != STDIN else None
    if output is not None:
        if output.is_dir():
            raise NlpError(f"--output {output}: is a directory")
        if not output.parent.is_dir():
            raise NlpError(f"--output {output}: directory {output.parent} does not exist")

    api.get_predictor(args.model, args.device, args.precision)  # a missing or broken model fails here, before any output

    sources = expand_inputs(paths, stdin_jsonl=args.jsonl)
    if output is not None:
        sources = _exclude_output(sources, output, paths)
    show_progress = not args.quiet and (args.progress or sys.stderr.isatty())
    totals = Totals()
    reused: set[str] = set()  # ids of the records kept from an earlier run (--resume)
    seen: set[str] = set()  # ids met in the inputs so far

    if output is None:
        stream, partial = sys.stdout, None
    else:
        partial = output.with_name(output.name + ".partial")
        try:
            if args.resume:
                _prepare_resume(output, partial, reused, totals)
                stream = open(partial, "a", encoding="utf-8", newline="\n")
            else:
                if partial.exists():
                    _note(f"replacing {partial} left by an earlier run (use --resume to continue it)", args)
                stream = open(partial, "w", encoding="utf-8", newline="\n")
        except OSError as err:
            raise NlpError(f"{err.filename or partial}: cannot write ({_os_reason(err)})") from None

    from tqdm import tqdm

    total = count_documents(sources) if show_progress else None
    bar = tqdm(total=total, unit="doc", desc="extract", file=sys.stderr, disable=not show_progress,
               dynamic_ncols=True)
    writer = Writer(stream, args.format)
    try:
        writer.begin()
        docs = iter_documents(sources, args.text_field, args.id_field)
        for batch in batches(docs, args.batch_size):
            todo = []
            for doc in batch:
                key = _key(doc.id)
                if key in seen:
                    totals.duplicates += 1
                    _warn(f"duplicate id {doc.id!r} skipped (only its first document is kept)", bar)
                    continue
                seen.add(key)
                if key not in reused:  # else written by the earlier run
                    todo.append(doc)
            bar.update(len(batch))
            fill_entities(todo, args.batch_size, args.model, args.device, args.precision)
            for doc in todo:
                totals.documents += 1
                totals.entities += len(doc.entities)
                if doc.error is not None:
                    totals.errors += 1
                    if not args.quiet:
                        _warn(doc.error, bar)
            writer.write(todo)
            stream.flush()
        writer.end()
    except BrokenPipeError:
        _silence_stdout()
        return 141
    except OSError as err:
        where_to = partial if partial is not None else "standard output"
        raise OutputError(f"{where_to}: cannot write the results ({_os_reason(err)}); the records written so far "
                          f"stay there{' (continue with --resume)' if partial is not None else ''}") from None
    finally:
        bar.close()
        if stream is not sys.stdout:
            try:
                stream.close()
            except OSError:
                pass  # the write error above is the one to report
    if partial is not None:
        try:
            _fsync(partial)
            os.replace(partial, output)
        except OSError as err:
            raise OutputError(f"{output}: cannot write the results ({_os_reason(err)})") from None
    print(totals.summary(), file=sys.stderr)
    return 1 if totals.errors or totals.duplicates else 0


def _prepare_resume(output: Path, partial: Path, reused: set, totals: Totals) -> None:
    """Rewrite ``partial`` to hold exactly the good records of ``partial`` and ``output`` (each id once), crash
    safely (through ``partial.new`` and a rename), and put their ids in ``reused``."""
    fresh = partial.with_name(partial.name + ".new")
    with open(fresh, "w", encoding="utf-8", newline="\n") as handle:
        for key, record in read_done_records([partial, output]):
            if key in reused:
                continue
            reused.add(key)
            handle.write(json_line(record))
            totals.reused += 1
            totals.entities += len(record["entities"])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(fresh, partial)
    totals.documents += totals.reused


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _warn(message: str, bar) -> None:
    bar.write(f"nlp: {message}", file=sys.stderr)


def _note(message: str, args: argparse.Namespace) -> None:
    if not args.quiet:
        print(f"nlp: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def add_parser(commands) -> argparse.ArgumentParser:
    """Register ``extract`` on the CLI's sub-command parsers."""
    parser = commands.add_parser(
        "extract", help="find entities in .txt files, directories, JSONL files or stdin",
        description="Find INSTITUTION, PROGRAMME, MONEY and RATIO mentions. One record per document: "
                    '{"id", "entities", "error"}. Bad inputs become error records (exit status 1); the run '
                    "goes on.")
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help=".txt file, directory (its *.txt files, recursively), .jsonl file, or - for stdin "
                             "(default: stdin when it is not a terminal)")
    parser.add_argument("--model", help="model directory (default: the shipped model, models/default)")
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="documents per model batch (32)")
    parser.add_argument("--output", "-o", metavar="FILE",
                        help="write here instead of stdout, atomically (through FILE.partial)")
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "tsv", "html"],
                        help="jsonl: one record per document; tsv: one row per entity; html: displaCy page")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished records of FILE / FILE.partial and process only the rest "
                             "(jsonl, with --output)")
    parser.add_argument("--jsonl", action="store_true", help="read stdin (-) as JSONL instead of one plain text")
    parser.add_argument("--text-field", default="text", metavar="NAME", help="JSONL field with the text (text)")
    parser.add_argument("--id-field", default="id", metavar="NAME",
                        help="JSONL field with the document id (id; missing: PATH:LINE)")
    parser.add_argument("--progress", action="store_true", help="show the progress bar even when stderr is not "
                                                                "a terminal")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no per-document error "
                                                                   "lines (the summary line stays)")
    parser.set_defaults(handler=run_extract)
    return parser
