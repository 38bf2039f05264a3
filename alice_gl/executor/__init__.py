"""The NumPy reference executor: run FP32 and INT8 ONNX graphs on the CPU with exact integer math.

``NumpySession`` loads a model once and runs it many times. ``run_node`` evaluates one ONNX node
through the same kernels, and ``call_kernel`` runs one node of an existing plan
(``session.graph.nodes``) without planning it again. ``supported_op_types`` lists the operators
that have a kernel.
"""

from alice_gl.executor.plan import GraphPlan, PlannedNode, ValueSpec, call_kernel
from alice_gl.executor.registry import supported_op_types
from alice_gl.executor.session import NumpySession, run_node

__all__ = ["GraphPlan", "NumpySession", "PlannedNode", "ValueSpec", "call_kernel", "run_node",
           "supported_op_types"]
