"""`bench chain --max`: the search for the highest sustainable offered rate (pure).

A step offers a rate for a while; it is *sustained* if the chain committed at least
`COMMITTED_FRACTION` of the offered rate over the steady state and the p99 latency of the
transactions sent then stayed under the bound. The search starts at a given rate (a quarter
of the verification ceiling by default), multiplies the rate by `growth` after each sustained
step, and stops at the first step that is not. If the very first steps fail, it halves the
rate until one is sustained (or the rate falls under `floor`), then climbs again, stopping
before a rate at or above one that already failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

COMMITTED_FRACTION = 0.95
DEFAULT_GROWTH = 1.25
DEFAULT_FLOOR = 5.0
DEFAULT_STEPS_MAX = 16


@dataclass(frozen=True, slots=True, kw_only=True)
class StepOutcome:
    rate: float  # offered, transactions per second
    committed_tps: float
    p99_s: float  # inf when some transaction sent in the steady state was never confirmed

    def sustained(self, p99_bound_s: float) -> bool:
        return self.committed_tps >= COMMITTED_FRACTION * self.rate and self.p99_s <= p99_bound_s


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchPolicy:
    start_rate: float
    p99_bound_s: float
    growth: float = DEFAULT_GROWTH
    floor: float = DEFAULT_FLOOR
    steps_max: int = DEFAULT_STEPS_MAX

    def __post_init__(self) -> None:
        if not (self.start_rate > 0 and self.p99_bound_s > 0 and self.growth > 1):
            raise ValueError("start rate and p99 bound must be positive, growth above 1")
        if not (self.floor > 0 and self.steps_max >= 1):
            raise ValueError("floor must be positive and at least one step allowed")


def next_rate(policy: SearchPolicy, history: Sequence[StepOutcome]) -> float | None:
    """The rate of the next step after `history` (oldest first), or None: the search is over."""
    if not history:
        return policy.start_rate
    if len(history) >= policy.steps_max:
        return None
    last = history[-1]
    failed = [step.rate for step in history if not step.sustained(policy.p99_bound_s)]
    if last.sustained(policy.p99_bound_s):
        candidate = last.rate * policy.growth
        if any(rate <= candidate for rate in failed):
            return None  # the next step up would repeat a failure
        return candidate
    if any(step.sustained(policy.p99_bound_s) for step in history):
        return None  # found the knee: the step below was sustained
    candidate = last.rate / 2
    return candidate if candidate >= policy.floor else None


def highest_sustained(policy: SearchPolicy, history: Sequence[StepOutcome]) -> float | None:
    """The highest offered rate that was sustained, if any."""
    rates = [step.rate for step in history if step.sustained(policy.p99_bound_s)]
    return max(rates, default=None)
