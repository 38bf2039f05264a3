"""Tiling settings of the dequant-matmul passes."""

from __future__ import annotations

from dataclasses import dataclass

from alice_gl.errors import ConfigError

DEFAULT_BLOCK_SIZE = 256
DEFAULT_MAX_CONCURRENT_BLOCKS = 4


@dataclass(frozen=True)
class TilingConfig:
    """Work split of the dequant-matmul passes: K block size and scratch slots.

    ``block_size``: elements of the shared dimension K summed by one pass. It must be a
    positive multiple of 4 because four K values share one texel. An output tile has at most
    ``block_size`` rows and ``block_size**2`` outputs, so tiles are wider when M is small.

    ``max_concurrent_blocks``: number of output tiles whose int32 scratch accumulators are
    alive at once. Tiles take the scratch slots in turn, so the scratch memory is at most
    ``max_concurrent_blocks`` times the bytes of one tile's accumulator. Fragment passes keep
    two ping-pong sets of RGBA32I textures per tile (twice the accumulator bytes), compute
    passes one r32i image.
    """

    block_size: int = DEFAULT_BLOCK_SIZE
    max_concurrent_blocks: int = DEFAULT_MAX_CONCURRENT_BLOCKS

    def __post_init__(self) -> None:
        if isinstance(self.block_size, bool) or not isinstance(self.block_size, int) \
                or self.block_size < 4 or self.block_size % 4:
            raise ConfigError(f"Invalid block_size={self.block_size!r}; use a positive multiple "
                              "of 4 such as 64, 256 or 1024.")
        if isinstance(self.max_concurrent_blocks, bool) \
                or not isinstance(self.max_concurrent_blocks, int) \
                or self.max_concurrent_blocks < 1:
            raise ConfigError(f"Invalid max_concurrent_blocks={self.max_concurrent_blocks!r}; "
                              "use an integer of at least 1.")
