"""SPEC.md and the simulator agree: every invariant ID names a checker that exists and
reports that ID, and every ID a checker reports is specified."""

from __future__ import annotations

import re
from pathlib import Path

import gongshi.consensus as package
from gongshi.consensus.sim.checkers import Checkers
from gongshi.consensus.sim.cluster import Cluster

PACKAGE = Path(package.__file__).parent
SPEC = (PACKAGE / "SPEC.md").read_text()
SOURCES = {
    "Checkers": (PACKAGE / "sim" / "checkers.py").read_text(),
    "Cluster": (PACKAGE / "sim" / "cluster.py").read_text(),
}
ROW = re.compile(r"^\| (CONS-[A-Z]+-\d+) \|.*\| `(\w+)\.(\w+)` \|$", re.MULTILINE)


def test_every_invariant_names_an_existing_checker_that_reports_it() -> None:
    rows = ROW.findall(SPEC)
    assert len(rows) >= 9
    owners = {"Checkers": Checkers, "Cluster": Cluster}
    for invariant, owner, method in rows:
        assert hasattr(owners[owner], method), f"{invariant}: {owner}.{method} missing"
        assert f'"{invariant}"' in SOURCES[owner], f"{invariant} never reported by {owner}"


def test_every_reported_invariant_is_specified() -> None:
    specified = {row[0] for row in ROW.findall(SPEC)}
    reported = set(re.findall(r'"(CONS-[A-Z]+-\d+)"', "".join(SOURCES.values())))
    assert reported <= specified
