"""Quantization report: model sizes, and the decision for every node and weight."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

PER_CHANNEL = "per_channel"
PER_TENSOR = "per_tensor"
QUANTIZED = "quantized"
SKIPPED = "skipped"


@dataclass
class NodeDecision:
    """One node of the input model: ``status`` is ``quantized`` or ``skipped``.

    ``graph`` is the path of the graph holding the node (``main`` or, for a subgraph, the
    parent path, node name and attribute, such as ``main/if_node.then_branch``). ``reason``
    gives the cause of a skip; ``weight`` names the FP32 initializer a quantized node used.
    """

    name: str
    op_type: str
    graph: str
    status: str
    reason: str | None = None
    weight: str | None = None


@dataclass
class WeightRecord:
    """One int8 tensor written for an FP32 weight.

    ``granularity`` is ``per_channel`` (one scale per index of ``axis`` of ``quantized_name``)
    or ``per_tensor``; ``reason`` gives the cause of a per-tensor fallback.
    ``transposed`` is True for a Gemm ``transB=1`` weight stored as ``[K, N]``. ``fp32_bytes``
    is the FP32 weight's data size; ``int8_bytes`` adds up its int8 values, scales and zero
    points.
    """

    name: str
    quantized_name: str
    scale_name: str
    shape: list[int]
    granularity: str
    axis: int | None
    transposed: bool
    fp32_bytes: int
    int8_bytes: int
    nodes: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass
class QuantizationReport:
    """Result summary of one quantization run.

    ``fp32_bytes`` and ``int8_bytes`` are the serialized sizes of the input model (external
    data included) and of the quantized model; ``compression_ratio`` is their quotient.
    """

    mode: str
    per_channel: bool
    opset: int
    fp32_bytes: int = 0
    int8_bytes: int = 0
    nodes: list[NodeDecision] = field(default_factory=list)
    weights: list[WeightRecord] = field(default_factory=list)

    @property
    def compression_ratio(self) -> float:
        """Return ``fp32_bytes / int8_bytes`` (0.0 before the sizes are set)."""
        return self.fp32_bytes / self.int8_bytes if self.int8_bytes else 0.0

    @property
    def quantized_nodes(self) -> list[NodeDecision]:
        """Return the decisions of the nodes that were quantized."""
        return [node for node in self.nodes if node.status == QUANTIZED]

    @property
    def skipped_nodes(self) -> list[NodeDecision]:
        """Return the decisions of the nodes left in FP32."""
        return [node for node in self.nodes if node.status == SKIPPED]

    def to_dict(self) -> dict:
        """Return the report as plain JSON-compatible types."""
        return {
            "mode": self.mode,
            "per_channel": self.per_channel,
            "opset": self.opset,
            "fp32_bytes": self.fp32_bytes,
            "int8_bytes": self.int8_bytes,
            "compression_ratio": self.compression_ratio,
            "quantized_node_count": len(self.quantized_nodes),
            "skipped_node_count": len(self.skipped_nodes),
            "nodes": [asdict(node) for node in self.nodes],
            "weights": [asdict(weight) for weight in self.weights],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Return ``to_dict()`` serialized as JSON."""
        return json.dumps(self.to_dict(), indent=indent)

    def summary(self) -> str:
        """Return a few lines for a terminal: sizes, ratio and node counts."""
        return (f"FP32 {self.fp32_bytes} bytes, INT8 {self.int8_bytes} bytes, "
                f"compression {self.compression_ratio:.2f}x\n"
                f"{len(self.quantized_nodes)} node(s) quantized ({self.mode}, "
                f"{PER_CHANNEL if self.per_channel else PER_TENSOR}), "
                f"{len(self.skipped_nodes)} left FP32")
