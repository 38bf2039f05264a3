"""Control flow: If runs the chosen branch; Loop runs its body until the trip count or condition
stops it. Branches and bodies arrive planned (``GraphPlan``) and read enclosing values from
``scope``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from alice_gl.executor.ops.common import Inputs
from alice_gl.executor.registry import register


@register("If", needs_scope=True)
def if_(inputs: Inputs, attributes: dict[str, Any],
        scope: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    condition = inputs[0]
    if condition.size != 1:
        raise ValueError(f"If needs a single-element condition, got shape {condition.shape}")
    branch = attributes["then_branch"] if bool(condition.reshape(-1)[0]) else (
        attributes["else_branch"])
    results = branch.run({}, scope=scope)
    return [results[spec.name] for spec in branch.outputs]


@register("Loop", needs_scope=True)
def loop(inputs: Inputs, attributes: dict[str, Any],
         scope: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``body`` while ``i < M`` and ``cond`` holds; either may be omitted.

    Body inputs: (iteration_num, cond, carried...). Body outputs: (cond, carried...,
    scan outputs...); each scan output is stacked along a new first axis.
    """
    body = attributes["body"]
    trip_count = inputs[0] if len(inputs) > 0 else None
    condition = inputs[1] if len(inputs) > 1 else None
    carried = list(inputs[2:])
    limit = None if trip_count is None else int(trip_count.reshape(-1)[0])
    keep_going = True if condition is None else bool(condition.reshape(-1)[0])
    input_names = [spec.name for spec in body.inputs]
    output_names = [spec.name for spec in body.outputs]
    scan_count = len(output_names) - 1 - len(carried)
    scans: list[list[np.ndarray]] = [[] for _ in range(scan_count)]

    iteration = 0
    while keep_going and (limit is None or iteration < limit):
        feeds = {input_names[0]: np.array(iteration, dtype=np.int64),
                 input_names[1]: np.array(keep_going)}
        feeds.update(zip(input_names[2:], carried, strict=True))
        results = body.run(feeds, scope=scope)
        keep_going = bool(np.asarray(results[output_names[0]]).reshape(-1)[0])
        carried = [results[name] for name in output_names[1:1 + len(carried)]]
        for stack, name in zip(scans, output_names[1 + len(carried):], strict=True):
            stack.append(results[name])
        iteration += 1
    # NOTE: a loop that runs zero times returns scan outputs of shape (0,), because the body's
    # output shapes are only known from a run.
    stacked = [np.stack(stack) if stack else np.zeros((0,), dtype=np.float32)
               for stack in scans]
    return carried + stacked


@register("Scan", since_version=9, needs_scope=True)
def scan(inputs: Inputs, attributes: dict[str, Any],
         scope: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Run ``body`` once per slice of the scan inputs, carrying the state values along.

    Inputs: (state..., scan inputs...); body inputs: (state..., one slice per scan input);
    body outputs: (state..., one slice per scan output). Scan outputs stack the slices along
    ``scan_output_axes``; a direction of 1 walks an axis (or stacks its output) in reverse.
    """
    body = attributes["body"]
    scan_count = attributes["num_scan_inputs"]
    state = list(inputs[:len(inputs) - scan_count])
    sequences = list(inputs[len(inputs) - scan_count:])
    input_axes = attributes.get("scan_input_axes") or [0] * scan_count
    input_directions = attributes.get("scan_input_directions") or [0] * scan_count
    sequences = [np.moveaxis(sequence, axis, 0)
                 for sequence, axis in zip(sequences, input_axes, strict=True)]
    sequences = [sequence[::-1] if direction else sequence
                 for sequence, direction in zip(sequences, input_directions, strict=True)]

    input_names = [spec.name for spec in body.inputs]
    output_names = [spec.name for spec in body.outputs]
    output_count = len(output_names) - len(state)
    stacks: list[list[np.ndarray]] = [[] for _ in range(output_count)]
    for step in range(sequences[0].shape[0] if sequences else 0):
        feeds = dict(zip(input_names, [*state, *(sequence[step] for sequence in sequences)],
                         strict=True))
        results = body.run(feeds, scope=scope)
        state = [results[name] for name in output_names[:len(state)]]
        for stack, name in zip(stacks, output_names[len(state):], strict=True):
            stack.append(results[name])

    output_axes = attributes.get("scan_output_axes") or [0] * output_count
    output_directions = attributes.get("scan_output_directions") or [0] * output_count
    outputs = []
    for stack, axis, direction in zip(stacks, output_axes, output_directions, strict=True):
        stacked = np.stack(stack[::-1] if direction else stack)
        outputs.append(np.moveaxis(stacked, 0, axis if axis >= 0 else axis + stacked.ndim))
    return state + outputs
