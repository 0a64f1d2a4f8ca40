"""The executor's shortcuts build exactly what the checked paths build: events and success
receipts from already-checked parts, the notary record, raw state keys from a cached
namespace prefix, and argument maps; and refuse bad values with the very same errors."""

from __future__ import annotations

import hashlib
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import Event, Receipt, ReceiptStatus, decode, encode, frozendict
from gongshi.codec.cbor import freeze_value
from gongshi.codec.limits import RECEIPT_BYTES_MAX
from gongshi.codec.record import record_to_wire, write_nested
from gongshi.errors import GongshiError
from gongshi.execution.args import Args
from gongshi.execution.context import ContractStorage, _event
from gongshi.execution.errors import ReturnValueTooLarge
from gongshi.execution.executor import (
    EVENT_OVERHEAD_BYTES,
    RECEIPT_OVERHEAD_BYTES,
    _success,
)
from gongshi.execution.gas import DEFAULT_GAS_SCHEDULE, GasMeter
from gongshi.execution.notary import NotaryRecord, record_key
from gongshi.execution.state import JournaledState
from gongshi.storage.schema import STATE_KEY_BYTES_MAX, state_key

from .conftest import BLOCK_MS, Chain, signed  # type: ignore[import-not-found]

_SCALAR = st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.text(max_size=8)
VALUES = st.recursive(
    _SCALAR | st.binary(max_size=16),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
# Values outside the subset too: floats, sets, non-text keys, lone surrogates, big ints.
BAD = st.floats(allow_nan=False) | st.sets(st.integers(), min_size=1, max_size=2)
BAD |= st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2)
BAD |= st.just("\ud800") | st.just(2**64)
ANY_VALUES = st.recursive(
    _SCALAR | BAD,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=6,
)
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,63}", fullmatch=True) | st.text(max_size=70)


def outcome(make: Any) -> tuple[str, Any]:
    """What a constructor gives: ("ok", (record, encoding)) or ("error", (type, message)).
    The encoding is the record's own (assembled from parts on the hot path) and must be the
    one the generic encoder writes for it."""
    try:
        made = make()
    except GongshiError as error:
        return "error", (type(error), str(error))
    assert encode(made) == cbor2.dumps(record_to_wire(made), default=write_nested)
    return "ok", (made, encode(made))


@settings(max_examples=200, deadline=None)
@given(name=NAMES, fields=ANY_VALUES | st.dictionaries(st.text(max_size=6), ANY_VALUES))
def test_event_shortcut_matches_the_checked_constructor(name: str, fields: Any) -> None:
    fast = outcome(lambda: _event("notary", name, fields)[0])
    checked = outcome(lambda: Event(contract="notary", name=name, fields=fields))
    assert fast == checked
    if fast[0] == "ok":
        event, size = _event("notary", name, fields)
        assert size == len(cbor2.dumps(event.fields))


def reference_success(
    tx_hash: bytes, gas_used: int, value: Any, events: tuple[Event, ...], events_bytes: int
) -> Receipt:
    """The success receipt as the checked constructor and the size bound define it."""
    receipt = Receipt(
        tx_hash=tx_hash,
        status=ReceiptStatus.SUCCESS,
        gas_used=gas_used,
        return_value=value,
        events=events,
    )
    size = len(cbor2.dumps(receipt.return_value)) + events_bytes
    size += RECEIPT_OVERHEAD_BYTES + EVENT_OVERHEAD_BYTES * len(events)
    if size > RECEIPT_BYTES_MAX:
        raise ReturnValueTooLarge(f"receipt would be {size} bytes, limit {RECEIPT_BYTES_MAX}")
    return receipt


UINT64 = st.integers(0, 2**64 - 1) | st.sampled_from([0, 23, 24, 255, 256, 2**32, 2**64 - 1])
FIELD_MAPS = st.dictionaries(st.text(max_size=6), VALUES, max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    value=ANY_VALUES,
    fields=st.lists(FIELD_MAPS, max_size=3) | st.lists(st.just({}), min_size=23, max_size=26),
    gas_used=UINT64,
    checked_events=st.booleans(),
)
def test_success_receipt_shortcut_matches_the_checked_constructor(
    value: Any, fields: list[dict[str, Any]], gas_used: int, checked_events: bool
) -> None:
    if checked_events:  # events encoded on demand, or assembled when emitted
        emitted = tuple(Event(contract="notary", name="Registered", fields=f) for f in fields)
    else:
        emitted = tuple(_event("notary", "Registered", f)[0] for f in fields)
    events_bytes = sum(len(cbor2.dumps(event.fields)) for event in emitted)
    tx_hash = hashlib.sha256(b"tx").digest()
    fast = outcome(lambda: _success(tx_hash, gas_used, value, emitted, events_bytes))
    checked = outcome(lambda: reference_success(tx_hash, gas_used, value, emitted, events_bytes))
    assert fast == checked


@pytest.mark.parametrize("delta", [-2, -1, 0, 1, 2])
@pytest.mark.parametrize("events", [0, 1])
def test_success_receipt_size_bound_is_unchanged(delta: int, events: int) -> None:
    emitted = tuple(_event("notary", "E", {"n": n})[0] for n in range(events))
    events_bytes = sum(len(cbor2.dumps(event.fields)) for event in emitted)
    overhead = RECEIPT_OVERHEAD_BYTES + EVENT_OVERHEAD_BYTES * events + events_bytes
    # A byte string of n bytes (n >= 65536) encodes in n + 5.
    value = b"x" * (RECEIPT_BYTES_MAX - overhead - 5 + delta)
    tx_hash = bytes(32)
    fast = outcome(lambda: _success(tx_hash, 7, value, emitted, events_bytes))
    assert fast == outcome(lambda: reference_success(tx_hash, 7, value, emitted, events_bytes))
    assert (fast[0] == "ok") == (delta <= 0)


def storage(namespace: str) -> ContractStorage:
    meter = GasMeter(10**9)
    journal = JournaledState({})
    journal.snapshot()
    return ContractStorage(namespace, journal, meter, DEFAULT_GAS_SCHEDULE, journal=journal)


@settings(max_examples=100, deadline=None)
@given(
    namespace=st.sampled_from(["notary", "identity", "0x" + "ab" * 20, "名前"]),
    keys=st.lists(st.binary(max_size=40) | st.binary(min_size=1000, max_size=1030), max_size=6),
)
def test_raw_keys_from_the_cached_prefix_are_state_keys(namespace: str, keys: list[bytes]) -> None:
    contract = storage(namespace)
    for key in keys:
        if len(state_key(namespace, b"")) + len(key) > STATE_KEY_BYTES_MAX:
            with pytest.raises(GongshiError) as refused:
                contract.get(key)
            with pytest.raises(GongshiError) as expected:
                state_key(namespace, key)
            assert str(refused.value) == str(expected.value)
            continue
        contract.set(key, b"v" + key)
        assert contract._raw_key(key) == state_key(namespace, key)
        assert contract.get(key) == b"v" + key


def test_a_key_of_another_type_is_refused_as_state_key_refuses_it() -> None:
    contract = storage("notary")
    contract.get(b"warm")  # the prefix is known now
    with pytest.raises(GongshiError, match="state namespace must be str and key bytes"):
        contract.get("text")  # type: ignore[arg-type]


def test_args_of_a_frozen_value_and_their_defaults() -> None:
    accepted = frozenset({"doc_hash", "metadata"})
    frozen = freeze_value({"doc_hash": b"x", "metadata": {"b": 1, "a": 2}})
    args = Args("register", frozen, accepted)  # type: ignore[arg-type]
    metadata = args.map_("metadata")
    assert type(metadata) is frozendict and list(metadata) == ["a", "b"]
    empty = Args("register", None, accepted).map_("metadata")
    assert type(empty) is frozendict and len(empty) == 0
    with pytest.raises(GongshiError, match="register: unknown argument a, z"):
        Args("register", freeze_value({"z": 1, "a": 2, "doc_hash": b""}), accepted)
    with pytest.raises(GongshiError, match="register: args must be a map, got array"):
        Args("register", (1, 2), accepted)
    with pytest.raises(GongshiError, match="argument metadata must be a map, got int"):
        Args("register", freeze_value({"metadata": 3}), accepted).map_("metadata")


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"metadata": {"title": "deed", "pages": 3, "tags": ["a", "b"], "b": {"z": 1, "a": 0}}},
        {"metadata": {"名": "値"}, "locator": "s3://bucket/deed"},
    ],
)
def test_notary_record_is_the_checked_record(chain: Chain, extra: dict[str, Any]) -> None:
    alice = chain.key("alice")
    doc_hash = hashlib.sha256(repr(extra).encode()).digest()
    tx = signed(alice, 0, args={"doc_hash": doc_hash, **extra})
    receipt = chain.commit([tx]).receipts[0]
    assert receipt.status is ReceiptStatus.SUCCESS, receipt.error
    stored = chain.state[state_key("notary", record_key(doc_hash))]
    checked = NotaryRecord(
        doc_hash=doc_hash,
        owner=alice.address(),
        sequence=0,
        height=1,
        tx_hash=tx.hash(chain.suite),
        timestamp_ms=BLOCK_MS,
        metadata=extra.get("metadata", {}),
        locator=extra.get("locator"),
    )
    assert stored == encode(checked)
    assert decode(NotaryRecord, stored) == checked
