"""`gongshi sim`: campaigns, replay commands, exact replays."""

from __future__ import annotations

import re

from click.testing import CliRunner

from gongshi.cli.sim_cmd import sim
from gongshi.consensus.sim.campaign import replay_command
from gongshi.consensus.sim.cluster import run_scenario
from gongshi.consensus.sim.options import Behaviour


def test_campaign_reports_passes() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "3", "--seed", "40"])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("SEED=40 runs=3")
    assert "epoch_faults=drawn" in outcome.output
    assert "3 passed, 0 failed" in outcome.output


def test_single_run_replays_the_same_trace() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "1", "--seed", "77"])
    assert outcome.exit_code == 0, outcome.output
    trace = re.search(r"trace=([0-9a-f]+)", outcome.output)
    assert trace is not None
    assert trace.group(1) == run_scenario(77).trace_hash


def test_failing_seed_is_printed_with_its_replay_command() -> None:
    # f + 1 = 2 Byzantine validators of 4 (Twins with a split brain) break agreement.
    outcome = CliRunner().invoke(
        sim, ["--runs", "5", "--seed", "0", "--nodes", "4", "--byzantine", "2"]
    )
    assert outcome.exit_code == 1
    failed = [int(seed) for seed in re.findall(r"FAIL seed=(\d+)", outcome.output)]
    assert failed
    for seed in failed:
        replay = f"replay: gongshi sim --runs 1 --seed {seed} --nodes 4 --byzantine 2"
        assert replay in outcome.output
        again = run_scenario(seed, nodes=4, byzantine=2)
        assert again.violations and again.violations[0].invariant == "CONS-SAFETY-1"


def test_byzantine_beyond_nodes_is_an_input_error() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "1", "--nodes", "4", "--byzantine", "5"])
    assert outcome.exit_code != 0


def test_behaviour_option_pins_what_byzantine_validators_do_and_is_replayed() -> None:
    args = ["--runs", "2", "--seed", "5", "--nodes", "4", "--byzantine", "1"]
    outcome = CliRunner().invoke(sim, [*args, "--behaviour", "fork", "--verbose"])
    assert outcome.exit_code == 0, outcome.output
    assert "behaviours=fork" in outcome.output
    assert outcome.output.count("byzantine=") == 3  # header, then one line per scenario
    assert "byzantine=0:fork" in outcome.output or "byzantine=1:fork" in outcome.output
    traces = re.findall(r"trace=([0-9a-f]+)", outcome.output)
    expected = run_scenario(5, nodes=4, byzantine=1, behaviours=(Behaviour.FORK,)).trace_hash
    assert traces[0] == expected
    assert replay_command(5, behaviours=(Behaviour.FORK,)).endswith("--behaviour fork")


def test_unknown_behaviour_is_refused() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "1", "--behaviour", "sleepy"])
    assert outcome.exit_code == 2


def test_reconfig_option_gives_every_scenario_a_validator_set_change() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "3", "--seed", "9", "--reconfig", "--verbose"])
    assert outcome.exit_code == 0, outcome.output
    assert "epoch_faults=reconfig" in outcome.output
    assert outcome.output.count("reconfig=yes") == 3
    traces = re.findall(r"trace=([0-9a-f]+)", outcome.output)
    assert traces[0] == run_scenario(9, reconfig=True).trace_hash
    assert replay_command(9, reconfig=True).endswith(" --reconfig")


def test_no_epoch_faults_replays_scenarios_as_drawn_before_them() -> None:
    outcome = CliRunner().invoke(sim, ["--runs", "1", "--seed", "68", "--no-epoch-faults"])
    assert outcome.exit_code == 0, outcome.output
    trace = re.search(r"trace=([0-9a-f]+)", outcome.output)
    assert trace is not None
    assert trace.group(1) == run_scenario(68, epoch_faults=False).trace_hash
    assert trace.group(1) != run_scenario(68).trace_hash  # seed 68 changes its set
    refused = CliRunner().invoke(sim, ["--runs", "1", "--reconfig", "--no-epoch-faults"])
    assert refused.exit_code != 0
