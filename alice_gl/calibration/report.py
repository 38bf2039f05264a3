"""The static quantization report: the dynamic report plus every calibrated activation."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from alice_gl.quantization.report import QuantizationReport


@dataclass
class ActivationRecord:
    """One activation quantized with calibrated uint8 parameters.

    ``observed_min`` and ``observed_max`` are the extremes seen on the calibration data;
    ``rmin`` and ``rmax`` the range the strategy chose. ``scale`` and ``zero_point`` are the
    QuantizeLinear parameters, which cover ``[rmin, rmax]`` widened to contain 0.
    """

    name: str
    graph: str
    scale_name: str
    zero_point_name: str
    observed_min: float
    observed_max: float
    rmin: float
    rmax: float
    scale: float
    zero_point: int


@dataclass
class StaticQuantizationReport(QuantizationReport):
    """``QuantizationReport`` of a static run, with the calibration settings and results."""

    strategy: str = "minmax"
    percentile: float | None = None
    calibration_samples: int = 0
    activations: list[ActivationRecord] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Return the report as plain JSON-compatible types."""
        result = super().to_dict()
        result.update({
            "strategy": self.strategy,
            "percentile": self.percentile,
            "calibration_samples": self.calibration_samples,
            "activations": [asdict(record) for record in self.activations],
        })
        return result

    def summary(self) -> str:
        """Return the dynamic summary plus one line per calibrated activation."""
        lines = [super().summary(),
                 f"{len(self.activations)} activation(s) calibrated with {self.strategy} on "
                 f"{self.calibration_samples} sample(s)"]
        for record in self.activations:
            lines.append(f"  {record.name}: range [{record.rmin:.6g}, {record.rmax:.6g}] "
                         f"(observed [{record.observed_min:.6g}, {record.observed_max:.6g}]), "
                         f"scale {record.scale:.6g}, zero point {record.zero_point}")
        return "\n".join(lines)
