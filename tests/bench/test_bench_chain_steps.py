"""`bench chain --max`: the step search, against simulated chains of known capacity."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.bench.chain_steps import (
    SearchPolicy,
    StepOutcome,
    highest_sustained,
    next_rate,
)

BOUND = 2.0


def chain_of(capacity: float) -> Callable[[float], StepOutcome]:
    """A chain that commits up to `capacity` tx/s with 1 s latency, and falls behind above."""

    def outcome(rate: float) -> StepOutcome:
        if rate <= capacity:
            return StepOutcome(rate=rate, committed_tps=rate, p99_s=1.0)
        return StepOutcome(rate=rate, committed_tps=capacity, p99_s=math.inf)

    return outcome


def search(policy: SearchPolicy, capacity: float) -> list[StepOutcome]:
    outcome = chain_of(capacity)
    history: list[StepOutcome] = []
    while (rate := next_rate(policy, history)) is not None:
        history.append(outcome(rate))
    return history


def test_sustained_needs_both_throughput_and_latency() -> None:
    assert StepOutcome(rate=100, committed_tps=96, p99_s=1.9).sustained(BOUND)
    assert not StepOutcome(rate=100, committed_tps=90, p99_s=1.0).sustained(BOUND)
    assert not StepOutcome(rate=100, committed_tps=100, p99_s=2.1).sustained(BOUND)
    assert not StepOutcome(rate=100, committed_tps=100, p99_s=math.inf).sustained(BOUND)


def test_climbs_by_growth_until_the_first_failure() -> None:
    policy = SearchPolicy(start_rate=100, p99_bound_s=BOUND, growth=1.25)
    history = search(policy, capacity=200)
    assert [round(s.rate, 2) for s in history] == [100, 125, 156.25, 195.31, 244.14]
    assert highest_sustained(policy, history) == pytest.approx(195.3125)


def test_halves_down_from_an_overload_then_climbs_below_the_failure() -> None:
    policy = SearchPolicy(start_rate=3000, p99_bound_s=BOUND, growth=1.25)
    history = search(policy, capacity=300)
    rates = [round(s.rate, 2) for s in history]
    assert rates[:5] == [3000, 1500, 750, 375, 187.5]
    assert rates[5:] == [234.38, 292.97, 366.21]  # stops: 1.25 × 366 would pass 375, failed
    assert highest_sustained(policy, history) == pytest.approx(292.96875)


def test_gives_up_under_the_floor() -> None:
    policy = SearchPolicy(start_rate=40, p99_bound_s=BOUND, floor=5)
    history = search(policy, capacity=1)
    assert [s.rate for s in history] == [40, 20, 10, 5]
    assert highest_sustained(policy, history) is None


def test_a_single_step_policy_stops_after_one() -> None:
    policy = SearchPolicy(start_rate=10, p99_bound_s=BOUND, steps_max=1)
    assert len(search(policy, capacity=1000)) == 1


@given(
    st.floats(min_value=10, max_value=100_000),
    st.floats(min_value=10, max_value=100_000),
    st.floats(min_value=1.05, max_value=3.0),
)
def test_finds_the_capacity_within_one_growth_step(
    capacity: float, start: float, growth: float
) -> None:
    policy = SearchPolicy(
        start_rate=start, p99_bound_s=BOUND, growth=growth, floor=1.0, steps_max=200
    )
    history = search(policy, capacity)
    best = highest_sustained(policy, history)
    assert best is not None
    assert best <= capacity
    if any(not s.sustained(BOUND) for s in history):
        # the search stopped at a failure: the best is within a step (or a halving) of it
        assert best * max(growth, 2.0) > capacity
    assert len(history) < 200


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        SearchPolicy(start_rate=0, p99_bound_s=BOUND)
    with pytest.raises(ValueError):
        SearchPolicy(start_rate=10, p99_bound_s=BOUND, growth=1.0)
