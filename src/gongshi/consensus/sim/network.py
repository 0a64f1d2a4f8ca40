"""The simulated network: seeded delays (hence reordering), loss, duplication, partitions
that heal, and eclipses (one node cut off, when an adversary chooses). It only decides when
(and whether) a message arrives; the cluster queues it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from gongshi.consensus.sim.options import Partition, SimOptions


@dataclass(slots=True)
class SimNetwork:
    rng: random.Random
    delay_min_ms: int
    delay_max_ms: int
    loss_permille: int
    duplicate_permille: int
    partitions: tuple[Partition, ...]
    # node id -> end of the time it is cut off from everyone (`eclipse`), in ms.
    eclipses: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_options(cls, rng: random.Random, options: SimOptions) -> SimNetwork:
        return cls(
            rng=rng,
            delay_min_ms=options.delay_min_ms,
            delay_max_ms=options.delay_max_ms,
            loss_permille=options.loss_permille,
            duplicate_permille=options.duplicate_permille,
            partitions=options.partitions,
        )

    def stabilise(self, delay_max_ms: int) -> None:
        """Liveness phase: no more loss, duplication or partitions; bounded delays."""
        self.loss_permille = 0
        self.duplicate_permille = 0
        self.partitions = ()
        self.eclipses.clear()
        self.delay_max_ms = min(self.delay_max_ms, delay_max_ms)
        self.delay_min_ms = min(self.delay_min_ms, self.delay_max_ms)

    def eclipse(self, node: int, until_ms: int) -> None:
        """Cut `node` off from every other node until `until_ms` (an adversary's choice of
        when; a partition fixed in the options could not aim at a moment)."""
        self.eclipses[node] = max(until_ms, self.eclipses.get(node, 0))

    def connected(self, now_ms: int, source: int, target: int) -> bool:
        if now_ms < max(self.eclipses.get(source, 0), self.eclipses.get(target, 0)):
            return False
        for partition in self.partitions:
            if partition.start_ms <= now_ms < partition.end_ms:
                groups = partition.groups
                if groups[source] != groups[target]:
                    return False
        return True

    def arrival_times(self, now_ms: int, source: int, target: int) -> list[int]:
        """When copies of one message from `source` reach `target`: none, one or two."""
        if not self.connected(now_ms, source, target):
            return []
        rng = self.rng
        if self.loss_permille and rng.randrange(1000) < self.loss_permille:
            return []
        times = [now_ms + rng.randint(self.delay_min_ms, self.delay_max_ms)]
        if self.duplicate_permille and rng.randrange(1000) < self.duplicate_permille:
            times.append(now_ms + rng.randint(self.delay_min_ms, self.delay_max_ms * 2))
        return times
