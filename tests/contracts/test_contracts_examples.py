"""The shipped example contracts, run through the runtime over a real ContractStorage."""

from __future__ import annotations

from pathlib import Path

import pytest

from gongshi.contracts import ContractRuntimeError, RequireFailed
from gongshi.contracts.testing import ALICE, BOB, CAROL, MemoryChain
from gongshi.execution.errors import ReadOnlyCall

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
ISSUER = bytes.fromhex("11" * 20)
ADMIN = bytes.fromhex("22" * 20)
OUTSIDER = bytes.fromhex("33" * 20)


def deployed(name: str) -> MemoryChain:
    chain = MemoryChain()
    chain.deploy(name, (EXAMPLES / f"{name}.py").read_text())
    return chain


@pytest.fixture
def token() -> MemoryChain:
    chain = deployed("token")
    chain.invoke("token", "init", {"issuer_address": ISSUER, "admin_address": ADMIN})
    for holder in (ALICE, BOB):
        chain.invoke("token", "allow", {"holder": holder}, sender=ADMIN)
    chain.invoke("token", "mint", {"to": ALICE, "amount": 1_000}, sender=ISSUER)
    return chain


def balance(chain: MemoryChain, who: bytes) -> object:
    return chain.invoke("token", "balance_of", {"holder": who}, read_only=True)


def test_token_transfers_between_listed_holders(token: MemoryChain) -> None:
    token.invoke("token", "transfer", {"to": BOB, "amount": 250}, sender=ALICE)
    assert (balance(token, ALICE), balance(token, BOB)) == (750, 250)
    info = token.invoke("token", "info", read_only=True)
    assert info == {
        "name": "Gongshi Regulated Token",
        "symbol": "GRT",
        "supply": 1_000,
        "issuer": ISSUER,
    }
    assert token.events[-1][1:] == ("Transfer", {"to": BOB, "amount": 250, "sender": ALICE})


@pytest.mark.parametrize(
    ("method", "args", "sender", "message"),
    [
        ("transfer", {"to": CAROL, "amount": 1}, ALICE, "recipient is not an allowed holder"),
        ("transfer", {"to": BOB, "amount": 1}, OUTSIDER, "sender is not an allowed holder"),
        ("transfer", {"to": BOB, "amount": 5_000}, ALICE, "insufficient balance"),
        ("transfer", {"to": BOB, "amount": 0}, ALICE, "amount must be positive"),
        ("transfer", {"to": BOB, "amount": "1"}, ALICE, "amount must be an int"),
        ("mint", {"to": ALICE, "amount": 5}, ALICE, "only the issuer mints"),
        ("mint", {"to": CAROL, "amount": 5}, ISSUER, "recipient is not an allowed holder"),
        ("allow", {"holder": CAROL}, ALICE, "only the admin"),
        ("init", {"issuer_address": ALICE, "admin_address": ALICE}, ALICE, "already initialised"),
    ],
)
def test_token_rules(
    token: MemoryChain, method: str, args: dict[str, object], sender: bytes, message: str
) -> None:
    with pytest.raises(RequireFailed, match=message):
        token.invoke("token", method, args, sender=sender)  # type: ignore[arg-type]
    assert (balance(token, ALICE), balance(token, BOB)) == (1_000, 0)


def test_token_disallowed_holder_is_frozen_out(token: MemoryChain) -> None:
    token.invoke("token", "disallow", {"holder": BOB}, sender=ADMIN)
    assert token.invoke("token", "is_allowed", {"holder": BOB}, read_only=True) is False
    with pytest.raises(RequireFailed):
        token.invoke("token", "transfer", {"to": BOB, "amount": 1}, sender=ALICE)


def test_supply_chain_custody_and_history() -> None:
    chain = deployed("supply_chain")
    chain.invoke(
        "supply_chain", "create_item", {"item_id": "pallet-7", "description": "tea"}, sender=ALICE
    )
    evidence = bytes(range(32))
    chain.invoke(
        "supply_chain",
        "attach_checkpoint",
        {"item_id": "pallet-7", "evidence_hash": evidence, "note": "loaded"},
        sender=ALICE,
    )
    chain.invoke("supply_chain", "hand_over", {"item_id": "pallet-7", "to": BOB}, sender=ALICE)
    with pytest.raises(RequireFailed, match="only the current custodian"):
        chain.invoke(
            "supply_chain", "hand_over", {"item_id": "pallet-7", "to": CAROL}, sender=ALICE
        )
    chain.invoke("supply_chain", "hand_over", {"item_id": "pallet-7", "to": CAROL}, sender=BOB)
    history = chain.invoke("supply_chain", "history", {"item_id": "pallet-7"}, read_only=True)
    assert isinstance(history, tuple)
    assert [step["kind"] for step in history] == [  # type: ignore[index]
        "created",
        "checkpoint",
        "handover",
        "handover",
    ]
    assert history[1]["evidence"] == evidence  # type: ignore[index]
    assert [step["by"] for step in history] == [ALICE, ALICE, ALICE, BOB]  # type: ignore[index]
    item = chain.invoke("supply_chain", "item", {"item_id": "pallet-7"}, read_only=True)
    assert item["custodian"] == CAROL  # type: ignore[index]


def test_supply_chain_rejects_duplicates_and_unknown_items() -> None:
    chain = deployed("supply_chain")
    chain.invoke("supply_chain", "create_item", {"item_id": "a", "description": ""})
    with pytest.raises(RequireFailed, match="already exists"):
        chain.invoke("supply_chain", "create_item", {"item_id": "a", "description": ""})
    with pytest.raises(RequireFailed, match="unknown item"):
        chain.invoke("supply_chain", "history", {"item_id": "b"}, read_only=True)
    with pytest.raises(RequireFailed, match="32 bytes"):
        chain.invoke(
            "supply_chain",
            "attach_checkpoint",
            {"item_id": "a", "evidence_hash": b"short", "note": ""},
        )


def test_receivables_issue_split_transfer_settle() -> None:
    chain = deployed("receivables")
    first = chain.invoke(
        "receivables",
        "issue",
        {"debtor": BOB, "amount": "1000.50", "due_height": 100},
        sender=ALICE,
    )
    assert first == 1
    second = chain.invoke(
        "receivables", "split", {"receivable_id": 1, "amount": "250.25"}, sender=ALICE
    )
    assert second == 2
    original = chain.invoke("receivables", "get", {"receivable_id": 1}, read_only=True)
    part = chain.invoke("receivables", "get", {"receivable_id": 2}, read_only=True)
    assert original["amount"] == "750.25" and part["amount"] == "250.25"  # type: ignore[index]
    assert part["parent"] == 1  # type: ignore[index]
    chain.invoke("receivables", "transfer", {"receivable_id": 2, "to": CAROL}, sender=ALICE)
    with pytest.raises(RequireFailed, match="only the creditor"):
        chain.invoke("receivables", "split", {"receivable_id": 2, "amount": "1"}, sender=ALICE)
    total = chain.invoke("receivables", "outstanding", {"receivable_ids": [1, 2]}, read_only=True)
    assert total == "1000.5"
    with pytest.raises(RequireFailed, match="only the debtor"):
        chain.invoke("receivables", "settle", {"receivable_id": 2}, sender=CAROL)
    chain.invoke("receivables", "settle", {"receivable_id": 2}, sender=BOB)
    assert chain.events[-1][1:] == ("Settled", {"id": 2, "late": False, "amount": "250.25"})
    settled = chain.invoke("receivables", "get", {"receivable_id": 2}, read_only=True)
    assert settled["status"] == "settled"  # type: ignore[index]
    assert (
        chain.invoke("receivables", "outstanding", {"receivable_ids": [1, 2]}, read_only=True)
        == "750.25"
    )


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ({"debtor": BOB, "amount": "0", "due_height": 100}, RequireFailed, "positive"),
        ({"debtor": BOB, "amount": 5, "due_height": 100}, RequireFailed, "decimal text"),
        ({"debtor": BOB, "amount": "1.5", "due_height": 1}, RequireFailed, "due height"),
        ({"debtor": ALICE, "amount": "1.5", "due_height": 100}, RequireFailed, "owe itself"),
        (
            {"debtor": BOB, "amount": "1.2.3", "due_height": 100},
            ContractRuntimeError,
            "ValueError: Decimal text",
        ),
    ],
)
def test_receivables_issue_rules(
    args: dict[str, object], error: type[Exception], message: str
) -> None:
    chain = deployed("receivables")
    with pytest.raises(error, match=message):
        chain.invoke("receivables", "issue", args, sender=ALICE)  # type: ignore[arg-type]


def test_read_only_queries_cannot_change_the_examples() -> None:
    chain = deployed("receivables")
    with pytest.raises(ReadOnlyCall):
        chain.invoke(
            "receivables",
            "issue",
            {"debtor": BOB, "amount": "1", "due_height": 100},
            read_only=True,
        )
    assert chain.journal.depth == 1 and not chain.events
