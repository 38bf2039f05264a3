"""Element-wise arithmetic, comparison and logic with NumPy broadcasting, plus MatMul and Gemm."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from alice_gl.executor.registry import register

Inputs = list[np.ndarray | None]


def _unary(op_type: str, function: Any) -> None:
    @register(op_type)
    def kernel(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
        x = inputs[0]
        return np.asarray(function(x)).astype(x.dtype, copy=False)


for _op_type, _function in {
    "Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log,
    "Reciprocal": np.reciprocal, "Floor": np.floor, "Ceil": np.ceil, "Sign": np.sign,
    # ONNX Round rounds half to even, as np.round does.
    "Round": np.round, "Sin": np.sin, "Cos": np.cos, "Tan": np.tan, "Asin": np.arcsin,
    "Acos": np.arccos, "Atan": np.arctan, "Sinh": np.sinh, "Cosh": np.cosh, "Asinh": np.arcsinh,
    "Acosh": np.arccosh, "Atanh": np.arctanh,
}.items():
    _unary(_op_type, _function)

# NumPy has no erf; math.erf is exact to double precision but runs per element.
_erf = np.frompyfunc(math.erf, 1, 1)


@register("Erf")
def erf(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    return _erf(x.astype(np.float64)).astype(x.dtype)


def _binary(op_type: str, function: Any, same_type: bool = True) -> None:
    @register(op_type)
    def kernel(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
        result = np.asarray(function(inputs[0], inputs[1]))
        return result.astype(inputs[0].dtype, copy=False) if same_type else result


for _op_type, _function in {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply}.items():
    _binary(_op_type, _function)
for _op_type, _function in {
    "Equal": np.equal, "Greater": np.greater, "Less": np.less,
    "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal,
    "And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor,
}.items():
    _binary(_op_type, _function, same_type=False)


@register("Div")
def div(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    a, b = inputs[0], inputs[1]
    if np.issubdtype(a.dtype, np.integer):
        # Integer division truncates toward zero, as in C, unlike np.floor_divide.
        quotient = np.floor_divide(a, b)
        adjust = (np.remainder(a, b) != 0) & ((a < 0) ^ (b < 0))
        return (quotient + adjust).astype(a.dtype)
    return np.divide(a, b).astype(a.dtype, copy=False)


@register("Pow")
def power(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # The result has the base's type even when the exponent's type differs.
    return np.power(inputs[0], inputs[1]).astype(inputs[0].dtype, copy=False)


@register("Mod")
def mod(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # fmod=1 takes the dividend's sign (C fmod); fmod=0 takes the divisor's sign (Python %).
    if attributes.get("fmod", 0):
        return np.fmod(inputs[0], inputs[1])
    return np.mod(inputs[0], inputs[1])


@register("Not")
def logical_not(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.logical_not(inputs[0])


@register("IsNaN")
def is_nan(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.isnan(inputs[0])


@register("IsInf")
def is_inf(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    x = inputs[0]
    positive = np.isposinf(x) if attributes.get("detect_positive", 1) else np.zeros(x.shape, bool)
    negative = np.isneginf(x) if attributes.get("detect_negative", 1) else np.zeros(x.shape, bool)
    return positive | negative


@register("Where")
def where(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.where(inputs[0], inputs[1], inputs[2])


def _variadic(op_type: str, function: Any) -> None:
    @register(op_type)
    def kernel(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
        present = [x for x in inputs if x is not None]
        return np.asarray(functools.reduce(function, present)).astype(present[0].dtype,
                                                                      copy=False)


_variadic("Sum", np.add)
_variadic("Max", np.maximum)
_variadic("Min", np.minimum)


@register("Mean")
def mean(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    present = [x for x in inputs if x is not None]
    return (functools.reduce(np.add, present) / len(present)).astype(present[0].dtype)


@register("MatMul")
def matmul(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # np.matmul follows numpy.matmul broadcasting, which is what the ONNX spec prescribes.
    return np.matmul(inputs[0], inputs[1])


@register("Gemm")
def gemm(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Y = alpha * A' @ B' + beta * C, with A' = A.T when transA and B' = B.T when transB.
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    if attributes.get("transA", 0):
        a = a.T
    if attributes.get("transB", 0):
        b = b.T
    alpha = attributes.get("alpha", 1.0)
    beta = attributes.get("beta", 1.0)
    y = a @ b
    if alpha != 1.0:
        y = y * np.asarray(alpha, dtype=y.dtype)
    if c is not None and beta != 0.0:
        y = y + (c if beta == 1.0 else c * np.asarray(beta, dtype=c.dtype))
    return y.astype(inputs[0].dtype, copy=False)


@register("Einsum")
def einsum(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.einsum(attributes["equation"], *inputs)


for _op_type, _function in {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or,
                            "BitwiseXor": np.bitwise_xor}.items():
    _binary(_op_type, _function, same_type=False)


@register("BitwiseNot")
def bitwise_not(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    return np.bitwise_not(inputs[0])


@register("BitShift")
def bit_shift(inputs: Inputs, attributes: dict[str, Any]) -> np.ndarray:
    # Only unsigned types are allowed; bits shifted past the width are lost.
    x, shift = inputs[0], inputs[1]
    if attributes["direction"] == "LEFT":
        return np.left_shift(x, shift).astype(x.dtype)
    return np.right_shift(x, shift).astype(x.dtype)
