"""Bring a model to the opset and IR version that the INT8 graph needs.

``DequantizeLinear`` takes the ``axis`` attribute for per-channel scales from opset 13 on,
so a model below opset 13 is converted with ``onnx.version_converter`` (which also rewrites
ops whose form changed, such as Softmax, Split and Squeeze). Opset 13 needs IR version 7.
"""

from __future__ import annotations

import logging

import onnx
from onnx import version_converter

from alice_gl.errors import InvalidModelError
from alice_gl.model_io import default_opset

logger = logging.getLogger(__name__)

QUANTIZED_MIN_OPSET = 13
QUANTIZED_MIN_IR_VERSION = 7
# From IR version 4 on, an initializer that is also a graph input is a default value that the
# caller may override. Before IR version 4, every initializer had to be listed as an input.
IR_VERSION_OVERRIDABLE_INITIALIZERS = 4


def prepare_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    """Return ``model`` at opset >= 13 and IR version >= 7, converting when needed.

    The result may be ``model`` itself, modified. Raises ``InvalidModelError`` naming the opset
    when the version converter fails.
    """
    if model.ir_version < IR_VERSION_OVERRIDABLE_INITIALIZERS:
        # Old IR lists every initializer as a graph input; they are constants, not inputs.
        constants = {tensor.name for tensor in model.graph.initializer}
        inputs = [value for value in model.graph.input if value.name not in constants]
        del model.graph.input[:]
        model.graph.input.extend(inputs)

    opset = default_opset(model)
    if opset < QUANTIZED_MIN_OPSET:
        logger.info("Converting the model from opset %d to opset %d for per-axis "
                    "DequantizeLinear", opset, QUANTIZED_MIN_OPSET)
        try:
            model = version_converter.convert_version(model, QUANTIZED_MIN_OPSET)
        except Exception as error:  # the converter raises RuntimeError or ValueError by op
            raise InvalidModelError(
                f"The model uses opset {opset} and onnx's version converter failed to upgrade "
                f"it to opset {QUANTIZED_MIN_OPSET}, which INT8 output needs: {error}. Re-export "
                f"the model with opset {QUANTIZED_MIN_OPSET} or newer.") from error
    model.ir_version = max(model.ir_version, QUANTIZED_MIN_IR_VERSION)
    return model
