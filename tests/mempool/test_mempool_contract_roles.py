"""Deployed contracts' own refusals at admission: frozen contracts, unknown exports and
export roles (`mempool/contract_calls.py`), through the pool with a fake reader, and the
cached reader's exactness against a reader over the current state."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import encode_value
from gongshi.execution.contract_records import NAMESPACE as CONTRACTS
from gongshi.execution.contract_records import (
    ContractRecord,
    ExportInfo,
    VersionEntry,
    address_key,
    contract_address,
)
from gongshi.execution.governance_records import NAMESPACE as GOVERNANCE
from gongshi.execution.governance_records import contract_key
from gongshi.mempool.contract_calls import (
    CachedContractCalls,
    CallRule,
    ContractRefusal,
    ContractRefusalKind,
    StateContractCalls,
    rule_refusal,
)
from gongshi.mempool.errors import (
    AdmissionRejected,
    ContractFrozenRefused,
    ExportNotFoundRefused,
    SenderNotPermitted,
)
from gongshi.pki import Role
from gongshi.storage.schema import state_key

from .conftest import PoolWorld, make_world  # type: ignore[import-not-found]

# --- the pool with a fake reader -------------------------------------------------------------


@dataclass
class FakeCalls:
    """A `ContractCallReader` from a table of rules; records what it was asked."""

    rules: dict[tuple[str, str], CallRule] = field(default_factory=dict)
    asked: list[tuple[str, str, Role | None]] = field(default_factory=list)

    def refusal(self, target: str, method: str, role: Role | None, /) -> ContractRefusal | None:
        self.asked.append((target, method, role))
        return rule_refusal(self.rules.get((target, method)), method, role)


def _rule(
    *, frozen: bool = False, exported: bool = True, roles: tuple[str, ...] | None = None
) -> CallRule:
    return CallRule(contract="counter", frozen=frozen, exported=exported, roles=roles)


@pytest.fixture
def calls() -> FakeCalls:
    return FakeCalls(
        rules={
            ("counter", "add"): _rule(),
            ("counter", "reset"): _rule(roles=("admin", "regulator")),
            ("counter", "nope"): _rule(exported=False),
            ("frozen", "add"): CallRule(contract="frozen", frozen=True, exported=True, roles=None),
        }
    )


def _send(world: PoolWorld, calls: FakeCalls | None, name: str, target: str, method: str) -> None:
    pool = world.pool(height=5, contract_calls=calls)
    pool.admit(world.raw(name, 0, target=target, method=method, args={}))


def _refused(
    world: PoolWorld, calls: FakeCalls, name: str, target: str, method: str
) -> AdmissionRejected:
    with pytest.raises(AdmissionRejected) as refused:
        _send(world, calls, name, target, method)
    return refused.value


def test_an_export_restricted_to_other_roles_is_refused_naming_it(calls: FakeCalls) -> None:
    world = make_world()
    world.key("client", Role.CLIENT)
    refused = _refused(world, calls, "client", "counter", "reset")
    assert type(refused) is SenderNotPermitted and refused.code == 1661
    message = str(refused)
    assert "counter.reset" in message and "admin, regulator" in message and "client" in message
    assert calls.asked == [("counter", "reset", Role.CLIENT)]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.REGULATOR])
def test_a_role_the_export_names_is_admitted(calls: FakeCalls, role: Role) -> None:
    world = make_world()
    world.key("member", role)
    _send(world, calls, "member", "counter", "reset")


def test_frozen_contracts_and_unknown_exports_have_their_own_codes(calls: FakeCalls) -> None:
    world = make_world()
    world.key("admin", Role.ADMIN)
    frozen = _refused(world, calls, "admin", "frozen", "add")
    assert type(frozen) is ContractFrozenRefused and frozen.code == 1665
    assert "frozen" in str(frozen) and "frozen.add" in str(frozen)
    missing = _refused(world, calls, "admin", "counter", "nope")
    assert type(missing) is ExportNotFoundRefused and missing.code == 1666
    assert "'nope'" in str(missing)


def test_open_exports_and_unknown_contracts_are_admitted(calls: FakeCalls) -> None:
    world = make_world()
    world.key("client", Role.CLIENT)
    _send(world, calls, "client", "counter", "add")
    _send(world, calls, "client", "nobody", "add")  # NOT_FOUND stays the receipt's
    assert [asked[:2] for asked in calls.asked] == [("counter", "add"), ("nobody", "add")]


def test_sender_rules_come_first_and_system_contracts_keep_theirs(calls: FakeCalls) -> None:
    world = make_world()
    world.key("observer", Role.OBSERVER)
    world.key("client", Role.CLIENT)
    refused = _refused(world, calls, "observer", "frozen", "add")
    assert type(refused) is SenderNotPermitted and "may not send" in str(refused)
    assert calls.asked == []  # refused before the contract was consulted
    system = _refused(world, calls, "client", "governance", "propose")
    assert type(system) is SenderNotPermitted and "governance.propose" in str(system)


def test_without_a_reader_contract_calls_are_left_to_the_receipt() -> None:
    world = make_world()
    world.key("client", Role.CLIENT)
    _send(world, None, "client", "frozen", "add")
    _send(world, None, "client", "counter", "reset")


@given(
    roles=st.none() | st.lists(st.sampled_from([r.value for r in Role]), unique=True).map(tuple),
    role=st.none() | st.sampled_from(list(Role)),
    frozen=st.booleans(),
    exported=st.booleans(),
)
def test_rule_refusal_follows_executions_order(
    roles: tuple[str, ...] | None, role: Role | None, frozen: bool, exported: bool
) -> None:
    found = rule_refusal(_rule(frozen=frozen, exported=exported, roles=roles), "m", role)
    if frozen:
        expected: ContractRefusalKind | None = ContractRefusalKind.FROZEN
    elif not exported:
        expected = ContractRefusalKind.NO_EXPORT
    elif roles is None or (role is not None and role.value in roles):
        expected = None
    else:
        expected = ContractRefusalKind.ROLE
    assert (None if found is None else found.kind) is expected


# --- the cached reader over a fake ledger ----------------------------------------------------


class _View:
    def __init__(self, values: dict[bytes, bytes], height: int) -> None:
        self._values = values
        self.height = height

    def get(self, raw_key: bytes, /) -> bytes | None:
        return self._values.get(raw_key)


class FakeLedger:
    """Committed state by height and the last height that wrote each namespace."""

    def __init__(self) -> None:
        self.versions: list[dict[bytes, bytes]] = [{}]
        self.written: dict[str, int] = {}
        self.views = 0

    @property
    def committed_height(self) -> int | None:
        return len(self.versions) - 1

    def state_reader(self, height: int | None = None, /) -> _View:
        self.views += 1
        at = self.committed_height if height is None else height
        assert at is not None
        return _View(self.versions[at], at)

    def namespace_written_height(self, namespace: str, /) -> int | None:
        return self.written.get(namespace)

    def commit(self, writes: dict[tuple[str, bytes], bytes]) -> None:
        values = dict(self.versions[-1])
        for (namespace, key), value in writes.items():
            values[state_key(namespace, key)] = value
            self.written[namespace] = len(self.versions)
        self.versions.append(values)


def _record(name: str, *, frozen: bool, reset_roles: tuple[str, ...] | None) -> bytes:
    exports = {
        "add": ExportInfo(name="add", parameters=("amount",), roles=None, read_only=False),
        "reset": ExportInfo(name="reset", parameters=(), roles=reset_roles, read_only=False),
    }
    record = ContractRecord(
        name=name,
        address=bytes(20),
        version=1,
        code_hash=bytes(32),
        frozen=frozen,
        exports=exports,
        history=(VersionEntry(version=1, code_hash=bytes(32), height=1, proposal=0),),
    )
    return encode_value(record.to_value())


def _deploy(
    ledger: FakeLedger,
    name: str,
    *,
    frozen: bool = False,
    roles: tuple[str, ...] | None = ("admin",),
) -> None:
    ledger.commit(
        {(GOVERNANCE, contract_key(name)): _record(name, frozen=frozen, reset_roles=roles)}
    )


def _kind(found: ContractRefusal | None) -> ContractRefusalKind | None:
    return None if found is None else found.kind


def test_the_cache_sees_a_freeze_from_the_block_that_commits_it() -> None:
    ledger = FakeLedger()
    _deploy(ledger, "counter")
    cached = CachedContractCalls(ledger)
    assert cached.refusal("counter", "add", Role.CLIENT) is None
    assert _kind(cached.refusal("counter", "reset", Role.CLIENT)) is ContractRefusalKind.ROLE
    assert cached.refusal("counter", "reset", Role.ADMIN) is None
    views = ledger.views
    ledger.commit({("notary", b"x"): b"1"})  # another namespace: entries stay valid
    assert cached.refusal("counter", "add", Role.CLIENT) is None
    assert len(cached) == 2 and ledger.views == views + 1  # one pinned view, no new rule
    _deploy(ledger, "counter", frozen=True)
    assert _kind(cached.refusal("counter", "add", Role.CLIENT)) is ContractRefusalKind.FROZEN
    _deploy(ledger, "counter", frozen=False)
    assert cached.refusal("counter", "add", Role.CLIENT) is None


def test_system_contracts_cost_no_read_and_addresses_resolve() -> None:
    ledger = FakeLedger()
    _deploy(ledger, "counter")
    cached = CachedContractCalls(ledger)
    assert cached.refusal("governance", "propose", Role.CLIENT) is None
    assert ledger.views == 0 and len(cached) == 0
    address = contract_address(make_world().suite, "counter")
    target = "0x" + address.hex()
    assert cached.refusal(target, "reset", Role.CLIENT) is None  # no such address yet
    ledger.commit({(CONTRACTS, address_key(address)): b"counter"})
    refused = cached.refusal(target, "reset", Role.CLIENT)
    assert refused is not None and "counter.reset" in refused.message


def test_a_corrupt_record_is_left_to_execution() -> None:
    ledger = FakeLedger()
    ledger.commit({(GOVERNANCE, contract_key("broken")): b"\xff\x00"})
    assert StateContractCalls(ledger.state_reader()).refusal("broken", "m", Role.ADMIN) is None


_NAMES = ("alpha", "beta")
_METHODS = ("add", "reset", "gone")
_step = st.one_of(
    st.tuples(
        st.just("deploy"),
        st.sampled_from(_NAMES),
        st.booleans(),
        st.none() | st.sampled_from([("admin",), ("client", "regulator")]),
    ),
    st.tuples(st.just("other"), st.none(), st.none(), st.none()),
    st.tuples(
        st.just("ask"), st.sampled_from(_NAMES), st.sampled_from(_METHODS), st.sampled_from(Role)
    ),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(_step, max_size=30), size_max=st.integers(min_value=1, max_value=4))
def test_cached_answers_equal_fresh_ones_at_every_height(
    steps: list[tuple[object, object, object, object]], size_max: int
) -> None:
    ledger = FakeLedger()
    cached = CachedContractCalls(ledger, size_max=size_max)
    for kind, first, second, third in steps:
        if kind == "deploy":
            assert isinstance(first, str) and isinstance(second, bool)
            assert third is None or isinstance(third, tuple)
            _deploy(ledger, first, frozen=second, roles=third)
        elif kind == "other":
            ledger.commit({("identity", b"m"): b"%d" % len(ledger.versions)})
        else:
            assert isinstance(first, str) and isinstance(second, str)
            assert isinstance(third, Role)
            fresh = StateContractCalls(ledger.state_reader()).refusal(first, second, third)
            assert cached.refusal(first, second, third) == fresh
        assert len(cached) <= size_max
