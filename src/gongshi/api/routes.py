"""The one table of RPC methods: name -> parameters, handler, description.

A handler gets the service and the checked parameters. `READ` handlers only read the ledger
and run in a worker thread; `ASYNC` handlers are coroutines run on the event loop;
subscription methods (WebSocket only) are handled by the connection, not by the service.
Every route declares its `access` level (`gongshi.api.access.Access`: public, submit,
member, full), enforced with `[api] access = "members"`; `redact` withholds what a member
below the full level may not see of a result (docs/api.md, "Access control").
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gongshi.api import contracts, epochs, governance
from gongshi.api.access import Access, Principal, redact_pending
from gongshi.api.params import (
    BlockRef,
    Choice,
    Cursor,
    Flag,
    HexBytes,
    JsonArgs,
    Param,
    Text,
    UInt,
)
from gongshi.api.service import ChainService

EVENTS_PAGE_MAX = 1000
NOTARY_PAGE_MAX = 50
GOV_PAGE_MAX = 50  # the governance contract's page limit
GOV_STATUSES = ("open", "executed", "rejected", "failed", "expired")
TX_BYTES_MAX = 16 << 20


class Mode(enum.Enum):
    READ = "read"  # sync, in a worker thread
    ASYNC = "async"  # a coroutine on the event loop
    SUBSCRIPTION = "subscription"  # WebSocket connections only
    DISCOVER = "discover"  # the OpenRPC document


Handler = Callable[[ChainService, dict[str, Any]], Any]
Redactor = Callable[[Any, Principal | None], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    name: str
    summary: str
    params: tuple[Param, ...]
    mode: Mode
    result: str  # what the result is, for the OpenRPC document
    # Who may call it with access = members (gongshi.api.access; docs/api.md).
    access: Access
    handler: Handler | None = None
    # Withholds what the caller may not read from a result (None: nothing to withhold).
    redact: Redactor | None = None


HASH = HexBytes(sizes=(32,))
ADDRESS = HexBytes(sizes=(20,))
NAME = Text(length_max=255)
HEIGHT = Param("height", UInt(), "Block height (default: the committed head).", required=False)


def _tx_send(service: ChainService, p: dict[str, Any]) -> Awaitable[Any]:
    return service.tx_send(p["tx"])


def _events(service: ChainService, p: dict[str, Any]) -> Any:
    return service.events_query(
        contract=p["contract"],
        name=p["name"],
        from_height=p["from_height"],
        to_height=p["to_height"],
        limit=p["limit"],
        cursor=p["cursor"],
    )


ROUTES: tuple[Route, ...] = (
    Route(
        name="chain_info",
        summary="Chain id, suite, genesis hash, head, the head's epoch and validator set, the "
        "parameters in force for the next block, peers and mempool size.",
        params=(),
        mode=Mode.READ,
        access=Access.PUBLIC,
        result="chain information",
        handler=lambda s, p: s.chain_info(),
    ),
    Route(
        name="chain_epochs",
        summary="Evidence for light clients, per consensus epoch from from_epoch that has taken "
        "force: activation height, validator set, and the state proof of the governance "
        "validator schedule in a block of the previous epoch (header and certificate).",
        params=(
            Param("from_epoch", UInt(minimum=1), "First epoch.", required=False, default=1),
            Param(
                "limit",
                UInt(minimum=1, maximum=epochs.EPOCHS_PAGE_MAX),
                "Epochs per answer.",
                required=False,
                default=epochs.EPOCHS_PAGE_MAX,
            ),
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, epoch, epochs[{epoch, activation_height, announce_height, validators, "
        "state}], next}",
        handler=lambda s, p: epochs.chain_epochs(s, p["from_epoch"], p["limit"]),
    ),
    Route(
        name="tx_send",
        summary="Submit a signed transaction (its canonical encoding); returns its hash.",
        params=(Param("tx", HexBytes(size_max=TX_BYTES_MAX), "Signed transaction, 0x hex."),),
        mode=Mode.ASYNC,
        access=Access.SUBMIT,
        result="{tx_hash, ready}",
        handler=_tx_send,
    ),
    Route(
        name="tx_get",
        summary="A transaction: committed (with inclusion proof and anchor) or pending; null "
        "if unknown.",
        params=(Param("tx_hash", HASH, "Transaction hash."),),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="transaction with proof, or null",
        handler=lambda s, p: s.tx_get(p["tx_hash"]),
        redact=redact_pending,
    ),
    Route(
        name="tx_receipt",
        summary="A committed transaction's receipt with its RFC 6962 inclusion proof and the "
        "header + finality certificate it verifies against; null if not committed.",
        params=(Param("tx_hash", HASH, "Transaction hash."),),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="receipt with proof, or null",
        handler=lambda s, p: s.tx_receipt(p["tx_hash"]),
    ),
    Route(
        name="block_get",
        summary="A committed block by height or hash, with its finality certificate.",
        params=(
            Param("block", BlockRef(), "Height (integer) or block hash (0x hex)."),
            Param("full", Flag(), "Include the transactions.", required=False, default=False),
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="block",
        handler=lambda s, p: s.block_get(p["block"], full=p["full"]),
    ),
    Route(
        name="state_get",
        summary="A state value (null: absent) with its state proof, at a height.",
        params=(
            Param("namespace", NAME, "Contract namespace, e.g. notary."),
            Param("key", HexBytes(size_max=1024), "Key inside the namespace, 0x hex."),
            HEIGHT,
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="state value with proof",
        handler=lambda s, p: s.state_get(p["namespace"], p["key"], p["height"]),
    ),
    Route(
        name="account_nonce",
        summary="The next nonce of an account by the committed chain.",
        params=(Param("address", ADDRESS, "Account address (20 bytes, 0x hex)."),),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{address, nonce, height}",
        handler=lambda s, p: s.account_nonce(p["address"]),
    ),
    Route(
        name="events_query",
        summary="Events of a contract by name in a height range, in chain order, paged.",
        params=(
            Param("contract", NAME, "Contract name."),
            Param("name", NAME, "Event name."),
            Param("from_height", UInt(), "First height.", required=False, default=0),
            Param("to_height", UInt(), "Last height (default: head).", required=False),
            Param(
                "limit",
                UInt(minimum=1, maximum=EVENTS_PAGE_MAX),
                "Page size.",
                required=False,
                default=100,
            ),
            Param("cursor", Cursor(), "next_cursor of the previous page.", required=False),
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{events, next_cursor}",
        handler=_events,
    ),
    Route(
        name="notary_get",
        summary="The notary record of a document hash (null if none) and the state proof of "
        "its encoding.",
        params=(Param("doc_hash", HASH, "Document hash (32 bytes, 0x hex)."), HEIGHT),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, record, state}",
        handler=lambda s, p: s.notary_get(p["doc_hash"], p["height"]),
    ),
    Route(
        name="notary_list",
        summary="A page of an owner's notary records in registration order.",
        params=(
            Param("owner", ADDRESS, "Owner address."),
            Param("start", UInt(), "First position.", required=False, default=0),
            Param(
                "limit",
                UInt(minimum=1, maximum=NOTARY_PAGE_MAX),
                "Page size.",
                required=False,
                default=20,
            ),
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, result: {owner, total, records, next}}",
        handler=lambda s, p: s.notary_list(p["owner"], p["start"], p["limit"]),
    ),
    Route(
        name="contract_query",
        summary="Run a system contract's read-only method (e.g. identity.get, notary.list) or "
        "a deployed contract's read-only export against the state at a height, without a "
        "transaction.",
        params=(
            Param("target", NAME, "Contract name."),
            Param("method", NAME, "Read-only method."),
            Param("args", JsonArgs(), "Arguments (0x hex strings are bytes).", required=False),
            HEIGHT,
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, result}",
        handler=lambda s, p: s.contract_query(p["target"], p["method"], p["args"], p["height"]),
    ),
    Route(
        name="contract_get",
        summary="A deployed contract's lifecycle record (address, version, code hash, frozen, "
        "exports, history) and the state proof of its stored encoding.",
        params=(Param("name", NAME, "Contract name or 0x address."), HEIGHT),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, contract, state}",
        handler=lambda s, p: contracts.contract_get(s, p["name"], p["height"]),
    ),
    Route(
        name="contract_code",
        summary="The source of a deployed contract's version (default: the one in force) and "
        "the state proof of the stored source.",
        params=(
            Param("name", NAME, "Contract name or 0x address."),
            Param("version", UInt(minimum=1), "Version (default: current).", required=False),
            HEIGHT,
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, name, version, code_hash, code, exports, state}",
        handler=lambda s, p: contracts.contract_code(s, p["name"], p["version"], p["height"]),
    ),
    Route(
        name="gov_proposal",
        summary="A governance proposal (status as of the next block: open ones past their "
        "expiry read expired) and the state proof of its stored encoding.",
        params=(Param("id", UInt(), "Proposal id."),),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, proposal, state}",
        handler=lambda s, p: governance.gov_proposal(s, p["id"]),
    ),
    Route(
        name="gov_proposals",
        summary="A page of governance proposals by id from start, optionally of one status "
        "(as of the next block); looks at 500 proposals at most per call.",
        params=(
            Param("status", Choice(GOV_STATUSES), "Only proposals of this status.", required=False),
            Param("start", UInt(), "First proposal id.", required=False, default=0),
            Param(
                "limit",
                UInt(minimum=1, maximum=GOV_PAGE_MAX),
                "Page size.",
                required=False,
                default=20,
            ),
        ),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, total, proposals, next}",
        handler=lambda s, p: governance.gov_proposals(s, p["status"], p["start"], p["limit"]),
    ),
    Route(
        name="gov_params",
        summary="The chain parameters in force for the next block and those scheduled later.",
        params=(),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, in_force: {effective_height, params}, scheduled}",
        handler=lambda s, p: governance.gov_params(s),
    ),
    Route(
        name="gov_validators",
        summary="The validator set certifying the next block, pending sets, observer nodes.",
        params=(),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, in_force, pending, observers}",
        handler=lambda s, p: governance.gov_validators(s),
    ),
    Route(
        name="gov_organisations",
        summary="The member organisations, their regulator flag and CA certificates.",
        params=(),
        mode=Mode.READ,
        access=Access.MEMBER,
        result="{height, organisations[{name, regulator, ca_certificate}]}",
        handler=lambda s, p: governance.gov_organisations(s),
    ),
    Route(
        name="node_status",
        summary="This node's own state, not chain data: connected peers and what its mempool "
        "holds (admin, observer and regulator members only).",
        params=(),
        mode=Mode.READ,
        access=Access.FULL,
        result="{node, version, height, peers, mempool: {count, size_bytes, ready, senders}}",
        handler=lambda s, p: s.node_status(),
    ),
    Route(
        name="rpc_discover",
        summary="This API's OpenRPC document.",
        params=(),
        mode=Mode.DISCOVER,
        access=Access.PUBLIC,
        result="OpenRPC document",
    ),
    Route(
        name="subscribe_blocks",
        summary="WebSocket: a notification per committed block (as block_get returns it).",
        params=(),
        mode=Mode.SUBSCRIPTION,
        access=Access.MEMBER,
        result="subscription id",
    ),
    Route(
        name="subscribe_receipt",
        summary="WebSocket: one notification with the transaction's receipt (as tx_receipt "
        "returns it) once committed, then the subscription ends.",
        params=(Param("tx_hash", HASH, "Transaction hash."),),
        mode=Mode.SUBSCRIPTION,
        access=Access.MEMBER,
        result="subscription id",
    ),
    Route(
        name="subscribe_events",
        summary="WebSocket: a notification per event matching the filter (contract and/or "
        "name; both omitted: every event).",
        params=(
            Param("contract", NAME, "Contract name.", required=False),
            Param("name", NAME, "Event name.", required=False),
        ),
        mode=Mode.SUBSCRIPTION,
        access=Access.MEMBER,
        result="subscription id",
    ),
    Route(
        name="unsubscribe",
        summary="WebSocket: end a subscription of this connection.",
        params=(Param("subscription", Text(length_max=64), "Subscription id."),),
        mode=Mode.SUBSCRIPTION,
        access=Access.MEMBER,
        result="true",
    ),
)

ROUTES_BY_NAME: dict[str, Route] = {route.name: route for route in ROUTES}
assert len(ROUTES_BY_NAME) == len(ROUTES), "route names must be unique"
