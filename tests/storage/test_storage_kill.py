"""Crash safety: a writer process is SIGKILLed at seeded random instants, again and again.

After each kill the ledger is reopened (the open-time check must pass) and checked:
- durability: it is at least at the last height the writer reported as committed, and at most
  one block further (a commit that became durable just before the kill);
- atomicity: the deep check passes (every stored root recomputes, every index agrees, nothing
  of a later height exists, the state root recomputes from the stored values);
- content: every block equals the deterministic reference chain's block at that height.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gongshi.crypto import get_suite
from gongshi.storage._kill_writer import SUITE_NAME, writer_config, writer_shape
from gongshi.storage.ledger import Ledger
from gongshi.storage.memory import MemoryStore
from gongshi.storage.synthetic import build_block

SUITE = get_suite(SUITE_NAME)
CHAIN_SEED = 11
TXS = 30
RETENTION = 6
STARTUP_KILL_SHARE = 0.25  # of the rounds kill during start-up (opening, WAL recovery)
RUN_KILL_DELAY_MAX_S = 0.25


@dataclass
class ReferenceChain:
    """The same synthetic chain, built in memory, extended as the writer gets further."""

    ledger: Ledger = field(default_factory=lambda: Ledger(MemoryStore(), SUITE))

    def header_hash(self, height: int) -> bytes:
        shape = writer_shape(TXS)
        while self.ledger.committed_height is None or self.ledger.committed_height < height:
            made = build_block(self.ledger, CHAIN_SEED, shape, suite=SUITE)
            self.ledger.commit_block(made.block, made.receipts, made.state_writes, made.certificate)
        return self.ledger.get_header(height).hash(SUITE)


def spawn_writer(path: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "gongshi.storage._kill_writer",
        str(path),
        "--seed",
        str(CHAIN_SEED),
        "--txs",
        str(TXS),
        "--retention",
        str(RETENTION),
    ]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)


def kill_at_random(process: subprocess.Popen[str], rng: random.Random) -> list[str]:
    """Kill the writer at a random instant; return every line it printed."""
    assert process.stdout is not None
    lines: list[str] = []
    if rng.random() < STARTUP_KILL_SHARE:
        time.sleep(rng.uniform(0.0, 0.3))
    else:
        lines.append(process.stdout.readline().strip())  # "ready ..." once open
        assert lines[0].startswith("ready"), lines
        time.sleep(rng.uniform(0.0, RUN_KILL_DELAY_MAX_S))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    lines.extend(line.strip() for line in process.stdout.read().splitlines())
    process.stdout.close()
    return lines


def check_after_kill(path: Path, lines: list[str], durable: int, reference: ReferenceChain) -> int:
    reported = [int(line.split()[1]) for line in lines if line.startswith("committed")]
    durable = max([durable, *reported])
    with Ledger.open(path, SUITE, writer_config(RETENTION)) as ledger:
        height = -1 if ledger.committed_height is None else ledger.committed_height
        assert durable <= height <= durable + 1, (durable, height, lines[-3:])
        ledger.check_integrity()
        if height >= 0:
            assert ledger.head_hash == reference.header_hash(height)
            for probe in {0, height // 2, height}:
                assert ledger.get_header(probe).hash(SUITE) == reference.header_hash(probe)
            reference_state = reference.ledger.get_header(height).state_root
            assert ledger.get_header(height).state_root == reference_state
    return height


def run_campaign(path: Path, *, kills: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    reference = ReferenceChain()
    durable = -1
    heights = []
    for _ in range(kills):
        lines = kill_at_random(spawn_writer(path), rng)
        durable = check_after_kill(path, lines, durable, reference)
        heights.append(durable)
    return heights


def test_writer_killed_at_random_instants_always_reopens_consistent(tmp_path: Path) -> None:
    heights = run_campaign(tmp_path / "ledger", kills=12, seed=20240601)
    assert heights == sorted(heights)
    assert heights[-1] > 0, "the writer never got to commit: the kills prove nothing"


@pytest.mark.slow
def test_writer_killed_sixty_times_always_reopens_consistent(tmp_path: Path) -> None:
    heights = run_campaign(tmp_path / "ledger", kills=60, seed=7)
    assert heights == sorted(heights)
    assert len(set(heights)) > 30, "most kills should land after progress was made"
