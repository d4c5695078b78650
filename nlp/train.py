"""Fine-tune the encoder as a BIO token classifier from a config (``nlp train CONFIG``), evaluate, cross-validate.

Reads in one place, top to bottom: data -> model -> optimiser -> epochs (fresh augmentation each epoch) -> save
-> evaluate on held-out documents.
"""
from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

from nlp.annotations import Document, read_any
from nlp.config import Config, resolve_path
from nlp.errors import NlpError
from nlp.metrics import format_scores, span_scores
from nlp.pieces import IGNORE_INDEX, isolate_characters, label_maps
from nlp.schema import LABELS

NOTICE_FILES = ("LICENSE", "NOTICE")


# --- data ---------------------------------------------------------------------------------------------------

def split_documents(docs: list[Document], config: Config) -> tuple[list[Document], list[Document]]:
    """Training and evaluation documents by the config's ``train_ids`` / ``eval_ids``."""
    ids = {doc.id for doc in docs}
    for key in ("train_ids", "eval_ids"):
        unknown = [i for i in getattr(config.data, key) if i not in ids]
        if unknown:
            raise NlpError(f"{config.source}: data.{key} names unknown documents: {', '.join(unknown)}")
    eval_docs = [d for d in docs if d.id in config.data.eval_ids]
    train_docs = [d for d in docs if (d.id in config.data.train_ids if config.data.train_ids
                                      else d.id not in config.data.eval_ids)]
    if not train_docs:
        raise NlpError(f"{config.source}: no training documents left")
    return train_docs, eval_docs


def read_extra_sources(config: Config) -> list[tuple]:
    """``(source, documents)`` for each of ``data.extra`` (glob patterns expanded, files in name order)."""
    import glob

    from nlp.config import resolve_path as resolve

    sources = []
    for i, extra in enumerate(config.data.extra):
        pattern = str(resolve(extra.path))
        paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not paths:
            raise NlpError(f"{config.source}: data.extra[{i}].path {extra.path!r} matches no file")
        docs = []
        for path in paths:
            path_docs = read_any(Path(path))
            refuse_invalid_spans(Path(path), path_docs)
            docs += path_docs
        sources.append((extra, docs))
    return sources


def refuse_invalid_spans(path: Path, docs: list[Document]) -> None:
    """An :class:`NlpError` listing what ``nlp annotations validate`` rejects in a gold file (offsets out of range
    or reversed, unknown labels, overlaps, edges on whitespace or enclosing punctuation), as ``file:line: reason``
    for JSONL and ``file: document: reason`` for the other formats."""
    from nlp.annotations import document_problems, validate_file

    if Path(path).suffix == ".jsonl":
        problems = validate_file(Path(path), compare_seeds=False)
    else:
        problems = [f"{path}: document {doc.id!r}: {p}" for doc in docs for p in document_problems(doc)]
    if problems:
        more = f"\n… and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise NlpError("invalid gold spans (as nlp annotations validate reports them):\n"
                       + "\n".join(problems[:10]) + more)


def refuse_evaluation_passages(docs: list[Document], source: str) -> None:
    """An :class:`NlpError` when a training document is a passage of ``annotations/dev_real.jsonl`` (by id or by
    text): the real-news dev set is only ever evaluated on."""
    from nlp.paths import ANNOTATIONS_DIR

    dev_path = ANNOTATIONS_DIR / "dev_real.jsonl"
    if not dev_path.is_file():
        return
    dev = read_any(dev_path)
    ids, texts = {d.id for d in dev}, {d.text for d in dev}
    leaked = [d.id for d in docs if d.id in ids or d.text in texts]
    if leaked:
        raise NlpError(f"{source}: training data holds passages of {dev_path} (evaluation only): "
                       f"{', '.join(leaked[:5])}{' …' if len(leaked) > 5 else ''}")


def draw_share(examples: list, share: float, rng: random.Random) -> list:
    """``share`` × the examples: every example ``int(share)`` times plus a fresh random sample of the rest."""
    whole, rest = int(share), share - int(share)
    return examples * whole + rng.sample(examples, round(rest * len(examples)))


def batches_by_length(features: list[dict], batch_size: int, rng: random.Random) -> list[list[dict]]:
    """Batches of similar length (less padding), in random order."""
    ordered = sorted(features, key=lambda f: len(f["input_ids"]) + rng.random())
    batches = [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(batch: list[dict], pad_id: int):
    import torch

    width = max(len(f["input_ids"]) for f in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, f in enumerate(batch):
        n = len(f["input_ids"])
        ids[row, :n] = torch.tensor(f["input_ids"])
        labels[row, :n] = torch.tensor(f["labels"])
        mask[row, :n] = 1
    return ids, mask, labels


# --- model --------------------------------------------------------------------------------------------------

def ensure_base(config: Config) -> Path:
    """The base encoder directory, built with ``nlp base build`` first when it is the default and missing."""
    from nlp.paths import DEFAULT_BASE_DIR

    base = resolve_path(config.model.base)
    if (base / "config.json").is_file():
        return base
    if base.resolve() != DEFAULT_BASE_DIR.resolve():
        raise NlpError(f"{config.source}: model.base {base} is not a model directory")
    from nlp.base import build_base

    print(f"base encoder missing: building it in {base} (nlp base build)")
    build_base(base)
    return base


def build_model(config: Config, label2id: dict, id2label: dict):
    """Tokenizer and token-classification model: the pretrained base, or a tiny random one for tests."""
    tokenizer, model = _load_model(config, label2id, id2label)
    isolate_characters(tokenizer, config.model.isolate)
    return tokenizer, model


def _load_model(config: Config, label2id: dict, id2label: dict):
    from transformers import AutoModelForTokenClassification, AutoTokenizer, BertConfig, BertForTokenClassification
    from transformers.utils import logging as hf_logging

    # the new head is expected to be missing from the base checkpoint: no load report for it
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    if config.model.tokenizer and not (resolve_path(config.model.tokenizer) / "tokenizer.json").is_file():
        raise NlpError(f"{config.source}: model.tokenizer {config.model.tokenizer} is not a tokenizer directory "
                       f"(no tokenizer.json)")
    if config.model.random_init:
        tokenizer_dir = resolve_path(config.model.tokenizer or config.model.base)
        if not (tokenizer_dir / "tokenizer.json").is_file():
            raise NlpError(f"{config.source}: {tokenizer_dir} is not a tokenizer directory (no tokenizer.json)")
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        known = set(BertConfig().to_dict())
        unknown = sorted(set(config.model.random_init) - known)
        if unknown:
            raise NlpError(f"{config.source}: unknown key 'model.random_init.{unknown[0]}' (not a BertConfig field)")
        bert = BertConfig(vocab_size=len(tokenizer), num_labels=len(label2id), id2label=id2label,
                          label2id=label2id, pad_token_id=tokenizer.pad_token_id, **config.model.random_init)
        return tokenizer, BertForTokenClassification(bert)
    base = ensure_base(config)
    tokenizer = AutoTokenizer.from_pretrained(resolve_path(config.model.tokenizer) if config.model.tokenizer
                                              else base)
    model = AutoModelForTokenClassification.from_pretrained(base, num_labels=len(label2id), id2label=id2label,
                                                            label2id=label2id)
    return tokenizer, model


def make_optimizer(model, config: Config, total_steps: int):
    """AdamW with a higher learning rate for the new head than for the pretrained encoder, linear warm-up/decay."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    head, encoder_decay, encoder_no_decay = [], [], []
    for name, param in model.named_parameters():
        if name.startswith("classifier"):
            head.append(param)
        elif name.endswith("bias") or "LayerNorm" in name:
            encoder_no_decay.append(param)
        else:
            encoder_decay.append(param)
    t = config.train
    optimizer = torch.optim.AdamW([
        {"params": head, "lr": t.head_lr, "weight_decay": 0.0},
        {"params": encoder_decay, "lr": t.encoder_lr, "weight_decay": t.weight_decay},
        {"params": encoder_no_decay, "lr": t.encoder_lr, "weight_decay": 0.0},
    ])
    scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def set_seed(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # Same config, seed and thread count -> the same weights: no nondeterministic kernels (a warning, not an
    # error, for an op that has no deterministic version on some device).
    torch.use_deterministic_algorithms(True, warn_only=True)


# --- training -----------------------------------------------------------------------------------------------

def train(config: Config, output_dir: Path, *, progress: bool = True) -> dict:
    """Train per ``config``, save an HF model directory in ``output_dir``, evaluate on ``data.eval_ids``.

    Returns the training record (also written to ``output_dir/training.json``).
    """
    import torch
    from tqdm.auto import tqdm

    from nlp.augment import augment_examples
    from nlp.dataset import document_examples, featurize, misalignment_report
    from nlp.inference import Predictor, resolve_device

    started = time.time()
    t = config.train
    set_seed(t.seed)
    if t.threads:
        torch.set_num_threads(t.threads)
    device = resolve_device(t.device)
    label2id, id2label = label_maps(config.labels)

    docs = read_any(resolve_path(config.data.gold))
    refuse_invalid_spans(resolve_path(config.data.gold), docs)
    train_docs, eval_docs = split_documents(docs, config)
    extra_sources = read_extra_sources(config)

    refuse_evaluation_passages(train_docs + [d for _, ds in extra_sources for d in ds], config.source)
    window = config.data.window_chars
    examples = [ex for d in train_docs for ex in document_examples(d, window, config.labels)]
    extra_examples = [(src, [ex for d in ds for ex in document_examples(d, window, config.labels)])
                      for src, ds in extra_sources]
    tokenizer, model = build_model(config, label2id, id2label)
    model.config.window_chars = window
    model.to(device)

    rng = random.Random(t.seed)

    def draw_epoch() -> list:
        windows, pool = list(examples), list(examples)
        for src, source_examples in extra_examples:
            drawn = draw_share(source_examples, src.share, rng)
            windows += drawn
            if src.augment:
                pool += drawn
        return windows + augment_examples(pool, config.augment, rng)

    # All epochs are drawn up front (seeded), so the LR schedule is sized from the real window counts.
    epochs = [draw_epoch() for _ in range(t.epochs)]
    scheduled = sum(math.ceil(len(e) / t.batch_size) for e in epochs)
    optimizer, scheduler = make_optimizer(model, config, scheduled)
    weights = torch.ones(len(label2id))
    weights[label2id["O"]] = t.o_weight
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights.to(device), ignore_index=IGNORE_INDEX)

    epoch_losses = []
    steps = 0
    model.train()
    for epoch in range(t.epochs):
        epoch_examples = epochs[epoch]
        batches = batches_by_length(featurize(epoch_examples, tokenizer, label2id), t.batch_size, rng)
        total, count = 0.0, 0
        # the bar only on a terminal: in a log file its redraws would be thousands of lines; the epoch lines stay
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{t.epochs}", disable=not progress or not sys.stderr.isatty(),
                   leave=False)
        for batch in bar:
            ids, mask, labels = (x.to(device) for x in collate(batch, tokenizer.pad_token_id))
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = loss_fn(logits.view(-1, logits.size(-1)), labels.view(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            total, count, steps = total + loss.item(), count + 1, steps + 1
            bar.set_postfix(loss=f"{total / count:.4f}")
        epoch_losses.append(total / max(count, 1))
        if progress:
            print(f"epoch {epoch + 1}/{t.epochs}: loss {epoch_losses[-1]:.4f} ({len(epoch_examples)} windows)")
    train_seconds = time.time() - started
    converged = has_converged(epoch_losses)
    if not converged:
        print(f"warning: training loss stalled ({' '.join(f'{x:.3f}' for x in epoch_losses)}): the model has probably "
              f"collapsed to predicting O everywhere; try a lower train.encoder_lr (now {t.encoder_lr:g})",
              file=sys.stderr)

    record = {
        "config": config.to_dict(),
        "config_file": config.source,
        "train_documents": [d.id for d in train_docs],
        "eval_documents": [d.id for d in eval_docs],
        "extra_documents": {src.path: len(ds) for src, ds in extra_sources},
        "train_windows": len(examples) + sum(len(exs) for _, exs in extra_examples),
        "epoch_windows": [len(e) for e in epochs],
        "boundaries": misalignment_report(examples + [ex for _, exs in extra_examples for ex in exs], tokenizer),
        "epoch_losses": epoch_losses,
        "optimizer_steps": steps,
        "converged": converged,
        "scheduled_steps": scheduled,
        "train_seconds": round(train_seconds, 1),
        "device": device,
        "torch_threads": torch.get_num_threads(),
    }
    save_model(model, tokenizer, output_dir, config)
    if eval_docs:
        predictor = Predictor(model=model, tokenizer=tokenizer, device=device, precision="float32")
        predicted = predict_documents(predictor, eval_docs)
        scores = score_documents(eval_docs, predicted, config.labels)
        record["eval_scores"] = scores
        record["eval_predictions"] = {d.id: spans for d, spans in zip(eval_docs, predicted)}
        if progress:
            print(format_scores(scores, f"held-out: {', '.join(d.id for d in eval_docs)}"))
    (Path(output_dir) / "training.json").write_text(json.dumps(record, ensure_ascii=False, indent=1),
                                                    encoding="utf-8")
    return record


def has_converged(epoch_losses: list[float]) -> bool:
    """False when the loss stalled: after the first epoch it stopped falling (the second half of the later epochs
    is within 3% of the first half) while still above a third of the first epoch's loss.

    A run whose encoder diverges early collapses to all-O and sits at the O-only loss (about half the first
    epoch's) for every remaining epoch; a healthy run keeps falling (the tiny test config falls ~55% in four
    epochs and is still falling).
    """
    if len(epoch_losses) < 3 or epoch_losses[-1] < epoch_losses[0] / 3:
        return True
    later = epoch_losses[1:]
    half = len(later) // 2
    before, after = sum(later[:half]) / half, sum(later[half:]) / (len(later) - half)
    return after < before * 0.97


def save_model(model, tokenizer, output_dir: Path, config: Config) -> None:
    """Save a standard HF directory (weights in ``model.save_dtype``), with the base model's licence notices.

    Written to a temporary directory first and moved into place, so a failure leaves no half-written model.
    """
    import torch

    output_dir = Path(output_dir)
    tmp = output_dir.with_name(output_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    dtype = torch.float16 if config.model.save_dtype == "float16" else torch.float32
    model.to("cpu").to(dtype).save_pretrained(tmp, safe_serialization=True)
    model.float()
    tokenizer.save_pretrained(tmp)
    if not config.model.random_init:
        base = resolve_path(config.model.base)
        for name in NOTICE_FILES:
            if (base / name).is_file():
                shutil.copy(base / name, tmp / name)
    for path in tmp.iterdir():  # some writers create 0600 files; a model directory is meant to be shared
        path.chmod(0o644)
    if output_dir.exists():
        shutil.rmtree(output_dir)
    tmp.rename(output_dir)


# --- evaluation ---------------------------------------------------------------------------------------------

def predict_documents(predictor, docs: list[Document]) -> list:
    """A :class:`~nlp.inference.Predictor`'s ``(start, end, label)`` spans for each document (raw-text offsets)."""
    return [[tuple(p[:3]) for p in spans] for spans in predictor.predict([d.text for d in docs])]


def score_documents(docs: list[Document], predicted: list, labels=LABELS) -> dict:
    """seqeval strict entity scores of predicted spans against the gold documents."""
    gold = [[e for e in d.entities if e[2] in labels] for d in docs]
    predicted = [[p for p in spans if p[2] in labels] for spans in predicted]
    return span_scores([len(d.text) for d in docs], gold, predicted, labels)


def cross_validate(config: Config, output_dir: Path, *, progress: bool = True) -> dict:
    """Leave-one-document-out: train on all but one gold document, score on it, for each document in turn.

    Fold models are kept in ``output_dir/fold-<id>``; ``cv.json`` holds per-fold scores, their mean, and scores
    pooled over all held-out documents (see :func:`score_folds`).
    """
    docs = read_any(resolve_path(config.data.gold))
    output_dir = Path(output_dir)
    seconds = {}
    for doc in docs:
        fold_config = replace(config, data=replace(config.data, train_ids=[], eval_ids=[doc.id]))
        if progress:
            print(f"== fold: hold out {doc.id}")
        seconds[doc.id] = train(fold_config, output_dir / f"fold-{doc.id}", progress=progress)["train_seconds"]
    result = score_folds(output_dir, docs, config.labels)
    for doc_id, fold in result["folds"].items():
        fold["train_seconds"] = seconds[doc_id]
    result.update(config=config.to_dict(), config_file=config.source)
    (output_dir / "cv.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def score_folds(cv_dir: Path, docs: list[Document], labels=LABELS, device: str = "cpu",
                precision: str = "float32", rules: bool = True) -> dict:
    """Score each ``cv_dir/fold-<id>`` model on its held-out document ``<id>``: per fold, mean and pooled."""
    from nlp.inference import Predictor

    cv_dir = Path(cv_dir)
    folds, predicted = {}, []
    for doc in docs:
        fold_dir = cv_dir / f"fold-{doc.id}"
        if not (fold_dir / "config.json").is_file():
            raise NlpError(f"{cv_dir}: no fold model for document {doc.id} ({fold_dir} missing)")
        predictor = Predictor(fold_dir, device, precision=precision, rules=rules)
        (spans,) = predict_documents(predictor, [doc])
        predicted.append(spans)
        folds[doc.id] = {"scores": score_documents([doc], [spans], labels)}
    mean = {}
    for label in list(labels) + ["micro"]:  # over the folds whose held-out document has this label
        rows = [f["scores"][label] for f in folds.values() if f["scores"][label]["support"]]
        mean[label] = {metric: sum(r[metric] for r in rows) / len(rows) if rows else 0.0
                       for metric in ("precision", "recall", "f1")}
        mean[label]["folds"] = len(rows)
    return {"precision": precision, "rules": rules, "folds": folds, "mean": mean,
            "pooled": score_documents(docs, predicted, labels),
            "predictions": {doc.id: spans for doc, spans in zip(docs, predicted)}}
