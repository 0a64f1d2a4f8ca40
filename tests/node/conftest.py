"""In-memory networks (no files) for the genesis tests, one per suite."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gongshi.cli.init_network import NetworkOptions, NetworkPlan, plan_network

GENESIS_TIME = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module", params=["intl", "gm"])
def network(request: pytest.FixtureRequest) -> NetworkPlan:
    return plan_network(NetworkOptions(organisations=4, suite=request.param), now=GENESIS_TIME)
