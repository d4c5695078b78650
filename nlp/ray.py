"""Scale-out on a Ray cluster (Ray Data): the same records as ``nlp extract``, spread over an actor pool.

Needs the optional extra: ``pip install -e '.[ray]'`` (``ray[data]``, ``pyarrow``); the rest of the package never
imports ray. Each actor loads the predictor once (the package's own :func:`~nlp.entities.get_predictor`, with its
device and precision choice) and builds records with the local CLI's code (:func:`nlp.extract_cli.fill_entities`,
:func:`nlp.extract_cli.document_from_record`), so records are identical to a local run.

Output rows are ``{"id", "entities", "error"}`` with ``id`` and ``entities`` stored as JSON text (ids may mix
strings and integers, and entities are nested; both are awkward as Arrow types). :func:`to_record` turns a row back
into the local record; :func:`write_records` writes JSONL shards holding exactly the local records.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import ray
import ray.data

from nlp.extract_cli import Document, decode_text, document_from_record, fill_entities, iter_jsonl, json_line

OUTPUT_COLUMNS = ("id", "entities", "error")
MAX_RESTARTS = 4
"""How often Ray restarts a dead extraction actor (its unfinished batches are rerun on the new one)."""


def _row(doc: Document) -> dict:
    return {"id": json.dumps(doc.id, ensure_ascii=False), "entities": json.dumps(doc.entities, ensure_ascii=False),
            "error": doc.error}


def to_record(row: dict) -> dict:
    """An output row as the local CLI's record ``{"id", "entities", "error"}``."""
    return {"id": json.loads(row["id"]), "entities": json.loads(row["entities"]), "error": row["error"]}


def _columns(rows: list[dict]) -> dict:
    import pyarrow as pa

    return pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in OUTPUT_COLUMNS})


class Extractor:
    """The ``map_batches`` callable: one predictor per actor, loaded in ``__init__``."""

    def __init__(self, text_column="text", id_column="id", model=None, batch_size=32, device="auto",
                 precision="auto"):
        from nlp.entities import get_predictor

        self.text_column, self.id_column = text_column, id_column
        self.model, self.batch_size, self.device, self.precision = model, batch_size, device, precision
        get_predictor(model, device, precision)  # loaded (and cached in this process) once, not per batch

    def documents(self, batch) -> list[Document]:
        """The batch's rows as documents. Rows made by :func:`read_inputs` carry a ready ``_doc`` (JSON); other rows
        are checked like a JSONL record (missing text, not a string, bad id -> error documents)."""
        rows = batch.to_pylist()
        docs = []
        for number, row in enumerate(rows):
            if "_doc" in row and row["_doc"] is not None:
                data = json.loads(row["_doc"])
                docs.append(Document(data["id"], text=data["text"], error=data["error"]))
                continue
            fallback = row.get("_where") or f"row {number}"
            record = {k: v for k, v in row.items() if v is not None and not k.startswith("_")}
            docs.append(document_from_record(record, fallback, self.text_column, self.id_column))
        return docs

    def __call__(self, batch):
        docs = self.documents(batch)
        fill_entities(docs, self.batch_size, self.model, self.device, self.precision)
        return _columns([_row(doc) for doc in docs])


def extract_dataset(ds, text_column: str = "text", id_column: str = "id", model=None, actors=None,
                    gpus_per_actor: float = 0, batch_size: int = 32, device: str = "auto",
                    precision: str = "auto", *, extractor=Extractor):
    """A Dataset of ``{"id", "entities", "error"}`` rows (``id``/``entities`` as JSON text, see :func:`to_record`)
    for the rows of ``ds``. ``actors``: a fixed pool size (int), an autoscaling ``(min, max)`` pair, or None (as many
    as the cluster's CPUs allow, up to 1 per CPU). ``gpus_per_actor``: GPUs reserved per actor (fractions share a
    GPU). A killed actor is restarted and its batches rerun, so every input row gives one output row."""
    if actors is None:
        cpus = int(ray.cluster_resources().get("CPU", 1)) if ray.is_initialized() else 1
        actors = (1, max(1, cpus))
    elif isinstance(actors, int) and actors < 1:
        raise ValueError("actors must be at least 1")
    if model is not None:
        model = str(Path(model).resolve())
    return ds.map_batches(
        extractor,
        fn_constructor_kwargs={"text_column": text_column, "id_column": id_column, "model": model,
                               "batch_size": batch_size, "device": device, "precision": precision},
        batch_size=batch_size, batch_format="pyarrow", concurrency=actors,
        num_cpus=1, num_gpus=gpus_per_actor or None,
        max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS,
    )


# ---------------------------------------------------------------------------------------------------- CLI inputs

PARQUET_SUFFIXES = (".parquet", ".pq")


def _file_docs(batch, text_field: str, id_field: str):
    """Whole input files (bytes) -> one row per document, parsed by the local readers (same ids and errors)."""
    import pyarrow as pa

    out = []
    for path, data in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist()):
        if path.endswith(".txt"):
            text, error = decode_text(data, path)
            docs = [Document(path, text=text, error=error)]
        else:
            docs = iter_jsonl(data.splitlines(keepends=True), path, text_field, id_field)
        out.extend(json.dumps({"id": d.id, "text": d.text, "error": d.error}, ensure_ascii=False) for d in docs)
    return pa.table({"_doc": pa.array(out, pa.string())})


def _expand(paths: list[str], suffixes) -> list[str]:
    files = []
    for arg in paths:
        path = Path(arg)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.name.endswith(suffixes))
        elif arg.endswith(suffixes) or "://" in arg:
            files.append(arg)
    return files


def read_inputs(paths: list[str], text_field: str = "text", id_field: str = "id", parallelism: int | None = None):
    """A Dataset of the documents in ``paths``: JSONL and ``.txt`` files (read whole, parsed by the local readers,
    so ids and error reasons match a local run) and Parquet files (rows checked like JSONL records); directories
    are searched recursively."""
    text_files = _expand(paths, (".jsonl", ".txt"))
    parquet = _expand(paths, PARQUET_SUFFIXES)
    missing = [p for p in paths if "://" not in p and not Path(p).exists()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: no such file or directory")
    parts = []
    if text_files:
        parts.append(ray.data.read_binary_files(text_files, include_paths=True)
                     .map_batches(_file_docs, batch_format="pyarrow", batch_size=1,
                                  fn_kwargs={"text_field": text_field, "id_field": id_field}))
    if parquet:
        parts.append(ray.data.read_parquet(parquet))
    if not parts:
        raise ValueError("no .jsonl, .txt or .parquet inputs found")
    ds = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
    return ds.repartition(parallelism) if parallelism else ds


# ---------------------------------------------------------------------------------------------------- outputs

def _write_shard(batch, directory: str):
    """Write one batch as a JSONL shard named by a hash of its content: a rerun batch overwrites its own shard
    (through a temporary file and a rename) instead of adding a second copy."""
    import pyarrow as pa

    rows = batch.to_pylist()
    text = "".join(json_line(to_record(row)) for row in rows)
    name = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:20] + ".jsonl"
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n", errors="surrogatepass") as handle:
        handle.write(text)
    os.replace(tmp, os.path.join(directory, name))
    return pa.table({"shard": [name], "records": [len(rows)],
                     "errors": [sum(row["error"] is not None for row in rows)]})


def write_records(ds, directory, fmt: str = "jsonl") -> dict:
    """Write the output rows of :func:`extract_dataset` under ``directory``: JSONL shards of the local records, or
    Parquet (``id``/``entities`` as JSON text). Returns ``{"records": n, "errors": m}``."""
    directory = str(Path(directory).resolve())
    os.makedirs(directory, exist_ok=True)
    if fmt == "parquet":
        ds = ds.materialize()
        ds.write_parquet(directory)
        errors = ds.filter(lambda row: row["error"] is not None).count()
        return {"records": ds.count(), "errors": errors}
    summary = ds.map_batches(_write_shard, fn_kwargs={"directory": directory}, batch_format="pyarrow",
                             batch_size=1000).take_all()
    return {"records": sum(s["records"] for s in summary), "errors": sum(s["errors"] for s in summary)}


def read_records(directory) -> list[dict]:
    """The records written by :func:`write_records` (JSONL shards or Parquet), in no particular order."""
    directory = Path(directory)
    records = []
    for path in sorted(directory.rglob("*.jsonl")):
        with open(path, encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    parquet = sorted(directory.rglob("*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        for path in parquet:
            records.extend(to_record(row) for row in pq.read_table(path).to_pylist())
    return records
