"""The SDK's light-client rule across validator-set changes: from the genesis file alone it
proves epoch 1 (node5 added) and epoch 2 (node4 removed) from `chain_epochs` evidence, then
verifies receipts and state in epoch 2; forged transitions and headers are rejected."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.testing_governance import candidate_node, enact
from gongshi.api.wire import from_hex, to_hex
from gongshi.codec import BlockHeader, decode, decode_value, encode_value
from gongshi.consensus import ValidatorSet, encode_certificate
from gongshi.consensus.quorum import build_qc
from gongshi.consensus.signing import vote_bytes
from gongshi.consensus.types import Phase
from gongshi.crypto import PrivateKey
from gongshi.errors import InvalidProof
from gongshi.merkle.errors import RootMismatch
from gongshi.sdk import AsyncClient, Client, Identity, NetworkInfo, ProofVerifier
from gongshi.sdk.epochs import EpochSchedule, TrustedEpoch, decode_schedule
from gongshi.sdk.errors import (
    EpochTransitionRejected,
    MalformedResponse,
    UnknownEpoch,
    WrongEpoch,
)


@dataclass(frozen=True)
class EpochChain:
    chain: LocalChain
    served: ServedChain
    network: NetworkInfo
    keys: dict[str, PrivateKey]  # every validator's signing key, by node name
    activation: tuple[int, int, int]  # first height of epochs 0, 1, 2


@pytest.fixture(scope="module")
def epochs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EpochChain]:
    chain = LocalChain.create(tmp_path_factory.mktemp("epochs"))
    served = ServedChain(chain, auto_commit_ms=30).start()
    keys = {
        v.name: key for v, key in zip(chain.genesis.validators, chain.validator_keys, strict=True)
    }
    keys["node5"], payload = candidate_node(chain, "node5")
    served.call(lambda: enact(chain, "add_node", payload))
    node4 = chain.genesis.validators[3].public_key
    served.call(lambda: enact(chain, "remove_node", {"public_key": node4}))
    served.commit()
    headers = [chain.ledger.get_header(h) for h in range(chain.height + 1)]
    starts = [next(h.height for h in headers if h.config_version == e) for e in (0, 1, 2)]
    try:
        yield EpochChain(
            chain=chain,
            served=served,
            network=NetworkInfo.load(chain.network_dir),
            keys=keys,
            activation=(starts[0], starts[1], starts[2]),
        )
    finally:
        served.stop()


@pytest.fixture
def client(epochs: EpochChain) -> Iterator[Client]:
    """A client knowing nothing but the genesis file (and org1's client identity)."""
    identity = Identity.load(epochs.chain.network_dir, "org1", "client", network=epochs.network)
    with Client(epochs.served.url, epochs.network, identity) as connected:
        yield connected


def evidence(client: Client) -> list[dict[str, Any]]:
    items = client.rpc.call("chain_epochs", {"from_epoch": 1})["epochs"]
    assert [item["epoch"] for item in items] == [1, 2]
    return list(items)


def answer(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"height": 0, "epoch": 0, "epochs": list(items), "next": None}


# --- genuine evidence --------------------------------------------------------------------------


def test_receipt_of_epoch_two_verifies_from_genesis_only(
    epochs: EpochChain, client: Client
) -> None:
    calls: list[Any] = []
    call = client.rpc.call
    client.rpc.call = lambda method, params=None: calls.append(method) or call(method, params)  # type: ignore[method-assign]
    doc_hash = b"\x0e" * 32
    receipt = client.notary_register(doc_hash, {"title": "after two changes"})
    assert receipt.block.epoch == 2 and receipt.block.height >= epochs.activation[2]
    assert (receipt.block.signers, receipt.block.validators) == (4, 4)
    assert calls.count("chain_epochs") == 1  # fetched once, on the first epoch-2 header
    proven = client.notary_get(doc_hash)
    assert proven.record is not None and proven.record.doc_hash == doc_hash
    assert proven.state.block.epoch == 2 and calls.count("chain_epochs") == 1
    trusted = client.core.verifier.epochs.epochs
    assert [e.activation_height for e in trusted] == list(epochs.activation)
    assert [len(e.nodes) for e in trusted] == [4, 5, 4]
    assert trusted[2].validators.public_keys == tuple(
        epochs.keys[name].public_key_bytes() for name in ("node1", "node2", "node3", "node5")
    )
    # Older blocks verify against their own epoch's set.
    for epoch, height in enumerate(epochs.activation[1:], start=1):
        block = client.block(height - 1)
        assert block.block.epoch == epoch - 1
        assert client.block(height).block.epoch == epoch


def test_async_client_fetches_epochs_on_demand(epochs: EpochChain) -> None:
    async def run() -> tuple[int, int]:
        async with AsyncClient(epochs.served.url, epochs.network) as client:
            block = await client.block(epochs.activation[2])
            state = await client.state("governance", b"V")
            return block.block.epoch, state.block.epoch

    assert asyncio.run(run()) == (2, 2)


def test_epochs_are_fetched_page_by_page(epochs: EpochChain, client: Client) -> None:
    call = client.rpc.call
    asked: list[Any] = []

    def one_per_page(method: str, params: Any = None) -> Any:
        if method == "chain_epochs":
            asked.append(params["from_epoch"])
            params = {**params, "limit": 1}
        return call(method, params)

    client.rpc.call = one_per_page  # type: ignore[method-assign]
    assert [e.epoch for e in client.epochs()] == [0, 1, 2]
    assert asked == [1, 2]
    assert [e.epoch for e in client.epochs()] == [0, 1, 2] and asked == [1, 2, 3]


# --- forged transitions ----------------------------------------------------------------------


def certificate_raw(
    epochs: EpochChain, header: BlockHeader, signers: Sequence[str], epoch: int
) -> str:
    """A COMMIT certificate of `header` signed by the named validators for `epoch`."""
    block_hash = header.hash(epochs.chain.suite)
    chain_id = epochs.chain.genesis.params.chain_id.encode()
    message = vote_bytes(chain_id, epoch, Phase.COMMIT, header.height, header.round, block_hash)
    signatures = {i: epochs.keys[name].sign(message) for i, name in enumerate(signers)}
    qc = build_qc(Phase.COMMIT, header.height, header.round, block_hash, signatures)
    return to_hex(encode_certificate(qc))


def anchor_of(epochs: EpochChain, header: BlockHeader, certificate: str) -> dict[str, Any]:
    return {
        "height": header.height,
        "hash": to_hex(header.hash(epochs.chain.suite)),
        "header_raw": to_hex(header.encode()),
        "certificate_raw": certificate,
    }


def header_at(item: dict[str, Any]) -> BlockHeader:
    return decode(BlockHeader, from_hex(item["state"]["anchor"]["header_raw"], what="header"))


def test_genuine_evidence_is_accepted(epochs: EpochChain, client: Client) -> None:
    verifier = ProofVerifier(epochs.network)
    assert verifier.trust_epochs(answer(evidence(client))) is False  # no `next`
    assert verifier.epochs.latest.epoch == 2


def test_schedule_proved_against_another_root_is_rejected(
    epochs: EpochChain, client: Client
) -> None:
    items = evidence(client)
    forged = copy.deepcopy(items[0])
    # The anchor of the block before the announcement: its state root is another one.
    forged["state"]["anchor"] = client.rpc.call("block_get", [forged["announce_height"] - 1])
    forged["state"]["height"] = forged["announce_height"] - 1
    with pytest.raises(RootMismatch):
        ProofVerifier(epochs.network).trust_epochs(answer([forged]))
    tampered = copy.deepcopy(items[0])
    schedule = decode_value(from_hex(tampered["state"]["value"], what="value"))
    assert isinstance(schedule, tuple)
    entry = dict(schedule[-1])  # type: ignore[arg-type]
    entry["activation_height"] = 1000
    tampered["state"]["value"] = to_hex(encode_value((*schedule[:-1], entry)))  # type: ignore[arg-type]
    with pytest.raises(RootMismatch):
        ProofVerifier(epochs.network).trust_epochs(answer([tampered]))


@pytest.mark.parametrize(
    ("signers", "epoch"),
    [
        (("node1", "node2", "node3", "node5"), 0),  # epoch 1's keys claiming epoch 0
        (("node1", "node2", "node3", "node4", "node5"), 1),  # epoch 1's set for itself
        (("node1", "node2"), 0),  # too few of the right set
    ],
)
def test_certificate_by_the_wrong_set_is_rejected(
    epochs: EpochChain, client: Client, signers: tuple[str, ...], epoch: int
) -> None:
    forged = copy.deepcopy(evidence(client)[0])
    header = header_at(forged)
    forged["state"]["anchor"]["certificate_raw"] = certificate_raw(epochs, header, signers, epoch)
    with pytest.raises(EpochTransitionRejected, match="not certified by a quorum of epoch 0"):
        ProofVerifier(epochs.network).trust_epochs(answer([forged]))


def test_wrong_activation_height_is_rejected(epochs: EpochChain, client: Client) -> None:
    forged = copy.deepcopy(evidence(client)[0])
    forged["activation_height"] -= 1
    with pytest.raises(EpochTransitionRejected, match="proven schedule starts it at"):
        ProofVerifier(epochs.network).trust_epochs(answer([forged]))


def test_skipped_or_relabelled_epochs_are_rejected(epochs: EpochChain, client: Client) -> None:
    items = evidence(client)
    with pytest.raises(EpochTransitionRejected, match="epoch 1 is the next"):
        ProofVerifier(epochs.network).trust_epochs(answer(items[1:]))
    relabelled = {**copy.deepcopy(items[1]), "epoch": 1}
    with pytest.raises(EpochTransitionRejected, match="is not a block of epoch 0"):
        ProofVerifier(epochs.network).trust_epochs(answer([relabelled]))
    with pytest.raises(EpochTransitionRejected, match="epoch 3 is the next"):
        verifier = ProofVerifier(epochs.network)
        verifier.trust_epochs(answer(items))
        verifier.trust_epochs(answer([{**copy.deepcopy(items[1]), "epoch": 4}]))


def test_evidence_from_before_the_announcement_is_rejected(
    epochs: EpochChain, client: Client
) -> None:
    item = evidence(client)[0]
    earlier = item["announce_height"] - 1
    state = client.rpc.call(
        "state_get", {"namespace": "governance", "key": "0x56", "height": earlier}
    )
    forged = {**item, "state": state}
    with pytest.raises(EpochTransitionRejected, match="schedules no validator set after epoch 0"):
        ProofVerifier(epochs.network).trust_epochs(answer([forged]))


# --- headers that do not fit the schedule ------------------------------------------------------


def forged_block(epochs: EpochChain, height: int, epoch: int, signers: Sequence[str]) -> Any:
    """A block_get answer for a header at `height` claiming `epoch`, signed by `signers`."""
    genuine = epochs.chain.ledger.get_header(height)
    header = dataclasses.replace(genuine, config_version=epoch, round=genuine.round + 100)
    certificate = certificate_raw(epochs, header, signers, epoch)
    return {**anchor_of(epochs, header, certificate), "tx_hashes": []}


def test_headers_outside_their_epoch_are_rejected(epochs: EpochChain, client: Client) -> None:
    client.epochs()
    verifier = client.core.verifier
    first, second = epochs.activation[1], epochs.activation[2]
    genesis_set = ("node1", "node2", "node3", "node4")
    # The genesis set signing a block past its epoch (keys that no longer validate).
    with pytest.raises(WrongEpoch, match=f"covers heights 0 to {first - 1}"):
        verifier.header(forged_block(epochs, second, 0, genesis_set))
    # Epoch 2's set signing a block below its activation height.
    with pytest.raises(WrongEpoch, match=f"covers heights {second} on"):
        verifier.header(forged_block(epochs, first, 2, ("node1", "node2", "node3", "node5")))
    # An epoch past the trusted ones, at a height before the last one starts.
    with pytest.raises(WrongEpoch, match="only starts at"):
        verifier.header(forged_block(epochs, first, 3, genesis_set))


def test_header_claiming_an_unknown_epoch_is_rejected(epochs: EpochChain, client: Client) -> None:
    height = epochs.chain.height
    forged = forged_block(epochs, height, 7, ("node1", "node2", "node3", "node5"))
    call = client.rpc.call
    epochs_asked: list[Any] = []

    def serve_forged(method: str, params: Any = None) -> Any:
        if method == "block_get":
            return forged
        if method == "chain_epochs":
            epochs_asked.append(params)
        return call(method, params)

    client.rpc.call = serve_forged  # type: ignore[method-assign]
    with pytest.raises(UnknownEpoch) as unknown:
        client.block(height)
    assert unknown.value.code == 1996 and unknown.value.epoch == 7
    assert "epochs up to 2 are proven" in unknown.value.message
    assert epochs_asked == [{"from_epoch": 1}]  # it asked, learnt 1 and 2, and no more
    assert isinstance(unknown.value, InvalidProof)


def test_the_genesis_network_alone_refuses_later_epochs_offline(epochs: EpochChain) -> None:
    """Without evidence (a verifier that never fetched), an epoch-2 receipt is not trusted."""
    verifier = ProofVerifier(epochs.network)
    block = epochs.served.call(lambda: epochs.chain.ledger.get_header(epochs.activation[2]))
    with pytest.raises(UnknownEpoch):
        verifier.header(
            anchor_of(
                epochs,
                block,
                to_hex(epochs.chain.ledger.get_certificate(epochs.activation[2])),
            )
        )


# --- the schedule's pure parts -----------------------------------------------------------------


SCHEDULE_FIELDS = (
    "announce_height",
    "activation_height",
    "validators",
    "name",
    "organisation",
    "public_key",
    "api_address",
)
SCHEDULE_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=(1 << 64) - 1)
    | st.binary(max_size=8)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(st.sampled_from(SCHEDULE_FIELDS), children, max_size=7)
    ),
    max_leaves=24,
)


@given(st.binary(max_size=256) | SCHEDULE_LIKE.map(encode_value))
def test_decode_schedule_raises_only_malformed_response(data: bytes) -> None:
    with contextlib.suppress(MalformedResponse):
        entries = decode_schedule(data)
        activations = [entry.activation_height for entry in entries]
        assert activations == sorted(set(activations)) and entries


def trusted(epoch: int, activation: int) -> TrustedEpoch:
    key = bytes([epoch + 1]) * 32
    return TrustedEpoch(
        epoch=epoch,
        activation_height=activation,
        validators=ValidatorSet(epoch=epoch, public_keys=(key,)),
        nodes=(),
    )


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=50), max_size=5),
    height=st.integers(min_value=0, max_value=300),
    claimed=st.integers(min_value=0, max_value=8),
)
def test_a_header_fits_exactly_its_epochs_heights(
    gaps: list[int], height: int, claimed: int
) -> None:
    """for_header accepts (height, epoch) iff activation(epoch) <= height < activation(epoch+1),
    asks for evidence (UnknownEpoch) only past the last trusted epoch and its start."""
    activations = [0]
    for gap in gaps:
        activations.append(activations[-1] + gap)
    schedule = EpochSchedule(trusted(0, 0))
    for epoch, activation in enumerate(activations[1:], start=1):
        schedule.add(trusted(epoch, activation))
    header = dataclasses.replace(BLANK_HEADER, height=height, config_version=claimed)
    latest = len(activations) - 1
    if claimed > latest:
        expected: type[Exception] = UnknownEpoch if height > activations[-1] else WrongEpoch
        with pytest.raises(expected):
            schedule.for_header(header)
        return
    end = activations[claimed + 1] if claimed < latest else None
    if activations[claimed] <= height and (end is None or height < end):
        assert schedule.for_header(header).epoch == claimed
    else:
        with pytest.raises(WrongEpoch):
            schedule.for_header(header)


BLANK_HEADER = BlockHeader(
    height=0,
    parent_hash=bytes(32),
    tx_root=bytes(32),
    receipts_root=bytes(32),
    state_root=bytes(32),
    timestamp_ms=0,
    proposer=bytes(32),
    round=0,
    config_version=0,
)
