"""The executor's shortcuts build exactly what the checked paths build: events and success
receipts from already-checked parts, the notary record, raw state keys from a cached
namespace prefix, and argument maps; and refuse bad values with the very same errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gongshi.codec import Event, Receipt, ReceiptStatus, decode, encode, frozendict
from gongshi.codec.cbor import freeze_value
from gongshi.errors import GongshiError
from gongshi.execution.args import Args
from gongshi.execution.context import ContractStorage, _event
from gongshi.execution.executor import _success_receipt
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
    """What a constructor gives: ("ok", encoding) or ("error", (type, message))."""
    try:
        made = make()
    except GongshiError as error:
        return "error", (type(error), str(error))
    return "ok", (made, encode(made))


@settings(max_examples=200, deadline=None)
@given(name=NAMES, fields=ANY_VALUES | st.dictionaries(st.text(max_size=6), ANY_VALUES))
def test_event_shortcut_matches_the_checked_constructor(name: str, fields: Any) -> None:
    fast = outcome(lambda: _event("notary", name, fields))
    checked = outcome(lambda: Event(contract="notary", name=name, fields=fields))
    assert fast == checked


@settings(max_examples=200, deadline=None)
@given(value=ANY_VALUES, events=st.integers(0, 2))
def test_success_receipt_shortcut_matches_the_checked_constructor(value: Any, events: int) -> None:
    emitted = tuple(
        Event(contract="notary", name="Registered", fields={"sequence": index})
        for index in range(events)
    )
    tx_hash = hashlib.sha256(b"tx").digest()

    def checked() -> Receipt:
        return Receipt(
            tx_hash=tx_hash,
            status=ReceiptStatus.SUCCESS,
            gas_used=21_000,
            return_value=value,
            events=emitted,
        )

    assert outcome(lambda: _success_receipt(tx_hash, 21_000, value, emitted)) == outcome(checked)


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
