"""The guarded path of ``alice-gl quantize``: quantize through the engine and apply its guard.

``alice-gl quantize`` takes this path when it has sample data (``--validation``, or
``--calibration`` in static mode). The engine measures the INT8 model's output cosine
similarity against FP32 on those samples, and OUT receives only a model the guard accepted:
the INT8 model, or the INT8 model with the layers that partial fallback kept FP32. A rejected
model writes nothing to OUT and raises ``AccuracyError`` (exit status 1), because an FP32 copy
under an INT8 name would mislead. The report and the sensitivity plot are written either way,
so a rejection can be diagnosed.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alice_gl.engine import AliceQuantizationEngine, QuantizationConfig, QuantizationResult
from alice_gl.engine.guard import similarity_too_low_message
from alice_gl.errors import AccuracyError, ConfigError, InvalidInputError
from alice_gl.model_io import save_model

PLOT_INSTALL_HINT = "pip install 'alice-gl[plot]'"


def has_sample_data(args: argparse.Namespace) -> bool:
    """Return True when the command line gives samples for the guard to measure on."""
    return args.validation is not None or (args.mode == "static" and args.calibration is not None)


def build_config(args: argparse.Namespace) -> QuantizationConfig:
    """Return the engine config for the parsed ``quantize`` arguments.

    A ``--fallback-threshold`` above the default warning threshold, given without
    ``--warn-threshold``, raises the warning threshold to it. Raises ``ConfigError`` naming the
    flags when a given ``--warn-threshold`` is below ``--fallback-threshold``.
    """
    defaults = QuantizationConfig()
    fallback = _given(args.fallback_threshold, defaults.fallback_threshold)
    warn = _given(args.warn_threshold, defaults.warn_threshold)
    if args.warn_threshold is None:
        # A fallback threshold given alone raises the default warning threshold up to it.
        warn = max(warn, fallback)
    if warn < fallback:
        raise ConfigError(f"--warn-threshold {warn:g} is below --fallback-threshold {fallback:g}. "
                          f"Pass a warning threshold at or above the fallback threshold.")
    return QuantizationConfig(
        mode=args.mode,
        calibration_strategy=_given(args.strategy, defaults.calibration_strategy),
        calibration_samples=_given(args.samples, defaults.calibration_samples),
        per_channel=not args.per_tensor,
        op_types=tuple(args.op_types) if args.op_types else None,
        exclude_nodes=tuple(args.exclude),
        enable_auto_fallback=not args.no_auto_fallback,
        partial_fallback=not args.no_partial_fallback,
        fallback_threshold=fallback,
        warn_threshold=warn,
        # The command writes a file and runs no inference. Serving the result on the NumPy
        # executor means that no GL context is made and no texture budget applies.
        backend="numpy",
    )


def check_plot_dependency() -> None:
    """Raise ``InvalidInputError`` naming the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise InvalidInputError(f"--sensitivity-plot needs matplotlib, which is not installed. "
                                f"Install it with {PLOT_INSTALL_HINT}.") from error


@dataclass(frozen=True)
class GuardedOutcome:
    """The engine's result for one ``quantize`` run and what the command wrote.

    ``written`` is OUT when the guard accepted the model, else None.
    """

    result: QuantizationResult
    config: QuantizationConfig
    model_path: Path
    output_path: Path
    written: Path | None

    def report_json(self) -> str:
        """Return the quantizer's report of ``result.model`` with a ``guard`` section, as JSON.

        ``guard`` holds ``result.to_dict()`` without the quantizer's report, the engine config
        and ``output``: the path written, or None when the guard rejected the model.
        """
        report: dict[str, Any] = self.result.quantization_report.to_dict()
        guard = self.result.to_dict()
        del guard["quantization_report"]
        guard["config"] = self.config.to_dict()
        guard["output"] = str(self.written) if self.written is not None else None
        report["guard"] = guard
        return json.dumps(report, indent=2)

    def raise_for_rejection(self) -> None:
        """Raise ``AccuracyError`` naming the similarity and the fix when nothing was written."""
        if self.written is None:
            raise AccuracyError(_rejection_message(self.result, self.config, self.model_path,
                                                   self.output_path))


def quantize_guarded(args: argparse.Namespace, model_path: Path,
                     output_path: Path) -> GuardedOutcome:
    """Quantize through the engine, print the guard's verdict, and write what it accepted.

    Writes OUT only when the guard accepted the model, and the sensitivity plot when
    ``--sensitivity-plot`` is given (also for a rejected model). The caller writes the report
    and then calls ``raise_for_rejection``.
    """
    config = build_config(args)
    plot_path = Path(args.sensitivity_plot) if args.sensitivity_plot else None
    if plot_path is not None:
        check_plot_dependency()

    calibration = args.calibration if args.mode == "static" else None
    with AliceQuantizationEngine(config) as engine:
        result = engine.quantize(model_path, calibration, validation=args.validation,
                                 with_sensitivity=plot_path is not None)
    accepted = result.success and result.served_mode == "int8"

    # The plot goes first, so a plot that fails (no quantized layer to plot) leaves OUT unwritten.
    if plot_path is not None:
        _write_plot(result, config, plot_path)
    if accepted:
        save_model(result.model, output_path)
        print(f"Wrote {output_path}")
    print(result.quantization_report.summary())
    print(format_guard(result, config))
    return GuardedOutcome(result, config, model_path, output_path,
                          output_path if accepted else None)


def format_guard(result: QuantizationResult, config: QuantizationConfig) -> str:
    """Return the guard's verdict, similarity per output, and partial fallback as text lines."""
    lines = [f"Accuracy guard: verdict {result.verdict}, min cosine similarity "
             f"{result.min_similarity:.4f}, mean {result.mean_similarity:.4f} over "
             f"{result.evaluation_samples} sample(s) (warn below {config.warn_threshold:g}, "
             f"fail below {config.fallback_threshold:g})"]
    for name, similarity in result.similarity.items():
        line = (f"  output {name}: cosine min {similarity.min_cosine:.4f}, mean "
                f"{similarity.mean_cosine:.4f}, relative error {similarity.relative_error:.4g}")
        if not similarity.cosine_meaningful:
            line += f" ({similarity.note})"
        lines.append(line)
    if result.fp32_layers:
        lines.append(f"Partial fallback kept {len(result.fp32_layers)} layer(s) FP32: "
                     f"{', '.join(result.fp32_layers)} (min cosine with every layer INT8: "
                     f"{result.initial_similarity:.4f})")
    return "\n".join(lines)


def _write_plot(result: QuantizationResult, config: QuantizationConfig, path: Path) -> None:
    from alice_gl.engine.sensitivity import plot_sensitivity

    plot_sensitivity(result.sensitivity, path, fallback_threshold=config.fallback_threshold,
                     warn_threshold=config.warn_threshold, fp32_layers=result.fp32_layers)
    print(f"Wrote sensitivity plot {path}")


def _rejection_message(result: QuantizationResult, config: QuantizationConfig,
                       model_path: Path, output_path: Path) -> str:
    cause = result.error or similarity_too_low_message(result.min_similarity,
                                                       config.fallback_threshold)
    if result.fp32_layers:
        cause += f" with {', '.join(result.fp32_layers)} kept FP32 by partial fallback"
    if not config.enable_auto_fallback:
        fix = ("Drop --no-auto-fallback so that partial fallback can keep sensitive layers FP32, "
               "or lower --fallback-threshold.")
    elif not config.partial_fallback:
        fix = ("Drop --no-partial-fallback so that sensitive layers can stay FP32, or lower "
               "--fallback-threshold.")
    else:
        fix = "Keep more nodes FP32 with --exclude, or lower --fallback-threshold."
    return (f"INT8 model of {model_path} rejected by the accuracy guard: {cause}. Nothing was "
            f"written to {output_path}, because an FP32 copy under an INT8 name would mislead. "
            f"{fix}")


def _given(value: Any, default: Any) -> Any:
    return default if value is None else value

