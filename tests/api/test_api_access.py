"""Role-based API access (`[api] access = "members"`): signed requests, members resolved from
chain state, route levels, the auth cache against revocation, and WebSocket handshakes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gongshi.api.access import (
    AUTH_HEADER,
    AUTH_WINDOW_MS,
    Access,
    AccessMode,
    Authenticator,
    Principal,
    auth_header,
    authorize,
    parse_auth_header,
)
from gongshi.api.errors import AccessDenied, AuthenticationFailed, AuthenticationRequired
from gongshi.api.routes import ROUTES, ROUTES_BY_NAME
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.testing_governance import enact
from gongshi.cli.init_network import NetworkOptions, plan_network
from gongshi.codec import Transaction, encode
from gongshi.crypto import PrivateKey, get_suite
from gongshi.execution.identity_records import MemberIdentity
from gongshi.pki.errors import InvalidInitOption
from gongshi.pki.roles import Role


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def member_key(chain: LocalChain, organisation: str, role: str) -> PrivateKey:
    return chain.suite.load_private_key(
        chain.network_dir / "orgs" / organisation / role / f"{role}.key"
    )


def sign(
    chain: LocalChain,
    key: PrivateKey,
    *,
    timestamp_ms: int | None = None,
    chain_id: str | None = None,
) -> dict[str, str]:
    header = auth_header(
        key,
        chain_id=chain_id or chain.genesis.params.chain_id,
        genesis_hash=chain.plan.genesis_hash,
        timestamp_ms=now_ms() if timestamp_ms is None else timestamp_ms,
    )
    return {AUTH_HEADER: header}


@pytest.fixture
def members(chain: LocalChain) -> Iterator[ServedChain]:
    server = ServedChain(chain, access=AccessMode.MEMBERS).start()
    yield server
    server.stop()


@pytest.fixture
def http(members: ServedChain) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=members.url, timeout=30) as client:
        yield client


def post(http: httpx.Client, method: str, params: Any = None, **headers: str) -> httpx.Response:
    document: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        document["params"] = params
    return http.post("/", json=document, headers=headers)


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return error["data"]["code"], error["data"]["name"], error["message"]


def client_headers(chain: LocalChain, organisation: str = "org1") -> dict[str, str]:
    return sign(chain, member_key(chain, organisation, "client"))


# --- route levels ------------------------------------------------------------------------------


def test_every_route_declares_an_access_level_and_the_public_ones_are_few() -> None:
    assert all(isinstance(route.access, Access) for route in ROUTES)
    public = {route.name for route in ROUTES if route.access is Access.PUBLIC}
    assert public == {"chain_info", "rpc_discover"}
    assert ROUTES_BY_NAME["tx_send"].access is Access.SUBMIT
    assert ROUTES_BY_NAME["node_status"].access is Access.FULL


def _principal(role: Role) -> Principal:
    return Principal(public_key=b"k", address=b"a" * 20, organisation="org1", role=role)


@pytest.mark.parametrize("role", list(Role))
def test_authorize_by_role(role: Role) -> None:
    principal = _principal(role)
    for access in (Access.PUBLIC, Access.SUBMIT, Access.MEMBER):
        authorize(access, principal, "m")
    if role in (Role.ADMIN, Role.REGULATOR, Role.OBSERVER):
        authorize(Access.FULL, principal, "m")
    else:
        with pytest.raises(AccessDenied, match=f"role {role.value} may not call m"):
            authorize(Access.FULL, principal, "m")
    with pytest.raises(AuthenticationRequired):
        authorize(Access.MEMBER, None, "m")
    authorize(Access.SUBMIT, None, "m")


# --- the header and the authenticator (no server) ----------------------------------------------


@given(st.text(max_size=300))
def test_parse_auth_header_refuses_anything_malformed_with_its_own_error(text: str) -> None:
    try:
        parsed = parse_auth_header(text)
    except AuthenticationFailed:
        return
    assert parsed.public_key and parsed.signature and parsed.timestamp_ms >= 0


class Members:
    """A MemberSource over a dict, counting state reads; the head is settable."""

    def __init__(self) -> None:
        self.members: dict[bytes, MemberIdentity] = {}
        self.height = 5
        self.reads = 0

    def head(self) -> tuple[int, int]:
        return self.height, 1_000

    def resolve(self, public_key: bytes, height: int) -> MemberIdentity | None:
        self.reads += 1
        return self.members.get(public_key)


class CountingSuite:
    """The intl suite, counting signature verifications."""

    def __init__(self) -> None:
        self.inner = get_suite("intl")
        self.verifications = 0

    def verify(self, public_key: bytes, message: bytes, signature: bytes) -> bool:
        self.verifications += 1
        return self.inner.verify(public_key, message, signature)


def _authenticator(clock: list[int]) -> tuple[Authenticator, Members, CountingSuite, PrivateKey]:
    suite, source = CountingSuite(), Members()
    key = suite.inner.generate_private_key()
    source.members[key.public_key_bytes()] = MemberIdentity(
        organisation="org1",
        role=Role.CLIENT,
        public_key=key.public_key_bytes(),
        address=key.address(),
        serial=1,
        not_before_ms=0,
        not_after_ms=10_000,
        registered_height=0,
    )
    authenticator = Authenticator(
        suite=suite,  # type: ignore[arg-type]
        chain_id="c",
        genesis_hash=b"g" * 32,
        members=source,
        clock_ms=lambda: clock[0],
    )
    return authenticator, source, suite, key


def test_one_signature_check_per_header_and_one_state_read_per_height() -> None:
    clock = [10_000_000]
    authenticator, source, suite, key = _authenticator(clock)
    header = auth_header(key, chain_id="c", genesis_hash=b"g" * 32, timestamp_ms=clock[0])
    assert authenticator.cached(header) is None
    for _ in range(5):
        assert authenticator.authenticate(header).role is Role.CLIENT
    assert (suite.verifications, source.reads) == (1, 1)
    assert authenticator.cached(header) is not None
    source.height += 1  # a new block: standing is read again, the signature is not
    assert authenticator.cached(header) is None
    authenticator.authenticate(header)
    assert (suite.verifications, source.reads) == (1, 2)
    # The window passes: even a cached header is expired.
    clock[0] += AUTH_WINDOW_MS + 1
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticator.cached(header)
    with pytest.raises(AuthenticationFailed, match="expired"):
        authenticator.authenticate(header)


def test_headers_for_another_chain_or_genesis_or_from_the_future_fail() -> None:
    clock = [10_000_000]
    authenticator, _, _, key = _authenticator(clock)
    for chain_id, genesis in (("other", b"g" * 32), ("c", b"h" * 32)):
        header = auth_header(key, chain_id=chain_id, genesis_hash=genesis, timestamp_ms=clock[0])
        with pytest.raises(AuthenticationFailed, match="bad signature"):
            authenticator.authenticate(header)
    future = auth_header(
        key, chain_id="c", genesis_hash=b"g" * 32, timestamp_ms=clock[0] + AUTH_WINDOW_MS + 1
    )
    with pytest.raises(AuthenticationFailed, match="ahead of the node's clock"):
        authenticator.authenticate(future)
    with pytest.raises(AuthenticationRequired):
        authenticator.authenticate(None)


def test_a_certificate_outside_its_validity_at_the_head_time_fails() -> None:
    clock = [10_000_000]
    authenticator, source, _, key = _authenticator(clock)
    member = source.members[key.public_key_bytes()]
    source.members[key.public_key_bytes()] = dataclasses.replace(member, not_after_ms=999)
    header = auth_header(key, chain_id="c", genesis_hash=b"g" * 32, timestamp_ms=clock[0])
    with pytest.raises(AuthenticationFailed, match="certificate not valid"):
        authenticator.authenticate(header)


# --- over HTTP -----------------------------------------------------------------------------------


def test_without_a_header_public_methods_work_and_member_reads_are_401(
    chain: LocalChain, http: httpx.Client
) -> None:
    info = post(http, "chain_info")
    assert info.status_code == 200 and info.json()["result"]["chain_id"]
    assert post(http, "rpc_discover").status_code == 200
    assert http.get("/openrpc.json").status_code == 200
    for method, params in (("block_get", [0]), ("gov_params", None), ("node_status", None)):
        refused = post(http, method, params)
        assert refused.status_code == 401, method
        assert refused.headers["www-authenticate"].startswith(AUTH_HEADER)
        code, name, message = error_of(refused)
        assert (code, name) == (1967, "AuthenticationRequired")
        assert method in message


def test_a_client_reads_what_the_chain_publishes(chain: LocalChain, http: httpx.Client) -> None:
    headers = client_headers(chain)
    for method, params in (
        ("block_get", [0]),
        ("chain_epochs", None),
        ("state_get", ["identity", "0x4f"]),
        ("gov_organisations", None),
        ("account_nonce", ["0x" + "00" * 20]),
    ):
        answer = post(http, method, params, **headers)
        assert answer.status_code == 200, method
        assert "result" in answer.json(), answer.json()


@pytest.mark.parametrize("case", ["forged", "wrong_chain", "expired", "unknown", "malformed"])
def test_bad_headers_are_401_with_the_reason(
    chain: LocalChain, http: httpx.Client, case: str
) -> None:
    client = member_key(chain, "org1", "client")
    if case == "forged":  # another key's signature over the client's claim
        other = chain.suite.generate_private_key()
        _, stamp, signature = sign(chain, other)[AUTH_HEADER].split(".")
        headers = {AUTH_HEADER: f"{client.public_key_bytes().hex()}.{stamp}.{signature}"}
        reason = "bad signature"
    elif case == "wrong_chain":
        headers, reason = sign(chain, client, chain_id="another-chain"), "bad signature"
    elif case == "expired":
        stale = now_ms() - AUTH_WINDOW_MS - 60_000
        headers, reason = sign(chain, client, timestamp_ms=stale), "expired"
    elif case == "unknown":
        headers, reason = sign(chain, chain.suite.generate_private_key()), "unknown member"
    else:
        headers, reason = {AUTH_HEADER: "not-a-header"}, "malformed"
    refused = post(http, "block_get", [0], **headers)
    assert refused.status_code == 401
    code, name, message = error_of(refused)
    assert (code, name) == (1968, "AuthenticationFailed")
    assert reason in message


def test_full_reads_are_for_regulator_and_admin_not_client(
    chain: LocalChain, http: httpx.Client
) -> None:
    denied = post(http, "node_status", None, **client_headers(chain))
    assert denied.status_code == 403
    code, name, message = error_of(denied)
    assert (code, name) == (1969, "AccessDenied")
    assert "role client" in message and "node_status" in message
    for role in ("regulator", "admin"):
        allowed = post(http, "node_status", None, **sign(chain, member_key(chain, "org1", role)))
        assert allowed.status_code == 200, role
        assert allowed.json()["result"]["mempool"]["count"] == 0


def _notary_tx(chain: LocalChain, key: PrivateKey, doc: bytes) -> Transaction:
    return Transaction(
        chain_id=chain.genesis.params.chain_id,
        nonce=0,
        sender=key.public_key_bytes(),
        target="notary",
        method="register",
        args={"doc_hash": doc.ljust(32, b"\0"), "metadata": {}},
        gas_limit=1_000_000,
        expiry_height=1000,
    ).sign(key)


def test_submit_needs_no_header_and_pending_content_is_not_published(
    chain: LocalChain, http: httpx.Client
) -> None:
    sender = member_key(chain, "org2", "client")
    sent = post(http, "tx_send", ["0x" + encode(_notary_tx(chain, sender, b"p")).hex()])
    assert sent.status_code == 200, sent.json()
    tx_hash = sent.json()["result"]["tx_hash"]
    other_client = post(http, "tx_get", [tx_hash], **client_headers(chain, "org1"))
    assert other_client.json()["result"] == {"status": "pending", "tx_hash": tx_hash}
    for headers in (
        client_headers(chain, "org2"),  # its sender
        sign(chain, member_key(chain, "org1", "regulator")),
    ):
        full = post(http, "tx_get", [tx_hash], **headers).json()["result"]
        assert full["status"] == "pending" and full["transaction"]["method"] == "register"


def test_a_batch_answers_each_call_by_its_level(chain: LocalChain, http: httpx.Client) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "chain_info"},
        {"jsonrpc": "2.0", "id": 2, "method": "block_get", "params": [0]},
    ]
    answer = http.post("/", json=batch)
    assert answer.status_code == 200
    first, second = answer.json()
    assert "result" in first and second["error"]["data"]["code"] == 1967


def test_the_auth_cache_does_not_outlive_a_revocation(
    chain: LocalChain, members: ServedChain, http: httpx.Client
) -> None:
    key = member_key(chain, "org2", "client")
    headers = sign(chain, key)
    assert post(http, "block_get", [0], **headers).status_code == 200
    assert post(http, "block_get", [0], **headers).status_code == 200  # cached
    members.call(lambda: enact(chain, "revoke_certificate", {"public_key": key.public_key_bytes()}))
    refused = post(http, "block_get", [0], **headers)  # the same, cached, header
    assert refused.status_code == 401
    code, _, message = error_of(refused)
    assert code == 1968 and "revoked" in message
    assert post(http, "block_get", [0], **client_headers(chain, "org3")).status_code == 200


def test_open_access_needs_no_header(chain: LocalChain) -> None:
    server = ServedChain(chain).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert post(http, "node_status").status_code == 200
            assert post(http, "block_get", [0]).status_code == 200
    finally:
        server.stop()


# --- WebSocket -----------------------------------------------------------------------------------


def test_websocket_handshake_needs_a_member(chain: LocalChain, members: ServedChain) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(members.ws_url):
                pass
        assert refused.value.response.status_code == 401
        body = json.loads(refused.value.response.body)
        assert body["error"]["data"]["code"] == 1967
        forged = {AUTH_HEADER: "00" * 32 + "." + str(now_ms()) + "." + "00" * 64}
        with pytest.raises(InvalidStatus) as failed:
            async with connect(members.ws_url, additional_headers=forged):
                pass
        assert json.loads(failed.value.response.body)["error"]["data"]["code"] == 1968

    asyncio.run(scenario())


def test_a_websocket_member_is_cut_off_when_revoked(
    chain: LocalChain, members: ServedChain
) -> None:
    key = member_key(chain, "org2", "client")

    async def subscribe_then_read(socket: websockets.asyncio.client.ClientConnection) -> Any:
        await socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe_blocks"}))
        return json.loads(await socket.recv())

    async def scenario() -> None:
        async with connect(members.ws_url, additional_headers=sign(chain, key)) as socket:
            assert "result" in await subscribe_then_read(socket)
            await asyncio.to_thread(members.commit)
            block = json.loads(await socket.recv())
            assert block["method"] == "subscription"
            await asyncio.to_thread(
                members.call,
                lambda: enact(chain, "revoke_certificate", {"public_key": key.public_key_bytes()}),
            )
            await asyncio.to_thread(members.commit)  # publishes: the revoked member is dropped
            messages = []
            with pytest.raises(ConnectionClosed):
                for _ in range(20):
                    messages.append(json.loads(await asyncio.wait_for(socket.recv(), 30)))
            errors = [m for m in messages if "error" in m]
            assert errors and errors[-1]["error"]["data"]["code"] == 1968
            assert "revoked" in errors[-1]["error"]["message"]

    asyncio.run(scenario())


def test_a_websocket_members_certificate_expiry_triggers_a_standing_check(
    chain: LocalChain, members: ServedChain
) -> None:
    """A certificate lapses by block time alone, with no identity or governance transaction:
    the first block past a connected member's certificate makes the server re-check them."""
    server = members.server
    block, _ = chain.commit_pending()
    server._standing_may_change(block)  # the first publish always re-checks
    later, _ = chain.commit_pending()
    subscriber = object()
    expiring = dataclasses.replace(_principal(Role.CLIENT), not_after_ms=later.header.timestamp_ms)
    server._members[subscriber] = expiring  # type: ignore[index]
    try:
        assert server._standing_may_change(later)
        lasting = dataclasses.replace(expiring, not_after_ms=later.header.timestamp_ms + 10**9)
        server._members[subscriber] = lasting  # type: ignore[index]
        after, _ = chain.commit_pending()
        assert not server._standing_may_change(after)
    finally:
        server._members.clear()


# --- configuration -------------------------------------------------------------------------------


def test_init_writes_members_by_default_and_open_on_request() -> None:
    from datetime import UTC, datetime

    now = datetime(2030, 1, 1, tzinfo=UTC)
    for access in ("members", "open"):
        plan = plan_network(
            NetworkOptions(organisations=1, suite="intl", api_access=access), now=now
        )
        config = next(f for f in plan.files if f.path.name == "config.toml").content.decode()
        assert f'access = "{access}"' in config
    default = plan_network(NetworkOptions(organisations=1, suite="intl"), now=now)
    assert b'access = "members"' in next(
        f.content for f in default.files if f.path.name == "config.toml"
    )
    with pytest.raises(InvalidInitOption):
        plan_network(NetworkOptions(organisations=1, suite="intl", api_access="nobody"), now=now)
