"""``nlp bench``: this package's batch extraction against the plain transformers pipeline, in one run.

Measures on the same fine-tuned weights and the same texts (the seeds repeated to ``--chars`` characters):
characters/second of (a) :class:`nlp.inference.Predictor` (cleaning, sentence windows, length-bucketed batches,
``torch.inference_mode``) and (b) ``transformers.pipeline("token-classification", aggregation_strategy="simple")``
fed one text at a time; their ratio; p50/p95 latency for single short texts; peak RSS; the cold-start time of
``nlp extract`` on one sentence (a fresh process); model FLOPs per character against a GEMM rate measured here.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHORT_TEXT = "沁源縣人民醫院投入1300餘萬元,占全縣衛生支出的5.48%。"


def bench_texts(total_chars: int) -> list[str]:
    """Seed paragraphs (non-empty lines) repeated until ``total_chars`` characters."""
    from nlp.paths import SEEDS_DIR

    paragraphs = [line for path in sorted(SEEDS_DIR.glob("*.txt"))
                  for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, size = [], 0
    while size < total_chars:
        for paragraph in paragraphs:
            texts.append(paragraph)
            size += len(paragraph)
            if size >= total_chars:
                break
    return texts


def gemm_gflops(device: str, size: int = 1024, repeats: int = 20) -> float:
    """Measured float32 matrix-multiply rate (GFLOP/s) on this machine."""
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    return 2 * size ** 3 * repeats / (time.perf_counter() - start) / 1e9


def model_flops_per_token(config, seq_len: int) -> float:
    """Forward FLOPs per token of a BERT encoder + classifier (2 x multiply-adds), attention included."""
    h, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    per_layer = 2 * (4 * h * h + 2 * h * ffn) + 2 * 2 * seq_len * h
    return layers * per_layer + 2 * h * config.num_labels


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold_start_seconds(model: str | None, device: str) -> float:
    """Wall time of a fresh ``nlp extract -`` process on one sentence."""
    cmd = [sys.executable, "-m", "nlp", "extract", "-", "--device", device, "--quiet"]
    if model:
        cmd += ["--model", str(model)]
    start = time.perf_counter()
    result = subprocess.run(cmd, input=SHORT_TEXT, capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"cold-start run failed: {result.stderr[-500:]}")
    return elapsed


def run_bench(model: str | None = None, device: str = "auto", total_chars: int = 200_000, batch_size: int = 32,
              threads: int = 0, baseline: bool = True, quantize: bool = False) -> dict:
    """Run every measurement and return them as a dict (see the module docstring)."""
    import torch
    from transformers import pipeline

    from nlp.inference import resolve_device

    device = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    texts = bench_texts(total_chars)
    chars = sum(len(t) for t in texts)
    from nlp.inference import Predictor
    from nlp.paths import DEFAULT_MODEL_DIR

    predictor = Predictor(model or DEFAULT_MODEL_DIR, device, batch_size=batch_size, int8=quantize)
    result = {"device": device, "torch_threads": torch.get_num_threads(), "texts": len(texts), "chars": chars,
              "batch_size": batch_size, "quantized_int8": quantize}

    predictor.predict(texts[:50])  # warm-up
    start = time.perf_counter()
    spans = predictor.predict(texts)
    elapsed = time.perf_counter() - start
    result["package_chars_per_s"] = round(chars / elapsed, 1)
    result["package_entities"] = sum(len(s) for s in spans)

    latencies = []
    for _ in range(50):
        start = time.perf_counter()
        predictor.predict([SHORT_TEXT])
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    result["short_text_latency_ms"] = {"p50": round(1000 * statistics.median(latencies), 2),
                                       "p95": round(1000 * latencies[int(0.95 * len(latencies)) - 1], 2)}

    if baseline:
        classifier = pipeline("token-classification", model=predictor.model, tokenizer=predictor.tokenizer,
                              aggregation_strategy="simple", device=0 if device == "cuda" else -1)
        classifier(texts[:5])
        start = time.perf_counter()
        baseline_entities = 0
        for text in texts:
            baseline_entities += len(classifier(text))
        elapsed = time.perf_counter() - start
        result["pipeline_chars_per_s"] = round(chars / elapsed, 1)
        result["pipeline_entities"] = baseline_entities
        result["speedup"] = round(result["package_chars_per_s"] / result["pipeline_chars_per_s"], 2)

    config = predictor.model.config
    pieces = predictor.tokenizer(texts[:200], add_special_tokens=True)["input_ids"]
    pieces_per_char = sum(len(p) for p in pieces) / sum(len(t) for t in texts[:200])
    flops_per_char = model_flops_per_token(config, seq_len=128) * pieces_per_char
    gemm = gemm_gflops(device)
    result["pieces_per_char"] = round(pieces_per_char, 3)
    result["model_gflops_per_1k_chars"] = round(flops_per_char * 1000 / 1e9, 3)
    result["gemm_gflops"] = round(gemm, 1)
    result["achieved_gflops"] = round(flops_per_char * result["package_chars_per_s"] / 1e9, 1)
    result["share_of_gemm_rate"] = round(result["achieved_gflops"] / gemm, 3)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["cold_start_s"] = round(cold_start_seconds(model, device), 2)
    return result


def format_bench(result: dict) -> str:
    lines = [f"device {result['device']}, {result['torch_threads']} threads, {result['chars']} chars in "
             f"{result['texts']} texts, batch {result['batch_size']}, int8 {result['quantized_int8']}",
             f"nlp (batched):           {result['package_chars_per_s']:>10,.0f} chars/s"]
    if "pipeline_chars_per_s" in result:
        lines.append(f"transformers pipeline:   {result['pipeline_chars_per_s']:>10,.0f} chars/s")
        lines.append(f"speed-up:                {result['speedup']:>10.2f} x")
    lat = result["short_text_latency_ms"]
    lines += [
        f"short text latency:      p50 {lat['p50']} ms, p95 {lat['p95']} ms",
        f"peak RSS:                {result['peak_rss_mb']:.0f} MB",
        f"cold start (nlp extract one sentence): {result['cold_start_s']} s",
        f"model: {result['model_gflops_per_1k_chars']} GFLOP per 1k chars ({result['pieces_per_char']} pieces/char);"
        f" achieved {result['achieved_gflops']} GFLOP/s of a measured {result['gemm_gflops']} GFLOP/s float32 GEMM"
        f" rate ({100 * result['share_of_gemm_rate']:.0f}%{'; int8 work counted as float32 FLOPs' if result['quantized_int8'] else ''})",
    ]
    return "\n".join(lines)


def main_bench(args) -> int:
    result = run_bench(args.model, args.device, args.chars, args.batch_size, args.threads,
                       baseline=not args.no_baseline, quantize=args.int8)
    print(format_bench(result))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"written: {args.output}")
    return 0
