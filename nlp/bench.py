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


def gemm_gflops(device: str, size: int = 1024, repeats: int = 20, dtype=None) -> float:
    """Measured matrix-multiply rate (GFLOP/s, float32 unless ``dtype``) on this machine."""
    import torch

    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
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
    return layers * per_layer + 2 * h * len(config.id2label)


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


def _chars_per_second(predictor, texts: list[str]) -> tuple[float, int]:
    predictor.predict(texts[:50])  # warm-up
    start = time.perf_counter()
    spans = predictor.predict(texts)
    elapsed = time.perf_counter() - start
    return sum(len(t) for t in texts) / elapsed, sum(len(s) for s in spans)


def run_bench(model: str | None = None, device: str = "auto", total_chars: int = 200_000, batch_size: int = 32,
              threads: int = 0, baseline: bool = True, precision: str = "auto") -> dict:
    """Run every measurement and return them as a dict (see the module docstring)."""
    import torch

    from nlp.inference import Predictor, load_hf_model, resolve_device, resolve_precision
    from nlp.paths import DEFAULT_MODEL_DIR
    from nlp.pieces import encode_texts

    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    if threads:
        torch.set_num_threads(threads)
    model_dir = Path(model or DEFAULT_MODEL_DIR)
    texts = bench_texts(total_chars)
    chars = sum(len(t) for t in texts)
    predictor = Predictor(model_dir, device, batch_size=batch_size, precision=precision)
    result = {"device": device, "torch_threads": torch.get_num_threads(), "texts": len(texts), "chars": chars,
              "batch_size": batch_size, "precision": precision}

    speed, entities = _chars_per_second(predictor, texts)
    result["package_chars_per_s"] = round(speed, 1)
    result["package_entities"] = entities
    if precision != "float32":  # the same batching in float32, to separate the two gains
        speed, entities = _chars_per_second(Predictor(model_dir, device, batch_size=batch_size,
                                                      precision="float32"), texts)
        result["package_float32_chars_per_s"] = round(speed, 1)
        result["package_float32_entities"] = entities

    latencies = []
    for _ in range(50):
        start = time.perf_counter()
        predictor.predict([SHORT_TEXT])
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    result["short_text_latency_ms"] = {"p50": round(1000 * statistics.median(latencies), 2),
                                       "p95": round(1000 * latencies[int(0.95 * len(latencies)) - 1], 2)}

    if baseline:
        from transformers import pipeline

        hf_model, hf_tokenizer = load_hf_model(model_dir)
        classifier = pipeline("token-classification", model=hf_model.float(), tokenizer=hf_tokenizer,
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
        del classifier, hf_model

    config = predictor.model.config
    pieces = encode_texts(predictor.tokenizer, texts[:200])
    pieces_per_char = sum(len(p.input_ids) for p in pieces) / sum(len(t) for t in texts[:200])
    flops_per_char = model_flops_per_token(config, seq_len=128) * pieces_per_char
    result["pieces_per_char"] = round(pieces_per_char, 3)
    result["model_gflops_per_1k_chars"] = round(flops_per_char * 1000 / 1e9, 3)
    result["gemm_gflops"] = {"float32": round(gemm_gflops(device), 1)}
    if precision in ("bfloat16", "float16"):
        result["gemm_gflops"][precision] = round(gemm_gflops(device, dtype=getattr(torch, precision)), 1)
    result["achieved_gflops"] = round(flops_per_char * result["package_chars_per_s"] / 1e9, 1)
    gemm = result["gemm_gflops"].get(precision, result["gemm_gflops"]["float32"])
    result["share_of_gemm_rate"] = round(result["achieved_gflops"] / gemm, 3)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    result["cold_start_s"] = round(cold_start_seconds(model, device), 2)
    return result


def format_bench(result: dict) -> str:
    precision = result["precision"]
    lines = [f"device {result['device']}, {result['torch_threads']} threads, {result['chars']} chars in "
             f"{result['texts']} texts, batch {result['batch_size']}, precision {precision}",
             f"nlp (batched, {precision}):{'':<{max(0, 9 - len(precision))}}{result['package_chars_per_s']:>10,.0f} chars/s"]
    if "package_float32_chars_per_s" in result:
        lines.append(f"nlp (batched, float32):  {result['package_float32_chars_per_s']:>10,.0f} chars/s")
    if "pipeline_chars_per_s" in result:
        lines.append(f"transformers pipeline:   {result['pipeline_chars_per_s']:>10,.0f} chars/s")
        lines.append(f"speed-up:                {result['speedup']:>10.2f} x")
    lat = result["short_text_latency_ms"]
    gemm = result["gemm_gflops"]
    rate = gemm.get(precision, gemm["float32"])
    lines += [
        f"short text latency:      p50 {lat['p50']} ms, p95 {lat['p95']} ms",
        f"peak RSS:                {result['peak_rss_mb']:.0f} MB",
        f"cold start (nlp extract one sentence): {result['cold_start_s']} s",
        f"model: {result['model_gflops_per_1k_chars']} GFLOP per 1k chars ({result['pieces_per_char']} pieces/char);"
        f" achieved {result['achieved_gflops']} GFLOP/s of a measured {rate} GFLOP/s "
        f"{precision if precision in gemm else 'float32'} GEMM rate ({100 * result['share_of_gemm_rate']:.0f}%"
        f"{'; int8 work counted as float32 FLOPs' if precision == 'int8' else ''})"
        + (f"; float32 GEMM {gemm['float32']} GFLOP/s" if precision in gemm and precision != "float32" else ""),
    ]
    return "\n".join(lines)


def main_bench(args) -> int:
    result = run_bench(args.model, args.device, args.chars, args.batch_size, args.threads,
                       baseline=not args.no_baseline, precision=args.precision)
    print(format_bench(result))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"written: {args.output}")
    return 0
