"""Access levels are published: every route's level is in the OpenRPC document
(`x-gongshi-access`, served publicly by a members-only server) and in docs/api.md's method
tables; `/metrics` on the API address is withheld with access = members."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from gongshi.api.access import Access, AccessMode, ledger_authenticator
from gongshi.api.hub import CommitHub
from gongshi.api.limits import ApiLimits
from gongshi.api.openrpc import (
    ACCESS_FIELD,
    REDACTED,
    REDACTED_FIELD,
    openrpc_document,
)
from gongshi.api.routes import ROUTES, ROUTES_BY_NAME
from gongshi.api.server import ApiServer
from gongshi.api.service import ChainService
from gongshi.api.testing import LocalChain, ServedChain

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"
LEVELS = {access.value for access in Access}
# A row of a method table: | `name` | access | params | result |
ROW = re.compile(r"^\| `(?P<name>[a-z_]+)` \| (?P<access>[a-z]+) \| ", re.MULTILINE)


def test_every_method_publishes_its_routes_access_level() -> None:
    methods = {method["name"]: method for method in openrpc_document()["methods"]}
    assert set(methods) == {route.name for route in ROUTES}
    for route in ROUTES:
        assert methods[route.name][ACCESS_FIELD] == route.access.value, route.name
    published = {method[ACCESS_FIELD] for method in methods.values()}
    assert published == LEVELS  # every level is used, and no other value appears


def test_redacting_routes_say_what_they_withhold() -> None:
    document = openrpc_document()
    redacted = {m["name"]: m[REDACTED_FIELD] for m in document["methods"] if REDACTED_FIELD in m}
    assert set(redacted) == {route.name for route in ROUTES if route.redact is not None}
    assert "tx_get" in redacted
    for name, text in redacted.items():
        assert text == REDACTED[name], name  # a specific description, not the fallback
    assert ACCESS_FIELD in document["info"]["description"]


def test_docs_method_tables_give_every_routes_level() -> None:
    rows = {m["name"]: m["access"] for m in ROW.finditer(DOCS.read_text(encoding="utf-8"))}
    documented = {name: rows.get(name) for name in ROUTES_BY_NAME}
    expected = {route.name: route.access.value for route in ROUTES}
    assert documented == expected


@pytest.fixture
def members(chain: LocalChain) -> Iterator[ServedChain]:
    server = ServedChain(chain, access=AccessMode.MEMBERS).start()
    yield server
    server.stop()


def test_a_members_server_publishes_the_levels_unsigned(members: ServedChain) -> None:
    with httpx.Client(base_url=members.url, timeout=30) as http:
        served = http.get("/openrpc.json")
        assert served.status_code == 200
        discovered = http.post("/", json={"jsonrpc": "2.0", "id": 1, "method": "rpc_discover"})
        assert discovered.status_code == 200
    for document in (served.json(), discovered.json()["result"]):
        levels = {method["name"]: method[ACCESS_FIELD] for method in document["methods"]}
        assert levels == {route.name: route.access.value for route in ROUTES}


async def _metrics_app(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("gongshi_height 7.0\n")(scope, receive, send)


@pytest.mark.parametrize("access", list(AccessMode))
def test_metrics_on_the_api_address_only_with_open_access(
    chain: LocalChain, access: AccessMode
) -> None:
    service = ChainService(ledger=chain.ledger, pool=chain.pool, context=chain.context("node1"))
    authenticator = None
    if access is AccessMode.MEMBERS:
        authenticator = ledger_authenticator(
            chain.ledger,
            chain.suite,
            chain_id=chain.genesis.params.chain_id,
            genesis_hash=chain.plan.genesis_hash,
        )
    limits = ApiLimits()
    server = ApiServer(
        service,
        CommitHub(service, limits),
        port=0,
        limits=limits,
        metrics_app=_metrics_app,
        authenticator=authenticator,
    )

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            return await http.get("/metrics/")

    answer = asyncio.run(scrape())
    if access is AccessMode.OPEN:
        assert (answer.status_code, answer.text) == (200, "gongshi_height 7.0\n")
    else:
        assert answer.status_code == 404
        assert "gongshi_height" not in answer.text and "[metrics] address" in answer.text
