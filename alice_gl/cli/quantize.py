"""The ``alice-gl quantize`` subcommand: write an INT8 copy of an FP32 ONNX model."""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

from alice_gl.errors import ConfigError, InvalidInputError
from alice_gl.model_io import save_model
from alice_gl.quantization import SUPPORTED_OP_TYPES, quantize_dynamic

logger = logging.getLogger(__name__)

MODES = ("dynamic", "static")
STRATEGIES = ("minmax", "percentile", "kl", "mse")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``quantize`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "quantize", help="quantize an FP32 ONNX model to INT8",
        description="Write an INT8 copy of the FP32 ONNX model MODEL to OUT. MODEL is never "
                    "modified.")
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
                        help="maximum calibration samples for --mode static")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``alice-gl quantize`` and return its exit code."""
    model_path = Path(args.model)
    output_path = Path(args.output)
    if output_path.resolve() == model_path.resolve():
        raise InvalidInputError(f"Output {output_path} is the input model {model_path}; pass a "
                                "different -o path, because MODEL is never overwritten.")

    if args.mode == "static":
        model, report = _quantize_static(args)
    else:
        static_only = [flag for flag, value in (("--calibration", args.calibration),
                                                ("--strategy", args.strategy),
                                                ("--samples", args.samples)) if value is not None]
        if static_only:
            raise ConfigError(f"{', '.join(static_only)} apply only to --mode static.")
        model, report = quantize_dynamic(model_path, per_channel=not args.per_tensor,
                                         op_types=args.op_types, exclude_nodes=args.exclude)

    save_model(model, output_path)
    if args.report:
        _write_text_atomically(Path(args.report), report.to_json())
    print(f"Wrote {output_path}")
    print(report.summary())
    return 0


def _quantize_static(args: argparse.Namespace):
    if args.calibration is None:
        raise ConfigError("--mode static needs --calibration DATA with sample inputs.")
    from alice_gl.calibration import quantize_static

    given = {"strategy": args.strategy, "samples": args.samples}
    return quantize_static(Path(args.model), args.calibration, per_channel=not args.per_tensor,
                           op_types=args.op_types, exclude_nodes=args.exclude,
                           **{name: value for name, value in given.items() if value is not None})


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _write_text_atomically(path: Path, text: str) -> None:
    if not path.parent.is_dir():
        raise InvalidInputError(f"Report folder not found: {path.parent}. Create it first.")
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
