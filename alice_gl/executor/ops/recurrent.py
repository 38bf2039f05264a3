"""Recurrent layers: LSTM, GRU and RNN, in all directions, with sequence_lens and both layouts.

Each step follows the equations of the ONNX spec (gate order: LSTM i, o, f, c; GRU z, r, h).
The input projection X @ W^T + Wb runs for all time steps in one matmul before the loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs, optional_input
from alice_gl.executor.registry import register

Activation = Callable[[np.ndarray], np.ndarray]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    positive = 1 / (1 + np.exp(-np.abs(x)))
    return np.where(x >= 0, positive, 1 - positive)


# Each entry: (uses alpha, uses beta, default alpha, default beta, function(x, alpha, beta)).
_ACTIVATIONS: dict[str, tuple[bool, bool, float, float, Any]] = {
    "relu": (False, False, 0, 0, lambda x, a, b: np.maximum(x, 0)),
    "tanh": (False, False, 0, 0, lambda x, a, b: np.tanh(x)),
    "sigmoid": (False, False, 0, 0, lambda x, a, b: _sigmoid(x)),
    "affine": (True, True, 1.0, 0.0, lambda x, a, b: a * x + b),
    "leakyrelu": (True, False, 0.01, 0, lambda x, a, b: np.where(x >= 0, x, a * x)),
    "thresholdedrelu": (True, False, 1.0, 0, lambda x, a, b: np.where(x > a, x, 0)),
    "scaledtanh": (True, True, 1.0, 1.0, lambda x, a, b: a * np.tanh(b * x)),
    "hardsigmoid": (True, True, 0.2, 0.5, lambda x, a, b: np.clip(a * x + b, 0, 1)),
    "elu": (True, False, 1.0, 0, lambda x, a, b: np.where(x >= 0, x, a * np.expm1(x))),
    "softsign": (False, False, 0, 0, lambda x, a, b: x / (1 + np.abs(x))),
    "softplus": (False, False, 0, 0, lambda x, a, b: np.logaddexp(x, 0)),
}


def _check_activations(attributes: dict[str, Any]) -> str | None:
    unknown = [name for name in attributes.get("activations", [])
               if name.lower() not in _ACTIVATIONS]
    if unknown:
        return f"activations {unknown} are not among {sorted(_ACTIVATIONS)}"
    return None


def _activations(attributes: dict[str, Any], defaults: list[str],
                 directions: int) -> list[list[Activation]]:
    """Return the activation functions per direction.

    activation_alpha and activation_beta are consumed in order by the activations that take
    that parameter; the others use the defaults listed in ``_ACTIVATIONS``.
    """
    names = attributes.get("activations") or defaults * directions
    alphas = list(attributes.get("activation_alpha", []))
    betas = list(attributes.get("activation_beta", []))
    functions = []
    for name in names:
        uses_alpha, uses_beta, alpha, beta, function = _ACTIVATIONS[name.lower()]
        if uses_alpha and alphas:
            alpha = alphas.pop(0)
        if uses_beta and betas:
            beta = betas.pop(0)
        functions.append(lambda x, f=function, a=alpha, b=beta: f(x, a, b))
    per_direction = len(defaults)
    return [functions[d * per_direction:(d + 1) * per_direction] for d in range(directions)]


class _Recurrence:
    """State shared by the steps of one recurrent node call: layout, directions, sequence_lens."""

    def __init__(self, inputs: Inputs, attributes: dict[str, Any], gates: int,
                 defaults: list[str]) -> None:
        self.layout = attributes.get("layout", 0)
        x = inputs[0]
        # Work in layout 0: X is (seq_length, batch_size, input_size).
        self.x = np.swapaxes(x, 0, 1) if self.layout else x
        self.dtype = x.dtype
        self.w, self.r = inputs[1], inputs[2]
        self.directions = self.w.shape[0]
        self.hidden = self.r.shape[-1]
        self.direction = attributes.get("direction", "forward")
        self.clip = attributes.get("clip")
        seq_length, batch = self.x.shape[:2]
        bias = optional_input(inputs, 3)
        self.bias = (np.zeros((self.directions, 2 * gates * self.hidden), dtype=self.dtype)
                     if bias is None else bias)
        lengths = optional_input(inputs, 4)
        self.lengths = (np.full(batch, seq_length, dtype=np.int64) if lengths is None
                        else lengths.astype(np.int64))
        self.activations = _activations(attributes, defaults, self.directions)

    def initial(self, value: np.ndarray | None) -> np.ndarray:
        """Return an initial state in layout 0, (directions, batch, hidden), default zeros."""
        if value is None:
            return np.zeros((self.directions, self.x.shape[1], self.hidden), dtype=self.dtype)
        return np.swapaxes(value, 0, 1) if self.layout else value

    def is_reverse(self, direction_index: int) -> bool:
        return self.direction == "reverse" or (
            self.direction == "bidirectional" and direction_index == 1)

    def time_index(self, reverse: bool) -> np.ndarray:
        """Return (seq, batch) indices: the time step each batch item reads at each step.

        A reverse pass reads each sequence from its own last valid step back to 0.
        """
        seq_length = self.x.shape[0]
        steps = np.arange(seq_length).reshape(-1, 1)
        if not reverse:
            return np.broadcast_to(steps, (seq_length, self.lengths.size))
        return np.clip(self.lengths.reshape(1, -1) - 1 - steps, 0, seq_length - 1)

    def clipped(self, gates: np.ndarray) -> np.ndarray:
        return gates if self.clip is None else np.clip(gates, -self.clip, self.clip)

    def outputs(self, per_direction: list[np.ndarray],
                finals: list[list[np.ndarray]]) -> list[np.ndarray]:
        """Stack Y (seq, directions, batch, hidden) and each final state in the node's layout."""
        y = np.stack(per_direction, axis=1)
        states = [np.stack(state, axis=0) for state in zip(*finals, strict=True)]
        if self.layout:
            y = y.transpose(2, 0, 1, 3)
            states = [np.swapaxes(state, 0, 1) for state in states]
        return [y.astype(self.dtype)] + [state.astype(self.dtype) for state in states]

    def run(self, step: Callable[..., tuple[np.ndarray, list[np.ndarray]]],
            states: list[np.ndarray], gates: int) -> list[np.ndarray]:
        """Run ``step(projected_x_t, states, direction) -> (h_t, new_states)`` per direction.

        Batch items past their sequence length keep their state and output zeros.
        """
        seq_length, batch = self.x.shape[:2]
        per_direction, finals = [], []
        for d in range(self.directions):
            reverse = self.is_reverse(d)
            w_bias = self.bias[d, :gates * self.hidden]
            projected = self.x @ self.w[d].T + w_bias
            order = self.time_index(reverse)
            current = [state[d] for state in states]
            y = np.zeros((seq_length, batch, self.hidden), dtype=self.dtype)
            for t in range(seq_length):
                active = (t < self.lengths).reshape(-1, 1)
                x_t = projected[order[t], np.arange(batch)]
                h_t, updated = step(x_t, current, d)
                current = [np.where(active, new, old)
                           for new, old in zip(updated, current, strict=True)]
                y_t = np.where(active, h_t, 0)
                # Write each item's output back at the time step it read.
                y[order[t], np.arange(batch)] = np.where(active, y_t, y[order[t], np.arange(batch)])
            per_direction.append(y)
            finals.append(current)
        return self.outputs(per_direction, finals)


@register("LSTM", since_version=7, check=_check_activations)
def lstm(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """it = f(Xt Wi + Ht-1 Ri + Pi*Ct-1 + b_i), ft likewise, ct = g(...), Ct = ft*Ct-1 + it*ct,
    ot = f(Xt Wo + Ht-1 Ro + Po*Ct + b_o), Ht = ot * h(Ct); W/R/B gate order i, o, f, c."""
    run = _Recurrence(inputs, attributes, 4, ["Sigmoid", "Tanh", "Tanh"])
    hidden = run.hidden
    peephole = optional_input(inputs, 7)
    if peephole is None:
        peephole = np.zeros((run.directions, 3 * hidden), dtype=run.dtype)
    input_forget = attributes.get("input_forget", 0)

    def step(x_t: np.ndarray, states: list[np.ndarray], d: int) -> tuple[np.ndarray, list]:
        h, c = states
        f, g, h_activation = run.activations[d]
        gates = x_t + h @ run.r[d].T + run.bias[d, 4 * hidden:]
        i_raw, o_raw, f_raw, c_raw = np.split(gates, 4, axis=-1)
        p_i, p_o, p_f = np.split(peephole[d], 3)
        i_t = f(run.clipped(i_raw + p_i * c))
        f_t = 1 - i_t if input_forget else f(run.clipped(f_raw + p_f * c))
        c_candidate = g(run.clipped(c_raw))
        c_new = f_t * c + i_t * c_candidate
        o_t = f(run.clipped(o_raw + p_o * c_new))
        h_new = o_t * h_activation(c_new)
        return h_new, [h_new, c_new]

    states = [run.initial(optional_input(inputs, 5)), run.initial(optional_input(inputs, 6))]
    return run.run(step, states, 4)


@register("GRU", since_version=7, check=_check_activations)
def gru(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """zt = f(Xt Wz + Ht-1 Rz + b_z), rt likewise, ht = g(Xt Wh + (rt * Ht-1) Rh + b_h), or
    with linear_before_reset ht = g(Xt Wh + rt * (Ht-1 Rh + Rbh) + Wbh); Ht = (1 - zt) * ht +
    zt * Ht-1. W/R/B gate order z, r, h."""
    run = _Recurrence(inputs, attributes, 3, ["Sigmoid", "Tanh"])
    hidden = run.hidden
    linear_before_reset = attributes.get("linear_before_reset", 0)

    def step(x_t: np.ndarray, states: list[np.ndarray], d: int) -> tuple[np.ndarray, list]:
        (h,) = states
        f, g = run.activations[d]
        r_z, r_r, r_h = np.split(run.r[d], 3, axis=0)
        rb_z, rb_r, rb_h = np.split(run.bias[d, 3 * hidden:], 3)
        x_z, x_r, x_h = np.split(x_t, 3, axis=-1)
        z_t = f(run.clipped(x_z + h @ r_z.T + rb_z))
        r_t = f(run.clipped(x_r + h @ r_r.T + rb_r))
        if linear_before_reset:
            h_candidate = g(run.clipped(x_h + r_t * (h @ r_h.T + rb_h)))
        else:
            h_candidate = g(run.clipped(x_h + (r_t * h) @ r_h.T + rb_h))
        h_new = (1 - z_t) * h_candidate + z_t * h
        return h_new, [h_new]

    return run.run(step, [run.initial(optional_input(inputs, 5))], 3)


@register("RNN", since_version=7, check=_check_activations)
def rnn(inputs: Inputs, attributes: dict[str, Any]) -> list[np.ndarray]:
    """Ht = f(Xt Wi + Ht-1 Ri + Wbi + Rbi)."""
    run = _Recurrence(inputs, attributes, 1, ["Tanh"])
    hidden = run.hidden

    def step(x_t: np.ndarray, states: list[np.ndarray], d: int) -> tuple[np.ndarray, list]:
        (h,) = states
        (f,) = run.activations[d]
        h_new = f(run.clipped(x_t + h @ run.r[d].T + run.bias[d, hidden:]))
        return h_new, [h_new]

    return run.run(step, [run.initial(optional_input(inputs, 5))], 1)
