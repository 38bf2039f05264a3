"""Read-only queries over the nodes left to run: consumers, constants, dtypes, shapes."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from alice_gl.executor import PlannedNode
from alice_gl.gl_executor.shapes import StaticGraph


class GraphView:
    """Lookups the pattern matchers share; ``graph_outputs`` are never fused away."""

    def __init__(self, static: StaticGraph, graph_outputs: set[str]) -> None:
        self.static = static
        self.graph_outputs = graph_outputs
        self._consumers: dict[str, list[PlannedNode]] = defaultdict(list)
        for node in static.nodes:
            for name in node.inputs:
                if name and node not in self._consumers[name]:
                    self._consumers[name].append(node)
        self.position = {id(node): index for index, node in enumerate(static.nodes)}

    def consumers(self, name: str) -> list[PlannedNode]:
        """Return the nodes left to run that read ``name``."""
        return self._consumers.get(name, [])

    def sole_consumer(self, name: str) -> PlannedNode | None:
        """Return the only reader of ``name``, or None unless there is exactly one and ``name`` is
        not a graph output."""
        readers = self.consumers(name)
        if len(readers) != 1 or name in self.graph_outputs:
            return None
        return readers[0]

    def constant(self, name: str) -> np.ndarray | None:
        """Return the plan-time value of ``name``, or None when it is computed at run time."""
        return self.static.constants.get(name) if name else None

    def is_constant(self, name: str) -> bool:
        """True when ``name`` is known at plan time."""
        return bool(name) and name in self.static.constants

    def shape(self, name: str) -> tuple[int, ...]:
        """Return the static shape of ``name``."""
        return tuple(self.static.infos[name].shape)

    def is_float(self, name: str) -> bool:
        """True when ``name`` is a float32 tensor."""
        info = self.static.infos.get(name)
        return info is not None and info.dtype == np.float32

    def producer(self, name: str) -> PlannedNode | None:
        """Return the node that produces ``name``, folded nodes included."""
        return self.static.producers.get(name)

    def used_outputs(self, node: PlannedNode) -> list[str]:
        """Return the outputs of ``node`` that a node reads or the graph returns."""
        return [name for name in node.outputs
                if name and (self.consumers(name) or name in self.graph_outputs)]
