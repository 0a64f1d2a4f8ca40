"""Peers that must be refused, and frames that must close a connection; the node survives."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import Any

import pytest

from gongshi.codec import encode_value
from gongshi.network import Envelope, MessageKind, Network, NetworkConfig, peers_from_genesis
from gongshi.network.framing import FRAME_HEADER_BYTES
from gongshi.network.messages import Hello
from gongshi.node.config_fields import TomlTable, read_section
from gongshi.pki import RevocationList, TrustStore
from gongshi.pki.errors import ConfigFieldError
from gongshi.pki.roles import Role


async def _still_serves(cluster: Any, net: Any, target: Network, index: int = 1) -> None:
    """A legitimate node can still connect to `target` and deliver a message."""
    raw = await cluster.raw(target, cluster.node(index))
    try:
        await raw.send_payload(Envelope(kind=MessageKind.STATUS, body=b"alive?").encode())
        await net.wait_until(
            lambda: any(m.body == b"alive?" for m in cluster.inboxes[0].messages), "delivery"
        )
    finally:
        await raw.close()


def test_certificate_from_an_unknown_ca_is_refused_at_the_handshake(
    cluster: Any, stranger_cluster: Any, net: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        node1 = cluster.network(0)
        # The stranger trusts our CAs too, so only our side can refuse it.
        both = TrustStore(
            suite=cluster.trust.suite,
            authorities=cluster.trust.authorities + stranger_cluster.trust.authorities,
        )
        stranger = stranger_cluster.node(0)
        try:
            await cluster.start({0: node1})
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
                await cluster.raw(node1, stranger, both)
            await net.wait_until(lambda: node1.counters().handshake_failures == 1, "refusal")
            assert not node1.connected_peers()
            await _still_serves(cluster, net, node1)
        finally:
            await cluster.stop_all()

    with caplog.at_level(logging.WARNING, logger="gongshi.network"):
        net.run(main)
    assert "handshake failed" in caplog.text and "address=" in caplog.text


@pytest.mark.parametrize(
    ("organisation", "role", "reason"),
    [("org2", Role.CLIENT, "wrong-role"), ("org1", Role.ADMIN, "wrong-role")],
)
def test_a_member_certificate_of_another_role_is_refused(
    cluster: Any,
    net: Any,
    caplog: pytest.LogCaptureFixture,
    organisation: str,
    role: Role,
    reason: str,
) -> None:
    async def main() -> None:
        node1 = cluster.network(0)
        member = cluster.member(organisation, role)
        try:
            await cluster.start({0: node1})
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
                await cluster.raw(node1, member)
            await net.wait_until(lambda: node1.counters().handshake_failures == 1, "refusal")
            await _still_serves(cluster, net, node1)
        finally:
            await cluster.stop_all()

    with caplog.at_level(logging.WARNING, logger="gongshi.network"):
        net.run(main)
    assert f"reason={reason}" in caplog.text


def test_a_network_with_a_client_certificate_cannot_join(cluster: Any, net: Any) -> None:
    """The same refusal, with the impostor running the real transport and dialling."""

    async def main() -> None:
        node1 = cluster.network(0)
        impostor = cluster.network(1, member=cluster.member("org2", Role.CLIENT))
        try:
            await cluster.start({0: node1})
            await impostor.start()
            cluster.running.append(impostor)
            # impostor lists only node1, with an address: it is unreachable, so it dials
            impostor.set_allowed_peers([cluster.peer(0, node1.listen_address)])
            await net.wait_until(
                lambda: (
                    node1.counters().handshake_failures >= 2
                    and impostor.counters().handshake_failures >= 2
                ),
                "repeated refusals",
            )
            assert not node1.connected_peers() and not impostor.connected_peers()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_revoked_certificate_is_refused_and_live_connection_closed(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {0: cluster.network(0), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].connected_peers(), "connected")
            serial = cluster.node(1).serial
            networks[0].set_revocations(RevocationList(serials=frozenset({("org2", serial)})))
            await net.wait_until(lambda: not networks[1].connected_peers(), "revoked peer cut")
            failures = networks[0].counters().handshake_failures
            # whichever side dials, node1 refuses the new attempts
            await net.wait_until(
                lambda: networks[0].counters().handshake_failures >= failures + 2, "refusals"
            )
            assert not networks[0].connected_peers()
            networks[0].set_revocations(RevocationList())
            await net.wait_until(lambda: networks[0].connected_peers(), "reinstated")
        finally:
            await cluster.stop_all()

    net.run(main)


def test_revoked_at_start_never_connects(cluster: Any, net: Any) -> None:
    async def main() -> None:
        revoked = RevocationList(key_hashes=frozenset({cluster.trust.suite.hash(cluster.key(1))}))
        networks = {0: cluster.network(0, revocations=revoked), 1: cluster.network(1)}
        try:
            await cluster.start(networks)
            await net.wait_until(lambda: networks[0].counters().handshake_failures >= 2, "refusals")
            assert not networks[0].connected_peers() and not networks[1].connected_peers()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_a_node_outside_the_allowed_set_is_refused(cluster: Any, net: Any) -> None:
    async def main() -> None:
        node1 = cluster.network(0)
        try:
            await cluster.start({0: node1})
            node1.set_allowed_peers([cluster.peer(0, node1.listen_address), cluster.peer(1, None)])
            with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
                await cluster.raw(node1, cluster.node(2))
            assert node1.counters().handshake_failures == 1
            await _still_serves(cluster, net, node1, index=1)
        finally:
            await cluster.stop_all()

    net.run(main)


def test_a_peer_of_another_genesis_is_refused(cluster: Any, net: Any) -> None:
    async def main() -> None:
        networks = {
            0: cluster.network(0, genesis_hash=bytes(32)),
            1: cluster.network(1, genesis_hash=bytes([1]) * 32),
        }
        try:
            await cluster.start(networks)
            await net.wait_until(
                lambda: (
                    networks[0].counters().handshake_failures >= 1
                    and networks[1].counters().handshake_failures >= 1
                ),
                "mismatch refused",
            )
            assert not networks[0].connected_peers()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_a_silent_socket_times_out_in_the_handshake(cluster: Any, net: Any) -> None:
    async def main() -> None:
        node1 = cluster.network(0, handshake_timeout_ms=100)
        try:
            await cluster.start({0: node1})
            address = node1.listen_address
            reader, writer = await asyncio.open_connection(address.host, address.port)
            try:
                assert await reader.read() == b""  # closed by node1 after the timeout
            finally:
                writer.transport.abort()
            assert node1.counters().handshake_failures == 1
            await _still_serves(cluster, net, node1)
        finally:
            await cluster.stop_all()

    net.run(main)


BAD_PAYLOADS = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xff\xfe\xfd", id="not-cbor"),
    pytest.param(encode_value({"kind": 99, "body": b"x"}), id="unknown-kind"),
    pytest.param(encode_value({"body": b"x", "kind": 2}) + b"\x00", id="trailing-bytes"),
    pytest.param(Hello(protocol_version=1, genesis_hash=b"").encode(), id="hello-again"),
]


@pytest.mark.parametrize("payload", BAD_PAYLOADS)
def test_a_malformed_frame_closes_the_connection(
    cluster: Any, net: Any, caplog: pytest.LogCaptureFixture, payload: bytes
) -> None:
    async def main() -> None:
        node1 = cluster.network(0)
        try:
            await cluster.start({0: node1})
            raw = await cluster.raw(node1, cluster.node(1))
            try:
                await raw.send_payload(Envelope(kind=MessageKind.STATUS, body=b"ok").encode())
                await raw.send_payload(payload)
                assert await raw.closed_by_peer()
            finally:
                await raw.close()
            assert node1.counters().malformed_frames == 1
            assert [m.body for m in cluster.inboxes[0].messages] == [b"ok"]
            await _still_serves(cluster, net, node1, index=2)
        finally:
            await cluster.stop_all()

    with caplog.at_level(logging.WARNING, logger="gongshi.network"):
        net.run(main)
    assert "malformed frame" in caplog.text and "peer=node2/" in caplog.text


def test_an_oversized_frame_closes_the_connection_before_it_is_read(
    cluster: Any, net: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        node1 = cluster.network(0, frame_bytes_max=4096)
        try:
            await cluster.start({0: node1})
            raw = await cluster.raw(node1, cluster.node(1))
            try:
                # announces 4 GiB - 1 and sends a little of it: refused on the header alone
                await raw.send_raw((2**32 - 1).to_bytes(FRAME_HEADER_BYTES, "big") + bytes(10))
                assert await raw.closed_by_peer()
            finally:
                await raw.close()
            counters = node1.counters()
            assert (counters.oversized_frames, counters.malformed_frames) == (1, 0)
            await _still_serves(cluster, net, node1, index=2)
        finally:
            await cluster.stop_all()

    with caplog.at_level(logging.WARNING, logger="gongshi.network"):
        net.run(main)
    assert "oversized frame" in caplog.text


def test_peers_beyond_the_limit_are_refused(cluster: Any, net: Any) -> None:
    async def main() -> None:
        node1 = cluster.network(0, peers_max=1)
        try:
            await cluster.start({0: node1})
            first = await cluster.raw(node1, cluster.node(1))
            try:
                with pytest.raises((ConnectionError, asyncio.IncompleteReadError, OSError)):
                    await cluster.raw(node1, cluster.node(2))
                assert node1.counters().refused == 1
                assert node1.connected_peers() == (cluster.key(1),)
            finally:
                await first.close()
        finally:
            await cluster.stop_all()

    net.run(main)


def test_network_options_read_from_toml_and_relations_are_checked(cluster: Any) -> None:
    config = read_section(
        NetworkConfig,
        TomlTable({"listen_address": "10.0.0.1:9000", "frame_bytes_max": 2048}, "network"),
    )
    assert (str(config.listen_address), config.frame_bytes_max) == ("10.0.0.1:9000", 2048)
    with pytest.raises(ConfigFieldError, match=r"network\.frame_bytes_max"):
        read_section(NetworkConfig, TomlTable({"frame_bytes_max": 10}, "network"))
    config = cluster.config(0)
    with pytest.raises(ConfigFieldError, match="reconnect_delay_max_ms"):
        dataclasses.replace(config, reconnect_delay_max_ms=1, reconnect_delay_min_ms=10)
    with pytest.raises(ConfigFieldError, match="reliable_queue_bytes_max"):
        dataclasses.replace(config, reliable_queue_bytes_max=1024)
    with pytest.raises(ConfigFieldError, match="genesis_hash"):
        dataclasses.replace(config, genesis_hash=bytes(65))


def test_the_allowed_set_from_genesis_lists_every_validator_by_key(cluster: Any) -> None:
    peers = peers_from_genesis(cluster.genesis)
    assert [p.public_key for p in peers] == [v.public_key for v in cluster.genesis.validators]
    assert [p.address for p in peers] == [v.p2p_address for v in cluster.genesis.validators]
    assert cluster.node(2).public_key == peers[2].public_key  # LocalIdentity.load agrees
