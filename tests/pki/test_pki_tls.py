"""Mutual TLS with the node certificates `gongshi init` writes, through Python's `ssl`
(the system OpenSSL), over a loopback socketpair, for both suites."""

from __future__ import annotations

import socket
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gongshi.cli.init_network import NetworkOptions, create_network
from gongshi.node.config import NodeConfig, load_node_config
from gongshi.node.genesis import load_genesis
from gongshi.pki import (
    Identity,
    Role,
    TrustStore,
    datetime_to_ms,
    mutual_tls_context,
    peer_identity,
)
from gongshi.pki.errors import WrongRole

HANDSHAKE_TIMEOUT_S = 10
# OpenSSL checks validity periods against the real clock, so these certificates start now.
NOW = datetime.now(UTC)
NOW_MS = datetime_to_ms(NOW)


def _network(root: Path, suite: str, organisations: int = 2) -> tuple[TrustStore, list[NodeConfig]]:
    create_network(NetworkOptions(organisations=organisations, suite=suite), root, now=NOW)
    trust = load_genesis(root / "genesis.toml").trust_store()
    configs = [
        load_node_config(root / "nodes" / f"node{i + 1}" / "config.toml")
        for i in range(organisations)
    ]
    return trust, configs


def _context(config: NodeConfig, trust: TrustStore, *, server_side: bool) -> ssl.SSLContext:
    return mutual_tls_context(
        server_side=server_side,
        certificate_file=config.identity.certificate_file,
        key_file=config.tls_key_file,
        trust=trust,
    )


def _handshake(
    server: ssl.SSLContext,
    client: ssl.SSLContext,
    trust: TrustStore,
    *,
    server_hostname: str | None = None,
) -> tuple[Identity | BaseException, Identity | BaseException]:
    """(identity the server sees, identity the client sees), or the exception of each side."""
    server_socket, client_socket = socket.socketpair()
    server_socket.settimeout(HANDSHAKE_TIMEOUT_S)
    client_socket.settimeout(HANDSHAKE_TIMEOUT_S)
    outcome: dict[str, Identity | BaseException] = {}

    def serve() -> None:
        try:
            with server.wrap_socket(server_socket, server_side=True) as connection:
                outcome["server"] = peer_identity(connection, trust=trust, now_ms=NOW_MS)
                connection.sendall(b"ok")
        except (ssl.SSLError, OSError, WrongRole) as error:
            outcome["server"] = error

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(client_socket, server_hostname=server_hostname) as connection:
            outcome["client"] = peer_identity(connection, trust=trust, now_ms=NOW_MS)
            connection.recv(
                2
            )  # the server's verdict on our certificate arrives after the handshake
    except (ssl.SSLError, OSError) as error:
        outcome["client"] = error
    finally:
        thread.join(HANDSHAKE_TIMEOUT_S)
    return outcome["server"], outcome["client"]


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_nodes_authenticate_each_other(tmp_path: Path, suite: str) -> None:
    trust, (node1, node2) = _network(tmp_path, suite)
    seen_by_server, seen_by_client = _handshake(
        _context(node1, trust, server_side=True), _context(node2, trust, server_side=False), trust
    )
    assert isinstance(seen_by_server, Identity) and isinstance(seen_by_client, Identity)
    assert (seen_by_server.organisation, seen_by_server.role) == ("org2", Role.NODE)
    assert (seen_by_client.organisation, seen_by_client.role) == ("org1", Role.NODE)
    genesis = load_genesis(node1.node.genesis_file)
    assert seen_by_client.public_key == genesis.validators[0].public_key
    assert seen_by_server.public_key == genesis.validators[1].public_key


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_host_name_check_passes_with_the_node_name(tmp_path: Path, suite: str) -> None:
    trust, (node1, node2) = _network(tmp_path, suite)
    client = mutual_tls_context(
        server_side=False,
        certificate_file=node2.identity.certificate_file,
        key_file=node2.tls_key_file,
        trust=trust,
        check_hostname=True,
    )
    server = _context(node1, trust, server_side=True)
    _, seen_by_client = _handshake(server, client, trust, server_hostname="node1")
    assert isinstance(seen_by_client, Identity) and seen_by_client.common_name == "node1"
    _, refused = _handshake(server, client, trust, server_hostname="node2")
    assert isinstance(refused, ssl.SSLCertVerificationError)


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_client_role_certificate_is_refused_after_the_handshake(tmp_path: Path, suite: str) -> None:
    trust, (node1, _) = _network(tmp_path, suite)
    client_dir = tmp_path / "orgs" / "org2" / "client"
    tls_key = client_dir / ("client-tls.key" if suite == "gm" else "client.key")
    client = mutual_tls_context(
        server_side=False, certificate_file=client_dir / "client.crt", key_file=tls_key, trust=trust
    )
    seen_by_server, _ = _handshake(_context(node1, trust, server_side=True), client, trust)
    assert isinstance(seen_by_server, WrongRole)


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_certificate_of_another_network_fails_the_handshake(tmp_path: Path, suite: str) -> None:
    trust, (node1, _) = _network(tmp_path / "ours", suite)
    other_trust, (_, stranger) = _network(tmp_path / "theirs", suite)
    seen_by_server, seen_by_client = _handshake(
        _context(node1, trust, server_side=True),
        _context(stranger, other_trust, server_side=False),
        trust,
    )
    assert isinstance(seen_by_server, ssl.SSLError)
    assert isinstance(seen_by_client, ssl.SSLError | OSError)
