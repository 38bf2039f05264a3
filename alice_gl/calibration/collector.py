"""Run the FP32 model over calibration batches and collect statistics of chosen activations."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import onnx
from tqdm import tqdm

from alice_gl.calibration.loaders import DEFAULT_BATCH_SIZE, CalibrationData
from alice_gl.calibration.statistics import DEFAULT_NUM_BINS, TensorStatistics
from alice_gl.executor import NumpySession

logger = logging.getLogger(__name__)


def collect_statistics(model: onnx.ModelProto, data: CalibrationData,
                       tensor_names: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
                       num_bins: int = DEFAULT_NUM_BINS,
                       progress: bool = True) -> dict[str, TensorStatistics]:
    """Return streaming statistics of every tensor in ``tensor_names`` over all of ``data``.

    ``model`` runs in the NumPy executor one batch at a time, so memory contains one batch of
    intermediates plus ``num_bins`` histogram counts per tensor. ``tensor_names`` must be
    values of the main graph. With ``progress`` a tqdm bar on stderr counts samples processed.
    """
    names = list(dict.fromkeys(tensor_names))
    statistics = {name: TensorStatistics(name, num_bins) for name in names}
    if not names:
        return statistics
    session = NumpySession(model)
    with tqdm(total=data.num_samples, unit="sample", desc="Calibrating", file=sys.stderr,
              disable=not progress) as bar:
        for batch in data.batches(batch_size):
            outputs = session.run(batch, output_names=names)
            for name in names:
                statistics[name].update(outputs[name])
            bar.update(len(next(iter(batch.values()))))
    logger.info("Collected statistics of %d tensor(s) over %d sample(s)", len(names),
                data.num_samples)
    return statistics
