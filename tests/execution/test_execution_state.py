"""The journaled overlay against a dict model, and the gas meter."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gongshi.errors import InvariantViolation
from gongshi.execution import GasMeter, JournaledState
from gongshi.execution.errors import OutOfGas

KEYS = st.sampled_from([b"a", b"b", b"c", b"d"])
VALUES = st.one_of(st.none(), st.binary(max_size=3))


class JournalModel(RuleBasedStateMachine):
    """JournaledState must behave like a stack of dict copies."""

    def __init__(self) -> None:
        super().__init__()
        self.base = {b"a": b"base-a", b"c": b"base-c"}
        self.journal = JournaledState(self.base)
        # model: a stack of full views; index 0 is the committed view
        self.views: list[dict[bytes, bytes | None]] = [dict(self.base)]

    @rule()
    def snapshot(self) -> None:
        if self.journal.depth < 8:
            self.journal.snapshot()
            self.views.append(dict(self.views[-1]))

    @precondition(lambda self: self.journal.depth > 0)
    @rule(key=KEYS, value=VALUES)
    def write(self, key: bytes, value: bytes | None) -> None:
        self.journal.set(key, value)
        self.views[-1][key] = value

    @precondition(lambda self: self.journal.depth > 0)
    @rule()
    def commit(self) -> None:
        self.journal.commit(self.journal.depth)
        top = self.views.pop()
        self.views[-1] = top

    @precondition(lambda self: self.journal.depth > 0)
    @rule()
    def revert(self) -> None:
        self.journal.revert(self.journal.depth)
        self.views.pop()

    @invariant()
    def reads_match(self) -> None:
        for key in (b"a", b"b", b"c", b"d"):
            assert self.journal.get(key) == self.views[-1].get(key)

    @invariant()
    def committed_writes_match(self) -> None:
        if self.journal.depth == 0:
            expected = {
                key: value
                for key, value in self.views[0].items()
                if key not in self.base or self.base[key] != value
            }
            actual = {
                key: value
                for key, value in self.journal.writes().items()
                if key not in self.base or self.base[key] != value
            }
            assert actual == expected
            assert list(self.journal.writes()) == sorted(self.journal.writes())


TestJournalModel = JournalModel.TestCase


def test_write_outside_a_snapshot_is_a_bug() -> None:
    journal = JournaledState({})
    with pytest.raises(InvariantViolation):
        journal.set(b"k", b"v")


def test_snapshots_close_in_order() -> None:
    journal = JournaledState({})
    outer = journal.snapshot()
    journal.snapshot()
    with pytest.raises(InvariantViolation):
        journal.commit(outer)


def test_writes_refused_while_a_snapshot_is_open() -> None:
    journal = JournaledState({})
    journal.snapshot()
    with pytest.raises(InvariantViolation):
        journal.writes()


def test_base_is_never_modified() -> None:
    base = {b"k": b"v"}
    journal = JournaledState(base)
    depth = journal.snapshot()
    journal.set(b"k", None)
    journal.commit(depth)
    assert base == {b"k": b"v"}
    assert journal.get(b"k") is None
    assert journal.writes() == {b"k": None}


def test_gas_meter_charges_until_the_limit() -> None:
    meter = GasMeter(100)
    meter.charge(60, "first")
    assert (meter.used, meter.remaining) == (60, 40)
    with pytest.raises(OutOfGas) as raised:
        meter.charge(41, "second")
    assert raised.value.needed == 41 and raised.value.remaining == 40
    assert meter.used == 100  # exhausted: the whole limit is spent


def test_gas_meter_allows_exactly_the_limit() -> None:
    meter = GasMeter(10)
    meter.charge(10, "all")
    assert meter.remaining == 0
