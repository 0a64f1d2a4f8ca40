"""The chain's ceiling on this machine: signature verifications per second with every core
busy, divided by the number of nodes (each node verifies every transaction once).

One process per core runs `measure_verify_rate` at the same time (processes, so no GIL is
shared); the sum is what the machine verifies per second. Measured before the network
starts, so the nodes do not compete with it (other users of the machine still may).
"""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import dataclass

from gongshi.bench.crypto import measure_verify_rate
from gongshi.crypto import get_suite


@dataclass(frozen=True, slots=True, kw_only=True)
class Ceiling:
    suite: str
    cores: int
    seconds: float
    verify_per_s_per_core: tuple[float, ...]  # one figure per process
    nodes: int

    @property
    def verify_per_s(self) -> float:
        """The machine's total: all cores verifying at once."""
        return sum(self.verify_per_s_per_core)

    @property
    def tps(self) -> float:
        """Transactions per second the chain could commit if verification were all it did."""
        return self.verify_per_s / self.nodes

    def to_json_dict(self) -> dict[str, object]:
        return {
            "suite": self.suite,
            "cores": self.cores,
            "seconds": self.seconds,
            "verify_per_s_per_core": list(self.verify_per_s_per_core),
            "verify_per_s": self.verify_per_s,
            "nodes": self.nodes,
            "ceiling_tps": self.tps,
        }


def _verify_rate(suite_name: str, seconds: float) -> float:
    return measure_verify_rate(get_suite(suite_name), seconds)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def measure_ceiling(suite_name: str, *, nodes: int, seconds: float) -> Ceiling:
    """Verify/s of `suite_name` with one process per core, and the per-node ceiling."""
    cores = usable_cores()
    context = multiprocessing.get_context("spawn")
    with context.Pool(cores) as pool:
        rates = pool.starmap(_verify_rate, [(suite_name, seconds)] * cores)
    return Ceiling(
        suite=suite_name,
        cores=cores,
        seconds=seconds,
        verify_per_s_per_core=tuple(rates),
        nodes=nodes,
    )
