"""Whole-model GL executor: FP32 and INT8 ONNX models as GL passes, NumPy for the rest.

``GLSession(model, profile=...)`` compiles the model into fused GL kernels (see ``plan`` and
``matching``), plans every texture against a memory budget, and runs it with one readback
per output. See docs/gl_executor.md.
"""

from alice_gl.gl_executor.profile import Int8Capture, RunProfile, StepTiming
from alice_gl.gl_executor.runner import GLPlan
from alice_gl.gl_executor.session import PASS_FAMILIES, GLSession

__all__ = ["PASS_FAMILIES", "GLPlan", "GLSession", "Int8Capture", "RunProfile", "StepTiming"]
