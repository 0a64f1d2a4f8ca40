"""The SDK against a node with `[api] access = "members"`: requests signed with the client's
identity (one signature per refresh period), a clear error without an identity, the
WebSocket handshake signed, and a revoked identity refused."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from gongshi.api.access import AccessMode, parse_auth_header
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.testing_governance import enact
from gongshi.cli.main import main
from gongshi.codec import ReceiptStatus
from gongshi.sdk import AsyncClient, Client, Identity, NetworkInfo, RemoteError
from gongshi.sdk.core import AUTH_REFRESH_MS


def doc(n: int) -> bytes:
    return bytes([0xC0, n]).ljust(32, b"\x02")


@pytest.fixture
def members(chain: LocalChain) -> Iterator[ServedChain]:
    server = ServedChain(chain, auto_commit_ms=30, access=AccessMode.MEMBERS).start()
    yield server
    server.stop()


def identity(chain: LocalChain, network: NetworkInfo, organisation: str = "org1") -> Identity:
    return Identity.load(chain.network_dir, organisation, "client", network=network)


def test_a_client_with_an_identity_signs_and_works_end_to_end(
    chain: LocalChain, members: ServedChain, network: NetworkInfo
) -> None:
    with Client(members.url, network, identity(chain, network)) as client:
        receipt = client.notary_register(doc(1), {"kind": "invoice"})
        assert receipt.receipt.status is ReceiptStatus.SUCCESS
        proven = client.notary_get(doc(1))
        assert proven.record is not None and proven.record.metadata == {"kind": "invoice"}
        assert client.block(receipt.block.height).block.height == receipt.block.height
        assert client.params()["in_force"]["params"]["chain_id"] == network.chain_id


def test_without_an_identity_member_reads_say_to_pass_one(
    members: ServedChain, network: NetworkInfo
) -> None:
    with Client(members.url, network) as client:
        assert client.chain_info()["chain_id"] == network.chain_id  # public
        with pytest.raises(RemoteError) as refused:
            client.block(0)
    assert refused.value.code == 1967 and refused.value.name == "AuthenticationRequired"
    assert "give the client an identity" in refused.value.message


def test_the_header_is_signed_once_per_refresh_period(
    chain: LocalChain, network: NetworkInfo
) -> None:
    with Client("http://127.0.0.1:9", network, identity(chain, network)) as client:
        first = client.core.auth_header()
        assert first is not None and client.core.auth_header() == first
        parsed = parse_auth_header(first)
        assert parsed.public_key == client.identity.public_key  # type: ignore[union-attr]
        # Signed longer ago than the refresh period: a new signature.
        client.core._auth = (parsed.timestamp_ms - AUTH_REFRESH_MS, "stale")
        again = client.core.auth_header()
        assert again is not None and again != "stale"
        assert parse_auth_header(again).timestamp_ms >= parsed.timestamp_ms
    with Client("http://127.0.0.1:9", network) as anonymous:
        assert anonymous.core.auth_header() is None


def test_a_revoked_identity_is_refused(
    chain: LocalChain, members: ServedChain, network: NetworkInfo
) -> None:
    revoked = identity(chain, network, "org3")
    with Client(members.url, network, revoked) as client:
        client.block(0)
        members.call(lambda: enact(chain, "revoke_certificate", {"public_key": revoked.public_key}))
        with pytest.raises(RemoteError) as refused:
            client.block(0)
    assert refused.value.code == 1968 and "revoked" in refused.value.message


def test_async_client_subscribes_with_a_signed_handshake(
    chain: LocalChain, members: ServedChain, network: NetworkInfo
) -> None:
    async def scenario() -> None:
        async with AsyncClient(members.url, network, identity(chain, network, "org2")) as client:
            receipt = await client.notary_register(doc(2), {})  # waits by subscription
            assert receipt.receipt.status is ReceiptStatus.SUCCESS
            blocks = client.blocks()
            waiting = asyncio.ensure_future(anext(blocks))
            for n in range(3, 10):  # until the stream (signed handshake) delivers a block
                await client.notary_register(doc(n), {})
                if waiting.done():
                    break
                await asyncio.sleep(0.1)
            block = await asyncio.wait_for(waiting, 30)
            assert block.block.height > receipt.block.height
            await blocks.aclose()
        async with AsyncClient(members.url, network) as anonymous:
            with pytest.raises(RemoteError) as refused:
                await anext(anonymous.blocks())
        assert refused.value.code == 1967
        assert "give the client an identity" in refused.value.message

    asyncio.run(scenario())


def _cli(served: ServedChain, capsys: pytest.CaptureFixture[str], *arguments: str) -> Any:
    command = [*arguments, "--network", str(served.chain.network_dir), "--url", served.url]
    try:
        main(command)
        code = 0
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_read_commands_sign_with_the_identity_options(
    members: ServedChain, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(members, capsys, "block", "get", "0")
    assert code == 0, err
    assert out.startswith("block 0 0x") and "matches this network's genesis file" in out
    code, out, err = _cli(members, capsys, "gov", "params")
    assert code == 0, err
    # An identity that is not on disk: the read goes unsigned and the node refuses it.
    code, out, err = _cli(members, capsys, "block", "get", "0", "--org", "org9")
    assert code != 0 and "[1967]" in err and "give the client an identity" in err
