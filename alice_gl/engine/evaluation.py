"""Run models over the user's samples and compare them with the FP32 reference.

Each sample runs on its own, the way one inference call would see it. That matters for
dynamic quantization, whose activation scales come from the tensor of one run: a batch would
share one scale between all of its samples.
"""

from __future__ import annotations

import numpy as np
import onnx

from alice_gl.calibration.loaders import CalibrationSource, load_calibration_data
from alice_gl.engine.similarity import OutputSimilarity, compare_outputs
from alice_gl.executor import NumpySession

Feed = dict[str, np.ndarray]


def sample_feeds(model: onnx.ModelProto, source: CalibrationSource,
                 max_samples: int, role: str = "calibration") -> list[Feed]:
    """Load ``source`` with the calibration loaders and return one feed per sample.

    ``source`` is anything ``load_calibration_data`` accepts: a dict of arrays keyed by input
    name or one array, samples on the batch axis, or a path to ``.npz``, ``.npy``, ``.json``
    or a folder of them. Each feed is a batch of one sample, or of ``n`` for an input whose
    batch dimension is fixed at ``n``. Raises ``CalibrationDataError``, naming the data by
    ``role`` ("calibration" or "validation"), when it does not match the model's inputs.
    """
    data = load_calibration_data(source, model, samples=max_samples, role=role)
    return list(data.batches(batch_size=1))


def run_samples(model: onnx.ModelProto, feeds: list[Feed]) -> dict[str, np.ndarray]:
    """Run ``model`` on each feed with the NumPy executor; each output stacked on a new axis 0."""
    # NOTE: the guard measures on the NumPy executor even when the engine serves on GL, so an
    # error in a GL kernel would not show in the similarity the result reports.
    session = NumpySession(model)
    runs = [session.run(feed) for feed in feeds]
    return {name: np.stack([run[name] for run in runs]) for name in session.output_names}


class Evaluator:
    """The FP32 reference outputs of a fixed set of samples, to compare candidates against."""

    def __init__(self, fp32_model: onnx.ModelProto, feeds: list[Feed]) -> None:
        self.feeds = feeds
        self.reference = run_samples(fp32_model, feeds)

    @property
    def sample_count(self) -> int:
        """Number of samples each candidate runs on."""
        return len(self.feeds)

    def compare(self, candidate: onnx.ModelProto) -> dict[str, OutputSimilarity]:
        """Run ``candidate`` on the samples and compare each output with the reference."""
        outputs = run_samples(candidate, self.feeds)
        return compare_outputs(self.reference, outputs)
