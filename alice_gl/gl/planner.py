"""Texture-memory plan: every texture an execution needs, sized before anything is allocated.

A ``MemoryPlan`` lists named textures by kind (``weights``, ``scales``, ``intermediates``,
``runtime_buffers``). Intermediates come with the step range in which they are live. Two
intermediates share one set of textures when their ranges do not overlap and their textures
have the same format and sizes. ``check(max_memory_mb)`` raises ``MemoryLimitExceededError`` when
the planned bytes exceed the budget, and ``allocate(ctx)`` creates exactly the planned
textures, so ``ctx.allocated_bytes()`` afterwards equals ``bytes_by_kind()``.

Units: 1 MB is 2**20 bytes. Bytes are width * height * bytes per texel of each texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from alice_gl.errors import ConfigError, InvalidInputError, MemoryLimitExceededError
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.textures import KINDS, GLTensor

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

BYTES_PER_MB = 2**20
DEFAULT_MAX_MEMORY_MB = 50


@dataclass(frozen=True)
class PlannedTexture:
    """One tensor's textures in the plan. ``slot`` is the entry whose textures it uses."""

    name: str
    kind: str
    layout: TextureLayout
    slot: str
    first_step: int = 0
    last_step: int = 0

    @property
    def nbytes(self) -> int:
        """Bytes of its textures; an entry sharing another entry's slot adds none to the plan."""
        return self.layout.nbytes if self.slot == self.name else 0


def _texture_signature(layout: TextureLayout) -> tuple[object, ...]:
    return (layout.internal_format, tuple(piece.size for piece in layout.pieces))


@dataclass
class MemoryPlan:
    """Ordered list of planned textures; see the module docstring for the rules."""

    entries: dict[str, PlannedTexture] = field(default_factory=dict)

    def add(self, name: str, kind: str, layout: TextureLayout) -> PlannedTexture:
        """Plan textures of ``layout`` for the whole execution (no reuse)."""
        return self._insert(PlannedTexture(name, kind, layout, slot=name))

    def add_intermediate(self, name: str, layout: TextureLayout, first_step: int,
                         last_step: int) -> PlannedTexture:
        """Plan an intermediate written at ``first_step`` and last read at ``last_step``.

        It reuses the textures of an earlier intermediate with the same texture format and
        sizes whose tensors are all dead before ``first_step``. Add intermediates in order of
        ``first_step`` so the reuse is greedy in execution order.
        """
        if last_step < first_step:
            raise InvalidInputError(f"Intermediate {name!r} has last_step {last_step} before "
                                    f"first_step {first_step}.")
        signature = _texture_signature(layout)
        for slot in self._intermediate_slots():
            users = [e for e in self.entries.values() if e.slot == slot.name]
            if (_texture_signature(slot.layout) == signature
                    and all(user.last_step < first_step for user in users)):
                return self._insert(PlannedTexture(name, "intermediates", layout, slot.name,
                                                   first_step, last_step))
        return self._insert(PlannedTexture(name, "intermediates", layout, name,
                                           first_step, last_step))

    def bytes_by_kind(self) -> dict[str, int]:
        """Planned bytes per kind; every kind in ``KINDS`` is present."""
        totals = dict.fromkeys(KINDS, 0)
        for entry in self.entries.values():
            totals[entry.kind] += entry.nbytes
        return totals

    @property
    def total_bytes(self) -> int:
        """Planned bytes of all kinds."""
        return sum(entry.nbytes for entry in self.entries.values())

    def check(self, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB) -> None:
        """Raise ``MemoryLimitExceededError`` if the plan needs more than ``max_memory_mb``.

        The plan fits when ``total_bytes <= max_memory_mb * 2**20`` (rounded down to bytes).
        """
        budget_bytes = budget_to_bytes(max_memory_mb)
        if self.total_bytes <= budget_bytes:
            return
        message = (f"Memory limit exceeded: {format_planned_mb(self.total_bytes)}MB > "
                   f"{max_memory_mb:g}MB\n"
                   f"{self.describe()}\n"
                   "Hint: enable tiling (tiling.enabled), use a smaller block size "
                   "(--block-size, tiling.block_size) or fewer concurrent blocks "
                   "(--max-concurrent-blocks, tiling.max_concurrent_blocks), or raise the "
                   "budget (--max-memory-mb, max_memory_mb).")
        raise MemoryLimitExceededError(message, self.total_bytes, budget_bytes,
                                       self.bytes_by_kind())

    def describe(self) -> str:
        """Return the breakdown by kind, in bytes and MB (1 MB = 2**20 bytes), one per line."""
        lines = [f"  {kind}: {size} bytes ({size / BYTES_PER_MB:.2f} MB)"
                 for kind, size in self.bytes_by_kind().items()]
        return "\n".join([f"Planned {self.total_bytes} bytes in "
                          f"{len(self._slots())} texture sets:", *lines])

    def allocate(self, ctx: GLContext) -> dict[str, GLTensor]:
        """Allocate every planned texture in ``ctx``; entries sharing a slot share textures.

        Returns a tensor per entry name. Release them with ``ctx.release`` on the slot entries
        (the entries whose ``slot`` is their own name); ``release_all`` does that.
        """
        tensors: dict[str, GLTensor] = {}
        for entry in self._slots():
            tensors[entry.name] = ctx.textures.allocate(entry.layout, entry.kind, entry.name)
        for entry in self.entries.values():
            if entry.slot != entry.name:
                owner = tensors[entry.slot]
                tensors[entry.name] = GLTensor(entry.name, entry.kind, entry.layout,
                                               owner.textures)
        return tensors

    def release_all(self, ctx: GLContext, tensors: dict[str, GLTensor]) -> None:
        """Release the textures that ``allocate`` created for this plan."""
        for entry in self._slots():
            ctx.release(tensors[entry.name])

    def _insert(self, entry: PlannedTexture) -> PlannedTexture:
        if entry.kind not in KINDS:
            raise InvalidInputError(f"Unknown texture kind {entry.kind!r}; use one of {KINDS}.")
        if entry.name in self.entries:
            raise InvalidInputError(f"The memory plan already has a texture named "
                                    f"{entry.name!r}; names must be unique.")
        self.entries[entry.name] = entry
        return entry

    def _slots(self) -> list[PlannedTexture]:
        return [entry for entry in self.entries.values() if entry.slot == entry.name]

    def _intermediate_slots(self) -> list[PlannedTexture]:
        return [entry for entry in self._slots() if entry.kind == "intermediates"]


def budget_to_bytes(max_memory_mb: float) -> int:
    """Convert a budget in MB (2**20 bytes) to whole bytes; raises ``ConfigError`` if <= 0."""
    if not max_memory_mb > 0:
        raise ConfigError(f"Invalid max_memory_mb={max_memory_mb}; it must be a positive "
                          "number of MB (1 MB = 2**20 bytes).")
    return int(max_memory_mb * BYTES_PER_MB)


def format_planned_mb(nbytes: int) -> str:
    """Return ``nbytes`` in MB (2**20 bytes): a whole number, else rounded up to 2 decimals.

    Rounding up means that a plan over its budget never prints at or below the budget.
    """
    if nbytes % BYTES_PER_MB == 0:
        return str(nbytes // BYTES_PER_MB)
    hundredths = math.ceil(nbytes * 100 / BYTES_PER_MB)
    return f"{hundredths / 100:.2f}".rstrip("0").rstrip(".")
