"""`gongshi sim`: run seeded consensus simulation campaigns and replay failing seeds."""

from __future__ import annotations

import logging
import random
import sys
import time

import click

from gongshi.consensus.sim.campaign import replay_command, run_campaign
from gongshi.consensus.sim.cluster import SimResult
from gongshi.consensus.sim.options import Behaviour
from gongshi.errors import ValidationError

EXIT_VIOLATION = 1


@click.command()
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--seed", type=click.IntRange(min=0), default=None, help="first seed (default: random)"
)
@click.option("--nodes", type=click.IntRange(min=1, max=64), default=None, help="validators")
@click.option(
    "--byzantine",
    type=click.IntRange(min=0),
    default=None,
    help="Byzantine validators (more than f may break safety, by design)",
)
@click.option(
    "--behaviour",
    "behaviour_names",
    type=click.Choice([kind.value for kind in Behaviour]),
    multiple=True,
    help="draw Byzantine validators' behaviours only from these (repeatable; default: all)",
)
@click.option(
    "--reconfig",
    is_flag=True,
    help="every scenario changes its validator set (add, remove or replace a validator, "
    "maybe back again), with crashes at the epoch boundary and late-durable commits",
)
@click.option(
    "--epoch-faults/--no-epoch-faults",
    default=True,
    show_default=True,
    help="draw validator-set changes, boundary crashes and commit lag "
    "(--no-epoch-faults: scenarios as drawn before they existed)",
)
@click.option("--verbose", is_flag=True, help="log every scenario's options")
def sim(
    runs: int,
    seed: int | None,
    nodes: int | None,
    byzantine: int | None,
    behaviour_names: tuple[str, ...],
    reconfig: bool,
    epoch_faults: bool,
    verbose: bool,
) -> None:
    """Run RUNS seeded fault-injecting scenarios of the BFT engine; print every failing seed
    with the command that replays it. A seed replays exactly (same trace hash)."""
    if nodes is not None and byzantine is not None and byzantine > nodes:
        raise ValidationError("--byzantine cannot exceed --nodes")
    if reconfig and not epoch_faults:
        raise ValidationError("--reconfig needs the epoch faults")
    behaviours = tuple(Behaviour(name) for name in behaviour_names)
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    logging.getLogger("gongshi.consensus").setLevel(logging.INFO if verbose else logging.ERROR)
    names = ",".join(behaviour_names) or "all"
    epochs = "reconfig" if reconfig else "drawn" if epoch_faults else "none"
    click.echo(
        f"SEED={seed} runs={runs} nodes={nodes or 'random'} byzantine={byzantine} "
        f"behaviours={names} epoch_faults={epochs}"
    )
    started = time.monotonic()

    def report(result: SimResult) -> None:
        if runs == 1 or verbose:
            click.echo(f"  {result.options.describe()}")
            click.echo(
                f"  trace={result.trace_hash} events={result.events} heights={result.heights}"
            )
        if not result.ok:
            click.echo(f"FAIL seed={result.options.seed}: {result.violations[0]}")
            replay = replay_command(
                result.options.seed,
                nodes=nodes,
                byzantine=byzantine,
                behaviours=behaviours,
                epoch_faults=epoch_faults,
                reconfig=reconfig,
            )
            click.echo(f"  replay: {replay}")

    campaign = run_campaign(
        seed,
        runs,
        nodes=nodes,
        byzantine=byzantine,
        behaviours=behaviours,
        epoch_faults=epoch_faults,
        reconfig=reconfig,
        on_result=report,
    )
    elapsed = time.monotonic() - started
    rate = campaign.runs / max(elapsed, 1e-9)
    click.echo(f"{campaign.events} events in {elapsed:.1f}s ({rate:.0f} runs/s)")
    click.echo(f"{campaign.passed} passed, {len(campaign.failures)} failed")
    if campaign.failures:
        sys.exit(EXIT_VIOLATION)
