"""CI campaign: >= 1,000 seeded scenarios mixing every fault, checked at every step.

Each scenario draws its cluster size, delays, loss, duplication, partitions, crashes,
validator-set changes (with crashes at the epoch boundary and late-durable commits) and (at
most f) Byzantine behaviours from its seed. A failure lists every
failing seed with the command that replays it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gongshi.consensus.sim.campaign import replay_command, run_campaign
from gongshi.consensus.sim.cluster import run_scenario
from gongshi.consensus.sim.options import FIRST_BEHAVIOURS

CAMPAIGN_SEED = 20_240_501
CAMPAIGN_RUNS = 1_000
REGRESSION_SEEDS = Path(__file__).with_name("regression_seeds.txt")


def regression_seeds() -> list[int]:
    lines = REGRESSION_SEEDS.read_text().splitlines()
    return [int(line.split()[0]) for line in lines if line.strip() and not line.startswith("#")]


@pytest.fixture(autouse=True)
def quiet_engine_logs() -> None:
    logging.getLogger("gongshi.consensus").setLevel(logging.ERROR)


def test_thousand_seeded_scenarios_keep_every_invariant() -> None:
    report = run_campaign(CAMPAIGN_SEED, CAMPAIGN_RUNS)
    failures = [
        f"{result.violations[0]}\n    replay: {replay_command(result.options.seed)}"
        f"\n    options: {result.options.describe()}"
        for result in report.failures
    ]
    assert not failures, f"{len(failures)} failing seeds:\n" + "\n".join(failures)
    assert report.runs == CAMPAIGN_RUNS
    assert report.events > 100 * CAMPAIGN_RUNS  # scenarios really ran


def test_campaign_mixes_every_kind_of_fault() -> None:
    import random

    from gongshi.consensus.sim.options import BEHAVIOURS, draw_options

    seen: set[str] = set()
    for seed in range(CAMPAIGN_SEED, CAMPAIGN_SEED + 300):
        options = draw_options(random.Random(seed), seed)
        seen.update(kind.value for _, kind in options.byzantine)
        seen.update(
            name
            for name, present in (
                ("loss", options.loss_permille > 0),
                ("duplication", options.duplicate_permille > 0),
                ("partition", bool(options.partitions)),
                ("crash", bool(options.crashes)),
                ("reconfig", options.reconfig is not None),
                ("rejoin", options.second_reconfig is not None),
                ("boundary-crash", bool(options.boundary_crashes)),
                ("commit-lag", options.commit_lag_ms > 0),
                ("no-barrier", options.commit_lag_ms > 0 and not options.epoch_barrier),
                ("n=3f+1", options.validators in (4, 7)),
                ("n!=3f+1", options.validators in (5, 6)),
            )
            if present
        )
    expected = {kind.value for kind in BEHAVIOURS} | {
        "loss",
        "duplication",
        "partition",
        "crash",
        "reconfig",
        "rejoin",
        "boundary-crash",
        "commit-lag",
        "no-barrier",
        "n=3f+1",
        "n!=3f+1",
    }
    assert expected <= seen


@pytest.mark.parametrize("first_draw", [False, True])
@pytest.mark.parametrize("seed", regression_seeds())
def test_regression_seed(seed: int, first_draw: bool) -> None:
    # `first_draw`: the scenario as drawn before the later behaviours and the epoch faults
    # existed, which is the one a seed recorded back then failed with.
    behaviours = FIRST_BEHAVIOURS if first_draw else ()
    epoch_faults = not first_draw
    result = run_scenario(seed, behaviours=behaviours, epoch_faults=epoch_faults)
    replay = replay_command(seed, behaviours=behaviours, epoch_faults=epoch_faults)
    assert result.ok, f"{result.violations[0]}; replay: {replay}"


@pytest.mark.slow
def test_long_campaign() -> None:
    report = run_campaign(1, 20_000)
    assert not report.failures, [replay_command(r.options.seed) for r in report.failures]


@pytest.mark.slow
def test_long_reconfiguration_campaign() -> None:
    report = run_campaign(1, 5_000, reconfig=True)
    failures = [replay_command(r.options.seed, reconfig=True) for r in report.failures]
    assert not failures, failures
