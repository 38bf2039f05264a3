"""Per-inference statistics of a GL plan: passes, transfers, partitions and step timings."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class StepTiming:
    """Wall time of one step, measured after ``glFinish`` so the GPU work is included.

    NOTE: a step that issues several passes (INT8 matmul tiles, the quantization passes) is
    timed as a whole. ``passes`` gives their count but not each one's time.
    """

    name: str
    kind: str
    passes: int
    elapsed_ms: float


@dataclass
class RunProfile:
    """Statistics of one ``run``.

    ``pass_count``: draws and dispatches issued. ``readback_count``: textures read back for
    graph outputs. ``upload_count``: graph inputs uploaded. ``partition_readbacks`` and
    ``partition_uploads``: transfers around NumPy partitions. ``partitions``: node names of
    each NumPy partition, in execution order. ``steps``: per-step timings, filled when timing
    is on (``GLSession(collect_timings=True)`` or DEBUG logging).
    """

    pass_count: int = 0
    readback_count: int = 0
    upload_count: int = 0
    partition_readbacks: int = 0
    partition_uploads: int = 0
    partitions: list[list[str]] = field(default_factory=list)
    steps: list[StepTiming] = field(default_factory=list)
    total_ms: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """Return the profile as plain data, for logs and JSON."""
        return {"pass_count": self.pass_count, "readback_count": self.readback_count,
                "upload_count": self.upload_count,
                "partition_readbacks": self.partition_readbacks,
                "partition_uploads": self.partition_uploads,
                "partitions": [list(nodes) for nodes in self.partitions],
                "total_ms": round(self.total_ms, 3),
                "steps": [{"name": step.name, "kind": step.kind, "passes": step.passes,
                           "elapsed_ms": round(step.elapsed_ms, 3)} for step in self.steps]}


@dataclass
class Int8Capture:
    """Integer data of one fused INT8 kernel from the last run.

    ``x_q`` is the uint8 activation in the input's shape, ``x_scale`` and ``x_zero_point`` its
    quantization params, and ``accumulator`` the int32 sums in the output's shape.
    """

    x_q: np.ndarray
    x_scale: float
    x_zero_point: int
    accumulator: np.ndarray
