"""Run a fine-tuned token classifier over any texts: clean -> windows -> pieces -> model -> exact character spans.

:class:`Predictor` is the one inference path used by ``nlp.extract``, the spaCy component, ``nlp evaluate`` and
the benchmark. Spans come back as ``(start, end, label, score)`` with offsets into each ORIGINAL text.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from nlp.errors import NlpError
from nlp.pieces import decode, decode_marginal, decode_viterbi, encode_texts
from nlp.rules import apply_rules
from nlp.schema import LABELS
from nlp.text import clean, span_to_raw
from nlp.windows import context_windows

DEFAULT_WINDOW_CHARS = 128
WINDOW_CONTEXT_CHARS = 32  # longer than any name in the gold data, short enough to keep windows cheap
DEVICES = ("auto", "cpu", "cuda")
"""Device choices of every command and config (``auto``: CUDA when available)."""
PRECISIONS = ("auto", "float32", "bfloat16", "float16", "int8")
PRECISION_HELP = ("matrix-product precision: auto (default: bfloat16 on CPUs with native bfloat16, float16 on CUDA, "
                  "else float32), float32, bfloat16, float16 (CUDA) or int8 (CPU, costs accuracy)")

_FORK_HOOK = []


def _one_thread_after_fork() -> None:
    """A process forked after torch ran (spaCy ``pipe(n_process=2)``, multiprocessing) would deadlock on the
    parent's OpenMP thread pool at its first matrix product; a forked child computes on one thread instead (the
    processes share the cores anyway)."""
    if not _FORK_HOOK:
        import os

        import torch

        os.register_at_fork(after_in_child=lambda: torch.set_num_threads(1))
        _FORK_HOOK.append(True)


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise NlpError("--device cuda asked for, but torch sees no CUDA GPU (use --device cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise NlpError(f"unknown device {device!r} (expected auto, cpu or cuda)")
    return device


@functools.lru_cache(maxsize=1)
def cpu_has_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere bfloat16 is emulated and slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> ``bfloat16`` on CPUs with native bfloat16, ``float16`` on CUDA, else ``float32``."""
    if precision not in PRECISIONS:
        raise NlpError(f"unknown precision {precision!r} (expected {', '.join(PRECISIONS)})")
    if precision == "auto":
        if device == "cuda":
            return "float16"
        return "bfloat16" if cpu_has_bfloat16() else "float32"
    if precision == "int8" and device != "cpu":
        raise NlpError("int8 quantisation is for CPU inference (use --device cpu)")
    if precision == "float16" and device == "cpu":
        raise NlpError("float16 is for CUDA; on CPU use bfloat16 or float32")
    return precision


class Predictor:
    """Entity spans from a fine-tuned token-classifier directory (or an already loaded model and tokenizer).

    ``precision``: ``float32``; ``bfloat16`` / ``float16`` (matrix products in half precision under autocast,
    layer norms and softmax in float32); ``int8`` (dynamic int8 linear layers, CPU); ``auto`` picks bfloat16
    on CPUs that multiply it natively, float16 on CUDA, float32 otherwise. Measured in the model card and README.
    """

    def __init__(self, model_dir: Path | str | None = None, device: str = "auto", *, model=None, tokenizer=None,
                 batch_size: int = 32, window_chars: int | None = None, decoding: str = "viterbi",
                 precision: str = "auto", rules: bool = True, programme_list: bool = True,
                 boundaries: str = "none"):
        import torch

        _one_thread_after_fork()
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        if model is None:
            model, tokenizer = load_model(Path(model_dir))
        self.model = model.to(self.device).eval()
        if next(self.model.parameters()).dtype != torch.float32:
            self.model = self.model.float()  # saved in float16; autocast decides the matmul precision
        if self.precision == "int8":
            # dynamic int8 linear layers with per-channel weight scales
            import warnings

            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            with warnings.catch_warnings():  # torch.ao deprecation notices; the API still works in this torch
                warnings.simplefilter("ignore")
                self.model = quantize_dynamic(self.model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                              dtype=torch.qint8)
        self.tokenizer = tokenizer
        self.pad_id = self.model.config.pad_token_id or 0
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.batch_size = batch_size
        self.decoding = decoding
        """``marginal`` (see :func:`nlp.pieces.decode_marginal`), ``viterbi`` (BIO-constrained best path,
        :func:`nlp.pieces.decode_viterbi`) or ``argmax`` per piece."""
        self.rules = rules
        """Apply :mod:`nlp.rules` to the decoded spans (off only to measure what they do)."""
        self.programme_list = programme_list
        """Let the rules add and cut PROGRAMME spans by ``nlp/resources/programmes.yaml`` (off only to measure it)."""
        if boundaries != "none":
            from nlp.boundaries import SEGMENTERS, word_edges

            if boundaries not in SEGMENTERS:
                raise NlpError(f"unknown boundaries {boundaries!r} (expected one of {', '.join(SEGMENTERS)})")
            word_edges("", boundaries)  # load the segmenter now: a missing package fails here, not mid-run
        self.boundaries = boundaries
        """``none``, or a segmenter (``jieba``) whose word edges INSTITUTION / PROGRAMME edges snap to before the
        span rules (:func:`nlp.boundaries.snap_spans`; measured in the model card, off by default)."""
        self.window_chars = window_chars or getattr(self.model.config, "window_chars", DEFAULT_WINDOW_CHARS)
        self.window_context = WINDOW_CONTEXT_CHARS
        """Characters of context added on each side of a window edge that cuts a run with no punctuation."""

    def _autocast(self):
        import contextlib

        import torch

        if self.precision in ("bfloat16", "float16"):
            return torch.autocast(self.device, dtype=getattr(torch, self.precision))
        return contextlib.nullcontext()

    def logits(self, ids, mask):
        """Model logits (float32) for a padded batch of piece ids."""
        import torch

        with torch.inference_mode(), self._autocast():
            output = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device))
        return getattr(output, "logits", output).float()

    def _decode(self, text, encoding, probs):
        if self.decoding == "argmax":
            tags = [max(range(len(row)), key=row.__getitem__) for row in probs]
            return decode(text, encoding, tags, [row[t] for row, t in zip(probs, tags)], self.id2label)
        if self.decoding == "viterbi":
            return decode_viterbi(text, encoding, probs, self.id2label)
        return decode_marginal(text, encoding, probs, self.id2label)

    def predict(self, texts: list[str], batch_size: int | None = None) -> list[list[tuple[int, int, str, float]]]:
        """Spans ``(start, end, label, score)`` per text, offsets into the original texts, sorted by start;
        ``batch_size`` windows per forward pass (default: the predictor's ``batch_size``)."""
        batch_size = batch_size or self.batch_size
        import torch

        windows = []  # (text index, window start, window text, core start, core end)
        cleaned = [clean(text) for text in texts]
        for index, (clean_text, _) in enumerate(cleaned):
            for start, end, core_start, core_end in context_windows(clean_text, self.window_chars,
                                                                    self.window_context):
                windows.append((index, start, clean_text[start:end], core_start, core_end))
        results: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i][2]))
        for batch_start in range(0, len(order), batch_size):
            batch = [windows[i] for i in order[batch_start:batch_start + batch_size]]
            encodings = encode_texts(self.tokenizer, [w[2] for w in batch])
            width = max(len(e.input_ids) for e in encodings)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, enc in enumerate(encodings):
                ids[row, : len(enc.input_ids)] = torch.tensor(enc.input_ids)
                mask[row, : len(enc.input_ids)] = 1
            probs = self.logits(ids, mask).softmax(-1)
            for (index, w_start, w_text, core_start, core_end), enc, row_probs in zip(batch, encodings,
                                                                                        probs.tolist()):
                offsets = cleaned[index].offsets
                spans = self._decode(w_text, enc, row_probs)
                if self.boundaries != "none":
                    from nlp.boundaries import snap_spans, word_edges

                    spans = snap_spans(w_text, spans, word_edges(w_text, self.boundaries))
                if self.rules:
                    spans = apply_rules(w_text, spans, self.programme_list)
                for start, end, label, score in spans:
                    if not core_start <= w_start + start < core_end:
                        continue  # in the context of a neighbouring window, which reports it
                    raw_start, raw_end = span_to_raw(offsets, w_start + start, w_start + end)
                    results[index].append((raw_start, raw_end, label, score))
        return [sorted(spans) for spans in results]


def _check_model_dir(model_dir: Path) -> None:
    if not (model_dir / "config.json").is_file():
        raise NlpError(f"{model_dir}: not a model directory (no config.json); train one with `nlp train`")
    try:
        labels = json.loads((model_dir / "config.json").read_text(encoding="utf-8")).get("id2label", {})
    except (OSError, json.JSONDecodeError) as err:
        raise NlpError(f"{model_dir / 'config.json'}: unreadable model config ({err})") from None
    tags = set(labels.values())
    unknown = sorted(t for t in tags if t != "O" and t[2:] not in LABELS)
    if unknown or "O" not in tags:
        raise NlpError(f"{model_dir}: model labels {sorted(tags)} do not match this package's schema "
                       f"({', '.join(LABELS)})")
    if not (model_dir / "tokenizer.json").is_file():
        raise NlpError(f"{model_dir}: needs a fast tokenizer (tokenizer.json) for character offsets")


def load_model(model_dir: Path):
    """Load a fine-tuned model (:mod:`nlp.encoder`, no transformers import) and its ``tokenizers`` tokenizer.

    A missing, corrupt or foreign directory is an NlpError.
    """
    from tokenizers import Tokenizer

    from nlp.encoder import load_token_classifier

    model_dir = Path(model_dir)
    _check_model_dir(model_dir)
    try:
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        model = load_token_classifier(model_dir)
    except Exception as err:  # safetensors/tokenizers raise many types for broken files
        raise NlpError(f"{model_dir}: cannot load the model ({type(err).__name__}: {err})") from None
    return model, tokenizer


def load_hf_model(model_dir: Path):
    """The same directory loaded with ``AutoModelForTokenClassification`` / ``AutoTokenizer`` (transformers)."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model_dir = Path(model_dir)
    _check_model_dir(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForTokenClassification.from_pretrained(model_dir)
    except Exception as err:  # transformers raises many types for broken files
        raise NlpError(f"{model_dir}: cannot load the model ({type(err).__name__}: {err})") from None
    return model, tokenizer
