"""Look up the FP32 models that ship in ``alice_gl/data`` together with their test split.

``models.json`` in that folder lists each model: its file, input name and shape, the output
that contains the class scores, the key of its inputs in ``digits_test.npz`` and its FP32 top-1
accuracy under onnxruntime. ``scripts/build_models.py`` writes all of these files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.resources import data_path

MANIFEST_FILE = "models.json"
SPLIT_FILE = "digits_test.npz"
DEFAULT_MODEL = "mlp_digits"


@dataclass(frozen=True)
class BundledModel:
    """A bundled FP32 model, the test split it was measured on, and its measured accuracy.

    ``test_inputs`` has the model's input shape with the batch dimension first
    (float32 [N, 64] for ``mlp_digits``, [N, 1, 8, 8] for ``cnn_digits``). ``test_labels``
    is int64 [N]. The predicted label is the argmax of ``score_output`` along axis 1.
    """

    name: str
    model_path: Path
    input_name: str
    score_output: str
    test_inputs: np.ndarray
    test_labels: np.ndarray
    fp32_test_accuracy: float


def bundled_names() -> list[str]:
    """Return the names of the bundled models, sorted."""
    return sorted(_read_manifest())


def load_bundled(name: str = DEFAULT_MODEL) -> BundledModel:
    """Return the bundled model ``name`` with its test inputs and labels loaded into memory.

    Raises ``InvalidInputError`` naming the valid choices when ``name`` is not bundled.
    """
    manifest = _read_manifest()
    if name not in manifest:
        raise InvalidInputError(f"Unknown bundled model {name!r}. Choose one of "
                                f"{', '.join(sorted(manifest))}.")
    entry = manifest[name]
    with np.load(data_path(SPLIT_FILE)) as split:
        test_inputs = split[entry["test_inputs"]]
        test_labels = split["y"]
    return BundledModel(
        name=name,
        model_path=data_path(entry["file"]),
        input_name=entry["input_name"],
        score_output=entry["score_output"],
        test_inputs=test_inputs,
        test_labels=test_labels,
        fp32_test_accuracy=float(entry["fp32_test_accuracy"]),
    )


def _read_manifest() -> dict[str, dict]:
    return json.loads(data_path(MANIFEST_FILE).read_text(encoding="utf-8"))
