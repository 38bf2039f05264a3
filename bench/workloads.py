"""The models the benchmarks measure, their inputs, and their INT8 versions from both quantizers.

Models:

- ``mlp_digits`` and ``cnn_digits``: the bundled digits models (``alice_gl.bundled``).
- ``light_squeezenet``: SqueezeNet 1.0 from the onnx wheel's ``backend/test/data/light``. That
  copy stores no weights: ``ConstantOfShape`` nodes fill every weight with one value. The
  benchmark turns those nodes into initializers of the same shape and value, so both
  quantizers see constant weights, converts the graph to opset 13 and makes the batch
  dimension symbolic. Outputs are meaningless (constant weights); only time and size count.
- ``linear_4096``: ``y = x @ W + b`` with W 4096 x 4096 and b 4096, float32 drawn from
  N(0, 0.02) with seed ``LINEAR_SEED``: 64 MiB of FP32 weights.

Inputs are uniform [0, 1) float32 from a seeded generator, shaped (batch, *sample_shape).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter
from onnxruntime.quantization import QuantType
from onnxruntime.quantization import quantize_dynamic as ort_quantize_dynamic

from alice_gl.bundled import load_bundled
from alice_gl.model_io import save_model
from alice_gl.quantization import quantize_dynamic

WORKLOAD_NAMES = ("mlp_digits", "cnn_digits", "light_squeezenet", "linear_4096")
QUICK_WORKLOAD_NAMES = ("mlp_digits", "cnn_digits")
LINEAR_SIZE = 4096
LINEAR_SEED = 4096
INPUT_SEED = 7
OPSET = 13
# The op types both quantizers rewrite; onnxruntime gets the same list so the graphs compare.
QUANTIZED_OP_TYPES = ["MatMul", "Gemm", "Conv", "ConvTranspose"]
SQUEEZENET_PATH = (Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
                   / "light_squeezenet.onnx")


@dataclass(frozen=True)
class Workload:
    """An FP32 model with a symbolic batch dimension and the shape of one input sample."""

    name: str
    model: onnx.ModelProto
    input_name: str
    sample_shape: tuple[int, ...]

    def inputs(self, batch: int) -> dict[str, np.ndarray]:
        """Return the feed dictionary for a batch of ``batch`` seeded random samples."""
        generator = np.random.default_rng(INPUT_SEED)
        return {self.input_name: generator.random((batch, *self.sample_shape), dtype=np.float32)}


@dataclass(frozen=True)
class ModelFiles:
    """A workload saved as FP32, as our INT8 and as onnxruntime's INT8 model, in one folder."""

    fp32: Path
    int8: Path
    onnxruntime_int8: Path

    def sizes(self) -> dict[str, int]:
        """Return the file sizes in bytes, keyed fp32, int8 and onnxruntime_int8."""
        return {"fp32": self.fp32.stat().st_size, "int8": self.int8.stat().st_size,
                "onnxruntime_int8": self.onnxruntime_int8.stat().st_size}


def load_workload(name: str) -> Workload:
    """Return the workload ``name`` (one of ``WORKLOAD_NAMES``); raises ``ValueError`` otherwise."""
    if name in ("mlp_digits", "cnn_digits"):
        bundled = load_bundled(name)
        model = onnx.load(str(bundled.model_path))
        return Workload(name, model, bundled.input_name, tuple(bundled.test_inputs.shape[1:]))
    if name == "light_squeezenet":
        return Workload(name, materialized_squeezenet(), "data_0", (3, 224, 224))
    if name == "linear_4096":
        return Workload(name, linear_model(LINEAR_SIZE, LINEAR_SIZE), "x", (LINEAR_SIZE,))
    raise ValueError(f"Unknown workload {name!r}; use one of {', '.join(WORKLOAD_NAMES)}.")


def linear_model(k: int, n: int, seed: int = LINEAR_SEED) -> onnx.ModelProto:
    """Return ``y = x @ W + b`` (MatMul + Add) with x (batch, k), W (k, n) and b (n,)."""
    generator = np.random.default_rng(seed)
    weight = generator.normal(0.0, 0.02, size=(k, n)).astype(np.float32)
    bias = generator.normal(0.0, 0.02, size=(n,)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xW"], name="matmul"),
         helper.make_node("Add", ["xW", "b"], ["y"], name="add")],
        f"linear_{k}x{n}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", n])],
        initializer=[numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def materialized_squeezenet(path: Path = SQUEEZENET_PATH) -> onnx.ModelProto:
    """Return light_squeezenet with its weights as initializers, opset 13 and a symbolic batch."""
    model = onnx.load(str(path))
    initializers = {init.name: init for init in model.graph.initializer}
    kept_nodes = []
    for node in model.graph.node:
        shape_name = node.input[0] if node.input else ""
        if node.op_type != "ConstantOfShape" or shape_name not in initializers:
            kept_nodes.append(node)
            continue
        shape = numpy_helper.to_array(initializers[shape_name]).astype(np.int64)
        fill = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
        weight = np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)
        model.graph.initializer.append(numpy_helper.from_array(weight, node.output[0]))
    del model.graph.node[:]
    model.graph.node.extend(kept_nodes)

    # The light models list initializers as graph inputs (IR version 3); keep only real inputs.
    initializer_names = {init.name for init in model.graph.initializer}
    real_inputs = [value for value in model.graph.input if value.name not in initializer_names]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    model.ir_version = max(model.ir_version, 4)

    model = version_converter.convert_version(model, OPSET)
    _make_batch_symbolic(model)
    _remove_unused_initializers(model)
    onnx.checker.check_model(model)
    return model


def _make_batch_symbolic(model: onnx.ModelProto) -> None:
    for value in [*model.graph.input, *model.graph.output]:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]


def _remove_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    kept = [init for init in model.graph.initializer if init.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def quantize_ours(model: onnx.ModelProto | Path, output: Path) -> None:
    """Quantize with ``alice_gl.quantization.quantize_dynamic`` and save to ``output``."""
    quantized, _ = quantize_dynamic(model)
    save_model(quantized, output)


def quantize_onnxruntime(source: Path, output: Path) -> None:
    """Quantize ``source`` with onnxruntime's ``quantize_dynamic``: int8 weights per channel.

    Per-channel int8 weights and the op types in ``QUANTIZED_OP_TYPES`` match what
    ``quantize_ours`` writes.
    """
    with quiet_root_logger():
        ort_quantize_dynamic(source, output, per_channel=True, weight_type=QuantType.QInt8,
                             op_types_to_quantize=QUANTIZED_OP_TYPES)


@contextlib.contextmanager
def quiet_root_logger():
    """Raise the root logger to ERROR while onnxruntime's quantizer logs its advice at WARNING."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def save_workload(workload: Workload, folder: Path) -> ModelFiles:
    """Save the FP32 model and both INT8 versions of ``workload`` into ``folder``."""
    files = ModelFiles(folder / f"{workload.name}.onnx", folder / f"{workload.name}.int8.onnx",
                       folder / f"{workload.name}.ort_int8.onnx")
    save_model(workload.model, files.fp32)
    quantize_ours(files.fp32, files.int8)
    quantize_onnxruntime(files.fp32, files.onnxruntime_int8)
    return files


def temporary_folder() -> tempfile.TemporaryDirectory:
    """Return a temporary folder for model files, removed when the context exits."""
    return tempfile.TemporaryDirectory(prefix="alice_gl_bench_")
