"""Fixtures for SDK tests: a real chain behind a real API server, committing on its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.sdk import Client, Identity, NetworkInfo


@pytest.fixture
def chain(tmp_path: Path) -> LocalChain:
    return LocalChain.create(tmp_path, organisations=4)


@pytest.fixture
def served(chain: LocalChain) -> Iterator[ServedChain]:
    server = ServedChain(chain, auto_commit_ms=30).start()
    yield server
    server.stop()


@pytest.fixture
def network(chain: LocalChain) -> NetworkInfo:
    return NetworkInfo.load(chain.network_dir)


@pytest.fixture
def client(chain: LocalChain, served: ServedChain, network: NetworkInfo) -> Iterator[Client]:
    identity = Identity.load(chain.network_dir, "org1", "client", network=network)
    with Client(served.url, network, identity) as connected:
        yield connected
