"""The engine's protocol parameters and limits."""

from __future__ import annotations

from dataclasses import dataclass

from gongshi.consensus.errors import InvalidEngineConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    """Protocol parameters; every limit is explicit (see SPEC.md, "Bounds")."""

    chain_id: bytes
    timeout_base_ms: int = 1000
    timeout_backoff_exponent_max: int = 6
    # Votes and timeouts are accepted for rounds in [round - 1, round + round_window_max].
    round_window_max: int = 64
    tree_blocks_max: int = 1024
    pending_proposals_max: int = 64
    pending_votes_max: int = 256
    sync_batch_max: int = 32
    # Committed proposals kept to serve peers that lag behind; deeper lag needs block sync.
    sync_window_max: int = 256

    def __post_init__(self) -> None:
        limits = (
            self.timeout_base_ms,
            self.round_window_max,
            self.tree_blocks_max,
            self.pending_proposals_max,
            self.pending_votes_max,
            self.sync_batch_max,
            self.sync_window_max,
        )
        if min(limits) <= 0 or self.timeout_backoff_exponent_max < 0:
            raise InvalidEngineConfig("engine limits must be positive")
