"""Epochs in the API: `chain_epochs` evidence (and what pruning does to it), `chain_info`'s
validator set, epoch and parameters from state, and `tx_send` under the parameters in force.

The chains here change validator sets through governance executed by `LocalChain`
(`gongshi.api.testing_governance`): add node5 (epoch 1), remove node4 (epoch 2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.testing_governance import candidate_node, enact
from gongshi.api.wire import from_hex, to_hex
from gongshi.codec import BlockHeader, Transaction, decode, decode_value, encode
from gongshi.crypto import PrivateKey

from .conftest import Rpc  # type: ignore[import-not-found]


def epoch_of(chain: LocalChain, height: int) -> int:
    return chain.ledger.get_header(height).config_version


def first_height_of(chain: LocalChain, epoch: int) -> int:
    return next(h for h in range(chain.height + 1) if epoch_of(chain, h) == epoch)


def change_sets(chain: LocalChain, served: ServedChain, *, gap: int = 0) -> None:
    """Epoch 1 adds node5 (from the block after approval); epoch 2 removes node4, taking
    force `gap` blocks after the earliest height allowed."""
    _, payload = candidate_node(chain, "node5")
    served.call(lambda: enact(chain, "add_node", payload))
    served.commit()
    node4 = chain.genesis.validators[3].public_key

    def remove() -> int:
        activation = chain.height + 4 + gap  # propose + 2 votes, then the gap
        return enact(chain, "remove_node", {"public_key": node4}, activation_height=activation)

    served.call(remove)
    while epoch_of(chain, chain.height) < 2:
        served.commit()


def test_chain_epochs_without_changes(served: ServedChain, rpc: Rpc) -> None:
    served.commit()
    answer = rpc("chain_epochs")
    assert answer == {"height": 1, "epoch": 0, "epochs": [], "next": None}


def test_chain_epochs_serves_each_change(chain: LocalChain, served: ServedChain, rpc: Rpc) -> None:
    change_sets(chain, served, gap=2)
    answer = rpc("chain_epochs", {"from_epoch": 1})
    assert answer["epoch"] == 2 and answer["height"] == chain.height and answer["next"] is None
    names = [[v["name"] for v in item["validators"]] for item in answer["epochs"]]
    assert names == [
        ["node1", "node2", "node3", "node4", "node5"],
        ["node1", "node2", "node3", "node5"],
    ]
    for epoch, item in enumerate(answer["epochs"], start=1):
        activation = item["activation_height"]
        assert item["epoch"] == epoch and activation == first_height_of(chain, epoch)
        state = item["state"]
        # The proof is read at the announcing block, a block of the epoch before.
        assert state["height"] == item["announce_height"] < activation
        assert (state["namespace"], state["key"]) == ("governance", "0x56")
        header = decode(BlockHeader, from_hex(state["anchor"]["header_raw"], what="header"))
        assert header.config_version == epoch - 1 and header.height == state["height"]
        schedule = decode_value(from_hex(state["value"], what="value"))
        assert isinstance(schedule, tuple)
        assert any(entry["activation_height"] == activation for entry in schedule)  # type: ignore[index]
    # The second change was asked for 2 blocks after the earliest height.
    second = answer["epochs"][1]
    assert second["activation_height"] - second["announce_height"] > 1
    assert rpc("chain_epochs", [2])["epochs"] == answer["epochs"][1:]
    first_page = rpc("chain_epochs", {"from_epoch": 1, "limit": 1})
    assert first_page["epochs"] == answer["epochs"][:1] and first_page["next"] == 2
    assert rpc("chain_epochs", {"from_epoch": 3}) == {
        "height": chain.height,
        "epoch": 2,
        "epochs": [],
        "next": None,
    }


@pytest.mark.parametrize("params", [{"from_epoch": 0}, {"limit": 0}, {"limit": 17}, ["x"]])
def test_chain_epochs_checks_its_parameters(served: ServedChain, rpc_raw: Any, params: Any) -> None:
    answer = rpc_raw("chain_epochs", params)
    assert answer["error"]["code"] == -32602


def test_chain_info_follows_the_validator_set(
    chain: LocalChain, served: ServedChain, rpc: Rpc
) -> None:
    before = rpc("chain_info")
    assert before["epoch"] == 0 and before["validators_since"] == 0
    assert [v["name"] for v in before["validators"]] == ["node1", "node2", "node3", "node4"]
    change_sets(chain, served)
    info = rpc("chain_info")
    assert info["epoch"] == 2 == epoch_of(chain, info["height"])
    assert info["validators_since"] == first_height_of(chain, 2)
    assert [(v["index"], v["name"]) for v in info["validators"]] == [
        (0, "node1"),
        (1, "node2"),
        (2, "node3"),
        (3, "node5"),
    ]
    assert info["validators"][3]["organisation"] == "org1"
    assert info["params"]["chain_id"] == chain.genesis.params.chain_id


@pytest.fixture
def governed_limits(chain: LocalChain, served: ServedChain) -> dict[str, int]:
    """Smaller transactions and block gas, in force from the next block."""
    limits = {"tx_bytes_max": 600, "block_gas_max": 2_000_000}
    served.call(lambda: enact(chain, "change_parameters", {"changes": limits}))
    return limits


def notary_tx(chain: LocalChain, key: PrivateKey, *, metadata: str, gas_limit: int) -> str:
    tx = Transaction(
        chain_id=chain.genesis.params.chain_id,
        nonce=0,
        sender=key.public_key_bytes(),
        target="notary",
        method="register",
        args={"doc_hash": b"\1" * 32, "metadata": {"note": metadata}},
        gas_limit=gas_limit,
        expiry_height=1000,
    ).sign(key)
    return to_hex(encode(tx))


def test_tx_send_checks_the_parameters_in_force(
    chain: LocalChain, rpc: Rpc, rpc_raw: Any, client_key: PrivateKey, governed_limits: Any
) -> None:
    assert rpc("chain_info")["params"]["tx_bytes_max"] == 600
    # The test chain's mempool still has the genesis limits: these refusals are the API's.
    assert chain.pool.config.tx_bytes_max > 600
    large = notary_tx(chain, client_key, metadata="x" * 700, gas_limit=1_000_000)
    answer = rpc_raw("tx_send", {"tx": large})["error"]
    assert answer["data"] == {"name": "TransactionTooLarge", "code": 1651}
    assert "limit is 600" in answer["message"]
    costly = notary_tx(chain, client_key, metadata="x", gas_limit=3_000_000)
    answer = rpc_raw("tx_send", {"tx": costly})["error"]
    assert answer["data"] == {"name": "GasLimitTooHigh", "code": 1656}
    fitting = notary_tx(chain, client_key, metadata="x", gas_limit=1_000_000)
    assert rpc("tx_send", {"tx": fitting})["ready"] is True


# --- pruning ---------------------------------------------------------------------------------

RETENTION = 3


@pytest.fixture
def pruned_chain(tmp_path: Path) -> Iterator[tuple[LocalChain, ServedChain]]:
    chain = LocalChain.create(tmp_path, state_retention_blocks=RETENTION)
    served = ServedChain(chain).start()
    yield chain, served
    served.stop()


@pytest.fixture
def rpc_for() -> Iterator[Any]:
    opened: list[httpx.Client] = []

    def make(served: ServedChain) -> Any:
        http = httpx.Client(base_url=served.url, timeout=30)
        opened.append(http)

        def call(method: str, params: Any = None, *, error: bool = False) -> Any:
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
            answer = http.post("/", json=body).json()
            return answer["error"] if error else answer["result"]

        return call

    yield make
    for http in opened:
        http.close()


def commit_until_pruned(chain: LocalChain, served: ServedChain, height: int) -> None:
    while chain.ledger.state_pruned_below <= height:
        served.commit()


def test_pruned_announcement_falls_back_to_the_epochs_last_block(
    pruned_chain: tuple[LocalChain, ServedChain], rpc_for: Any
) -> None:
    chain, served = pruned_chain
    change_sets(chain, served, gap=RETENTION + 3)
    rpc = rpc_for(served)
    announce = rpc("chain_epochs", [2])["epochs"][0]["announce_height"]
    commit_until_pruned(chain, served, announce)
    item = rpc("chain_epochs", [2])["epochs"][0]
    assert item["announce_height"] == announce
    assert item["state"]["height"] == item["activation_height"] - 1 > announce


def test_pruned_evidence_is_a_clear_error(
    pruned_chain: tuple[LocalChain, ServedChain], rpc_for: Any
) -> None:
    chain, served = pruned_chain
    change_sets(chain, served)
    rpc = rpc_for(served)
    commit_until_pruned(chain, served, first_height_of(chain, 2))
    error = rpc("chain_epochs", [1], error=True)
    assert error["data"] == {"name": "EpochEvidencePruned", "code": 1966}
    assert "pruned on this node" in error["message"] and "full state history" in error["message"]
    assert rpc("chain_info")["epoch"] == 2  # headers are never pruned: the rest still works


def test_openrpc_describes_chain_epochs(rpc: Rpc) -> None:
    methods = {method["name"]: method for method in rpc("rpc_discover")["methods"]}
    params = [param["name"] for param in methods["chain_epochs"]["params"]]
    assert params == ["from_epoch", "limit"]
