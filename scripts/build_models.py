"""Rebuild the models bundled in ``alice_gl/data`` from scikit-learn's digits data set.

Writes the files below. Seeds are fixed, so a rebuild with the same library versions on the
same CPU gives byte-identical files:

- ``digits_test.npz``: the held-out test split shared by every model: ``x`` float32 [N, 64]
  (pixels scaled from 0..16 to [0, 1]), ``x_image`` float32 [N, 1, 8, 8] (the same pixels as
  images) and ``y`` int64 [N] (digit labels).
- ``mlp_digits.onnx``: scikit-learn ``MLPClassifier`` exported with skl2onnx.
- ``cnn_digits.onnx``: a small CNN trained with PyTorch, with BatchNormalization left un-fused
  and one depthwise convolution. Only this model needs torch (the ``models`` extra).
- ``models.json``: per model its file, input name and shape, output names, the output that
  contains the class scores, and its FP32 top-1 accuracy on the test split under onnxruntime.

Usage: ``pip install -e '.[models]'``, then
``python scripts/build_models.py [--output-dir DIR] [--models mlp cnn]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import logging
import sys
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnx
import onnxruntime
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from alice_gl.model_io import load_model, save_model

if TYPE_CHECKING:
    import torch

logger = logging.getLogger("build_models")

DATA_DIR = Path(__file__).resolve().parent.parent / "alice_gl" / "data"
SPLIT_FILE = "digits_test.npz"
MANIFEST_FILE = "models.json"
SEED = 0
# (384, 256) gives about 125k parameters (500 KB FP32): large enough that the int8 weights, not
# the per-channel scales, biases and graph, set the INT8 file size, as in real models.
MLP_HIDDEN_LAYERS = (384, 256)
TEST_FRACTION = 0.25
# Digits pixels are integers 0..16, so dividing by this maps them to [0, 1].
PIXEL_MAX = 16.0
ONNX_OPSET = 13
BATCH_DIM = "batch"
CNN_EPOCHS = 60
CNN_BATCH_SIZE = 64
CNN_LEARNING_RATE = 0.003


@dataclass(frozen=True)
class DigitsSplit:
    """Train and test arrays of the digits data set, pixels in [0, 1], labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split() -> DigitsSplit:
    """Split digits 75/25, stratified by label, with ``random_state=SEED``."""
    digits = load_digits()
    x = (digits.data / PIXEL_MAX).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SEED, stratify=y)
    return DigitsSplit(x_train, y_train, x_test, y_test)


def save_split(split: DigitsSplit, output_dir: Path) -> Path:
    """Write the test split as a compressed ``.npz`` with ``x``, ``x_image`` and ``y``."""
    path = output_dir / SPLIT_FILE
    x_image = split.x_test.reshape(-1, 1, 8, 8)
    np.savez_compressed(path, x=split.x_test, x_image=x_image, y=split.y_test)
    return path


def build_mlp(split: DigitsSplit) -> tuple[onnx.ModelProto, str]:
    """Train the MLP, export it, and return the model and the name of its probabilities output.

    skl2onnx also emits a ``label`` output through ``ArgMax`` and the ``ai.onnx.ml`` operator
    ``ArrayFeatureExtractor``. The bundled model keeps only ``probabilities``, so it needs no
    ``ai.onnx.ml`` operator. The top-1 label is the argmax of the probabilities.
    """
    classifier = MLPClassifier(hidden_layer_sizes=MLP_HIDDEN_LAYERS, max_iter=300,
                               random_state=SEED)
    classifier.fit(split.x_train, split.y_train)
    exported = to_onnx(classifier, initial_types=[("input", FloatTensorType([None, 64]))],
                       options={"zipmap": False}, target_opset=ONNX_OPSET)

    score_output = "probabilities"
    model = onnx.utils.Extractor(exported).extract_model(["input"], [score_output])
    del model.opset_import[:]
    model.opset_import.extend(exported.opset_import)
    _drop_unused_opsets(model)
    _name_batch_dim(model)
    model.producer_name = exported.producer_name
    model.producer_version = exported.producer_version
    model.doc_string = (f"scikit-learn MLPClassifier {MLP_HIDDEN_LAYERS} on the digits data set, "
                        "inputs are 8x8 pixels scaled to [0, 1]")
    return model, score_output


def build_cnn(split: DigitsSplit) -> tuple[onnx.ModelProto, str]:
    """Train the CNN with PyTorch, export it, and return the model and its logits output name.

    Layers: Conv 3x3 (1 -> 32) + BatchNormalization + Relu, depthwise Conv 3x3 (group 32) +
    BatchNormalization + Relu, Conv 1x1 (32 -> 64) + BatchNormalization + Relu, MaxPool 2x2,
    Conv 3x3 (64 -> 128) and Conv 3x3 (128 -> 128), each + BatchNormalization + Relu,
    GlobalAveragePool, Flatten, Gemm (128 -> 10): about 225k parameters, so that the weights
    dominate the file as in real CNNs. The convolutions have no bias because a
    BatchNormalization follows each. Training runs on one thread with deterministic kernels.
    """
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    network = nn.Sequential(OrderedDict([
        *_conv_block("conv1", 1, 32, kernel_size=3, groups=1),
        *_conv_block("depthwise", 32, 32, kernel_size=3, groups=32),
        *_conv_block("pointwise", 32, 64, kernel_size=1, groups=1),
        ("pool", nn.MaxPool2d(2)),
        *_conv_block("conv4", 64, 128, kernel_size=3, groups=1),
        *_conv_block("conv5", 128, 128, kernel_size=3, groups=1),
        ("global_pool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(128, 10)),
    ]))
    x_train = torch.from_numpy(split.x_train.reshape(-1, 1, 8, 8))
    _train(network, x_train, torch.from_numpy(split.y_train))

    score_output = "logits"
    network.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.13 flags the TorchScript exporter as legacy. It is used because its
        # TrainingMode.PRESERVE keeps BatchNormalization as separate nodes.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(network, x_train[:1], buffer, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["input"], output_names=[score_output],
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                          dynamic_axes={"input": {0: BATCH_DIM}, score_output: {0: BATCH_DIM}})
    model = onnx.load_from_string(buffer.getvalue())
    model.doc_string = ("PyTorch CNN on the digits data set, inputs are 1x8x8 images with "
                        "pixels scaled to [0, 1], outputs are logits")
    return model, score_output


def _conv_block(name: str, in_channels: int, out_channels: int, kernel_size: int,
                groups: int) -> list[tuple[str, torch.nn.Module]]:
    from torch import nn

    return [
        (name, nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                         groups=groups, bias=False)),
        (f"{name}_bn", nn.BatchNorm2d(out_channels)),
        (f"{name}_relu", nn.ReLU()),
    ]


def _train(network: torch.nn.Module, x_train: torch.Tensor, y_train: torch.Tensor) -> None:
    """Fit ``network`` with Adam and cross-entropy over ``CNN_EPOCHS`` shuffled epochs."""
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=CNN_LEARNING_RATE)
    generator = torch.Generator().manual_seed(SEED)
    network.train()
    for _ in range(CNN_EPOCHS):
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(x_train), CNN_BATCH_SIZE):
            batch = order[start:start + CNN_BATCH_SIZE]
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(network(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
    logger.info("CNN training finished, last batch loss %.4f", loss.item())


def _drop_unused_opsets(model: onnx.ModelProto) -> None:
    used = {node.domain for node in model.graph.node}
    kept = [entry for entry in model.opset_import
            if entry.domain in ("", "ai.onnx") or entry.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def _name_batch_dim(model: onnx.ModelProto) -> None:
    """Give the leading dimension of every graph input and output the name ``BATCH_DIM``."""
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH_DIM


def measure_accuracy(path: Path, inputs: np.ndarray, labels: np.ndarray,
                     score_output: str) -> float:
    """Return the onnxruntime top-1 accuracy of the model at ``path`` on ``inputs``."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    (scores,) = session.run([score_output], {input_name: inputs})
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def describe(path: Path, split_key: str, score_output: str, accuracy: float) -> dict:
    """Return the ``models.json`` entry of the model saved at ``path``."""
    model = onnx.load(str(path))
    graph_input = model.graph.input[0]
    shape = [dim.dim_param if dim.dim_param else dim.dim_value
             for dim in graph_input.type.tensor_type.shape.dim]
    return {
        "file": path.name,
        "input_name": graph_input.name,
        "input_shape": shape,
        "test_inputs": split_key,
        "output_names": [output.name for output in model.graph.output],
        "score_output": score_output,
        "fp32_test_accuracy": accuracy,
        "operators": sorted({node.op_type for node in model.graph.node}),
        "size_bytes": path.stat().st_size,
    }


def write_model(model: onnx.ModelProto, path: Path) -> Path:
    """Check ``model`` with ``load_model`` and save it atomically to ``path``."""
    return save_model(load_model(model, infer_shapes=False), path)


def main(argv: list[str] | None = None) -> int:
    """Rebuild the requested models and rewrite their ``models.json`` entries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=DATA_DIR,
                        help="folder to write the models, split and manifest to")
    parser.add_argument("--models", nargs="+", choices=["mlp", "cnn"], default=["mlp", "cnn"],
                        help="models to rebuild (the models.json entries of the others are kept)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    output_dir: Path = args.output_dir
    if "cnn" in args.models and importlib.util.find_spec("torch") is None:
        parser.error("building the CNN needs torch, which is not installed. Install it with "
                     "pip install -e '.[models]', or pass --models mlp.")
    split = load_split()
    save_split(split, output_dir)
    manifest_path = output_dir / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}

    if "mlp" in args.models:
        model, score_output = build_mlp(split)
        path = write_model(model, output_dir / "mlp_digits.onnx")
        accuracy = measure_accuracy(path, split.x_test, split.y_test, score_output)
        manifest["mlp_digits"] = describe(path, "x", score_output, accuracy)
    if "cnn" in args.models:
        model, score_output = build_cnn(split)
        path = write_model(model, output_dir / "cnn_digits.onnx")
        x_image = split.x_test.reshape(-1, 1, 8, 8)
        accuracy = measure_accuracy(path, x_image, split.y_test, score_output)
        manifest["cnn_digits"] = describe(path, "x_image", score_output, accuracy)

    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    for name, entry in sorted(manifest.items()):
        logger.info("%s: %d bytes, FP32 top-1 accuracy %.4f, operators %s", name,
                    entry["size_bytes"], entry["fp32_test_accuracy"],
                    ", ".join(entry["operators"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
