"""Reconnect delays: exponential, capped, with jitter from an injected `random.Random`.

Pure: the same policy, attempt number and generator state give the same delay, so tests can
seed it. "Equal jitter": a delay is drawn from the upper half of the exponential ceiling, so
nodes that lost a peer at the same instant do not all redial at the same instant, and the
delay never collapses to zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# 2**20 times the minimum delay is beyond any sensible cap; shifting further only overflows.
_DOUBLINGS_MAX = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    delay_min_ms: int
    delay_max_ms: int

    def __post_init__(self) -> None:
        assert 1 <= self.delay_min_ms <= self.delay_max_ms

    def ceiling_ms(self, attempt: int) -> int:
        """The largest delay before attempt `attempt + 1` (attempt counts failures, from 0)."""
        assert attempt >= 0
        return min(self.delay_max_ms, self.delay_min_ms << min(attempt, _DOUBLINGS_MAX))

    def delay_ms(self, attempt: int, rng: random.Random) -> int:
        ceiling = self.ceiling_ms(attempt)
        return rng.randint(ceiling - ceiling // 2, ceiling)
