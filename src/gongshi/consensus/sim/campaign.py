"""Campaigns: many seeded scenarios, each failing seed reported with the command that
replays it. Scenario i of a campaign started at `seed` uses seed `seed + i`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gongshi.consensus.sim.cluster import SimResult, run_scenario
from gongshi.consensus.sim.options import Behaviour


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignReport:
    runs: int
    failures: tuple[SimResult, ...]
    events: int

    @property
    def passed(self) -> int:
        return self.runs - len(self.failures)


def replay_command(
    seed: int,
    *,
    nodes: int | None = None,
    byzantine: int | None = None,
    behaviours: tuple[Behaviour, ...] = (),
    epoch_faults: bool = True,
    reconfig: bool = False,
) -> str:
    """The exact command that replays one scenario."""
    command = f"gongshi sim --runs 1 --seed {seed}"
    if nodes is not None:
        command += f" --nodes {nodes}"
    if byzantine is not None:
        command += f" --byzantine {byzantine}"
    for behaviour in behaviours:
        command += f" --behaviour {behaviour.value}"
    if reconfig:
        command += " --reconfig"
    if not epoch_faults:
        command += " --no-epoch-faults"
    return command


def run_campaign(
    seed: int,
    runs: int,
    *,
    nodes: int | None = None,
    byzantine: int | None = None,
    behaviours: tuple[Behaviour, ...] = (),
    epoch_faults: bool = True,
    reconfig: bool = False,
    on_result: Callable[[SimResult], None] | None = None,
) -> CampaignReport:
    failures: list[SimResult] = []
    events = 0
    for scenario_seed in range(seed, seed + runs):
        result = run_scenario(
            scenario_seed,
            nodes=nodes,
            byzantine=byzantine,
            behaviours=behaviours,
            epoch_faults=epoch_faults,
            reconfig=reconfig,
        )
        events += result.events
        if not result.ok:
            failures.append(result)
        if on_result is not None:
            on_result(result)
    return CampaignReport(runs=runs, failures=tuple(failures), events=events)
