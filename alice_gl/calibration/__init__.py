"""Calibration and static INT8 quantization.

``quantize_static`` runs the FP32 model over calibration data, picks each activation's range
with a strategy (minmax, percentile, kl or mse) and writes a QDQ model;
``load_calibration_data`` reads and checks the data formats it accepts.
"""

from alice_gl.calibration.loaders import CalibrationData, InputSpec, load_calibration_data
from alice_gl.calibration.report import ActivationRecord, StaticQuantizationReport
from alice_gl.calibration.static import quantize_static
from alice_gl.calibration.statistics import TensorStatistics
from alice_gl.calibration.strategies import STRATEGIES, compute_range

__all__ = [
    "STRATEGIES",
    "ActivationRecord",
    "CalibrationData",
    "InputSpec",
    "StaticQuantizationReport",
    "TensorStatistics",
    "compute_range",
    "load_calibration_data",
    "quantize_static",
]
