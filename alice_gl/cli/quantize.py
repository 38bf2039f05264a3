"""The ``alice-gl quantize`` subcommand: write an INT8 copy of an FP32 ONNX model.

With sample data (``--validation``, or ``--calibration`` in static mode) the command runs the
engine's accuracy guard and writes only a model the guard accepts (see ``guarded``). Without
sample data it quantizes directly and writes the result unchecked.
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from alice_gl.cli import guarded
from alice_gl.cli.output_files import write_text_atomically
from alice_gl.cli.paths import check_output_paths
from alice_gl.errors import ConfigError
from alice_gl.model_io import save_model
from alice_gl.quantization import SUPPORTED_OP_TYPES, quantize_dynamic
from alice_gl.quantization.report import QuantizationReport

logger = logging.getLogger(__name__)

MODES = ("dynamic", "static")
STRATEGIES = ("minmax", "percentile", "kl", "mse")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "quantize", help="quantize an FP32 ONNX model to INT8",
        description="Write an INT8 copy of the FP32 ONNX model MODEL to OUT. MODEL is never "
                    "modified. With sample data (--validation, or --calibration in static mode) "
                    "an accuracy guard compares INT8 and FP32 outputs on those samples by "
                    "cosine similarity. OUT then receives only a model the guard accepts: the "
                    "INT8 model, or the INT8 model with the layers that partial fallback kept "
                    "FP32. When the guard rejects the model, nothing is written to OUT and the "
                    "command exits with status 1, because an FP32 copy under an INT8 name "
                    "would mislead. --report and --sensitivity-plot are still written then. "
                    "Without sample data the INT8 model is written unchecked.")
    parser.add_argument("model", metavar="MODEL", help="FP32 ONNX model file")
    parser.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="INT8 model file to write (must differ from MODEL)")
    parser.add_argument("--per-tensor", action="store_true",
                        help="one scale per weight tensor instead of one per output channel")
    parser.add_argument("--op-types", nargs="+", metavar="OP", choices=SUPPORTED_OP_TYPES,
                        help=f"op types to quantize (default all: {' '.join(SUPPORTED_OP_TYPES)})")
    parser.add_argument("--exclude", nargs="+", metavar="NODE", default=[], action="extend",
                        help="node names to leave FP32 (`alice-gl inspect MODEL` lists them)")
    parser.add_argument("--report", metavar="REPORT.json",
                        help="write the quantization report as JSON to this file")
    parser.add_argument("--mode", choices=MODES, default="dynamic",
                        help="dynamic: activation scales computed at run time (default); "
                             "static: calibrated activation scales, needs --calibration")
    parser.add_argument("--calibration", metavar="DATA",
                        help="calibration inputs for --mode static (.npz, .npy, folder or .json)")
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="activation range strategy for --mode static (default minmax)")
    parser.add_argument("--samples", type=_positive_int, metavar="N",
                        help="maximum samples used for calibration and for the accuracy guard "
                             "(default 2000)")
    _add_guard_arguments(parser)
    parser.set_defaults(handler=handle)


def _add_guard_arguments(parser: argparse.ArgumentParser) -> None:
    guard = parser.add_argument_group(
        "accuracy guard", "These options need sample data: --validation, or --calibration "
                          "with --mode static.")
    guard.add_argument("--validation", metavar="DATA",
                       help="sample inputs to compare INT8 and FP32 outputs on (.npz, .npy, "
                            "folder or .json, as for --calibration); default: the calibration "
                            "data in static mode")
    guard.add_argument("--fallback-threshold", type=_fraction, metavar="F",
                       help="reject the INT8 model when its minimum output cosine similarity "
                            "is below F (default 0.95)")
    guard.add_argument("--warn-threshold", type=_fraction, metavar="F",
                       help="accept with a warning below F (default 0.98)")
    guard.add_argument("--no-auto-fallback", action="store_true",
                       help="reject a failing model at once, without trying partial fallback")
    guard.add_argument("--no-partial-fallback", action="store_true",
                       help="do not keep the most sensitive layers FP32 to rescue a failing "
                            "model")
    guard.add_argument("--sensitivity-plot", metavar="FILE.png",
                       help="write a PNG bar chart of each layer's sensitivity (needs "
                            "matplotlib: pip install 'alice-gl[plot]')")


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl quantize`` and return its exit code."""
    model_path = Path(args.model)
    output_path = Path(args.output)
    check_output_paths(
        {"MODEL": model_path, "--calibration": args.calibration, "--validation": args.validation},
        {"-o": output_path, "--report": args.report, "--sensitivity-plot": args.sensitivity_plot})
    _check_arguments(args)

    if guarded.has_sample_data(args):
        outcome = guarded.quantize_guarded(args, model_path, output_path)
        _warn_if_nothing_quantized(outcome.result.quantization_report, args)
        if args.report:
            write_text_atomically(Path(args.report), outcome.report_json())
        outcome.raise_for_rejection()
        return 0

    # Static mode always has calibration data, so only dynamic mode without --validation gets here.
    model, report = quantize_dynamic(model_path, per_channel=not args.per_tensor,
                                     op_types=args.op_types, exclude_nodes=args.exclude)
    _warn_if_nothing_quantized(report, args)
    save_model(model, output_path)
    if args.report:
        write_text_atomically(Path(args.report), report.to_json())
    print(f"Wrote {output_path}")
    print(report.summary())
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """Reject flag combinations that cannot work, before any quantization runs."""
    if args.mode == "static" and args.calibration is None:
        raise ConfigError("--mode static needs --calibration DATA with sample inputs.")
    if args.mode == "dynamic":
        static_only = [flag for flag, value in (("--calibration", args.calibration),
                                                ("--strategy", args.strategy)) if value is not None]
        if static_only:
            verb = "applies" if len(static_only) == 1 else "apply"
            raise ConfigError(f"{', '.join(static_only)} {verb} only to --mode static.")
        if args.samples is not None and args.validation is None:
            raise ConfigError("--samples applies only to --mode static or with --validation.")
    if not guarded.has_sample_data(args):
        guard_flags = [flag for flag, given in (
            ("--fallback-threshold", args.fallback_threshold is not None),
            ("--warn-threshold", args.warn_threshold is not None),
            ("--no-auto-fallback", args.no_auto_fallback),
            ("--no-partial-fallback", args.no_partial_fallback),
            ("--sensitivity-plot", args.sensitivity_plot is not None)) if given]
        if guard_flags:
            verb = "needs" if len(guard_flags) == 1 else "need"
            raise ConfigError(f"{', '.join(guard_flags)} {verb} sample data for the accuracy "
                              f"guard. Pass --validation DATA (or --calibration DATA with --mode "
                              f"static).")


def _warn_if_nothing_quantized(report: QuantizationReport, args: argparse.Namespace) -> None:
    if report.quantized_nodes:
        return
    cause = "--exclude leaves no quantizable node" if args.exclude else (
        "the model has no MatMul, Gemm or Conv node with a constant weight among --op-types")
    logger.warning("No node was quantized because %s, so %s keeps every layer FP32.",
                   cause, args.output)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a similarity between 0 and 1, got {text}")
    return value
