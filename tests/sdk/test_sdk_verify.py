"""The proof verifier accepts what a real node serves and rejects every tampering."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.wire import from_hex, to_hex
from gongshi.codec import BlockHeader, Receipt, decode, encode
from gongshi.consensus import decode_certificate, encode_certificate
from gongshi.errors import InvalidProof
from gongshi.sdk import (
    Client,
    MalformedResponse,
    NetworkInfo,
    ProofMismatch,
    ProofVerifier,
    UnverifiedHeader,
)
from gongshi.sdk.notary import NAMESPACE, record_key

Json = dict[str, Any]


def doc(n: int) -> bytes:
    return bytes([n]) * 32


@pytest.fixture
def rpc(served: ServedChain) -> Callable[..., Any]:
    def call(method: str, params: Any) -> Any:
        answer = httpx.post(
            served.url + "/", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        ).json()
        return answer["result"]

    return call


@pytest.fixture
def committed(client: Client) -> list[bytes]:
    """Three registrations in one block (so proofs have siblings), then one more block."""
    hashes = [
        client.submit("notary", "register", {"doc_hash": doc(n), "metadata": {}}) for n in (1, 2, 3)
    ]
    for tx_hash in hashes:
        client.wait_receipt(tx_hash)
    client.notary_register(doc(9))
    return hashes


@pytest.fixture
def verifier(network: NetworkInfo) -> ProofVerifier:
    return ProofVerifier(network)


def _set_raw(document: Json, name: str, record: Any) -> Json:
    changed = copy.deepcopy(document)
    changed[name] = to_hex(encode(record))
    return changed


def test_genuine_responses_verify(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    for tx_hash in committed:
        receipt = verifier.receipt(rpc("tx_receipt", [to_hex(tx_hash)]), tx_hash)
        assert receipt.block.signers == 4
        transaction = verifier.transaction(rpc("tx_get", [to_hex(tx_hash)]), tx_hash)
        assert transaction.index == receipt.index
    state = rpc("state_get", [NAMESPACE, to_hex(record_key(doc(1)))])
    assert verifier.state(state, NAMESPACE, record_key(doc(1))).value is not None
    assert verifier.block(rpc("block_get", [0]), 0).block.height == 0


def test_tampered_header_is_rejected(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    tx_hash = committed[0]
    genuine = rpc("tx_receipt", [to_hex(tx_hash)])
    header = decode(BlockHeader, from_hex(genuine["anchor"]["header_raw"], what="h"))
    forged_header = dataclasses.replace(header, timestamp_ms=header.timestamp_ms + 1)
    forged = copy.deepcopy(genuine)
    forged["anchor"] = _set_raw(genuine["anchor"], "header_raw", forged_header)
    with pytest.raises(UnverifiedHeader, match="does not hash"):
        verifier.receipt(forged, tx_hash)
    # Claiming the forged header's own hash does not help: nobody signed it.
    forged["anchor"]["hash"] = to_hex(forged_header.hash(verifier._suite))
    with pytest.raises(UnverifiedHeader, match="finality certificate"):
        verifier.receipt(forged, tx_hash)


def test_certificate_with_too_few_signers_is_rejected(
    chain: LocalChain, served: ServedChain, verifier: ProofVerifier, rpc: Callable[..., Any]
) -> None:
    # A block certified by 2 of 4 validators (quorum: 3), as a lying node might store it.
    block, _ = served.commit(signers=2)
    with pytest.raises(UnverifiedHeader):
        verifier.block(rpc("block_get", [block.height]), block.height)
    # Dropping signatures from a genuine certificate fails the same way.
    served.commit()
    result = rpc("block_get", [block.height + 1])
    qc = decode_certificate(from_hex(result["certificate_raw"], what="qc"))
    weakened = dataclasses.replace(qc, signers=qc.signers[:2], signatures=qc.signatures[:2])
    result["certificate_raw"] = to_hex(encode_certificate(weakened))
    with pytest.raises(UnverifiedHeader):
        verifier.block(result, block.height + 1)
    # A signature by the wrong key in a full-size certificate fails too.
    swapped = dataclasses.replace(qc, signatures=(qc.signatures[1], *qc.signatures[1:]))
    result["certificate_raw"] = to_hex(encode_certificate(swapped))
    with pytest.raises(UnverifiedHeader):
        verifier.block(result, block.height + 1)


def test_wrong_leaf_is_rejected(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    tx_hash = committed[1]
    genuine = rpc("tx_receipt", [to_hex(tx_hash)])
    receipt = decode(Receipt, from_hex(genuine["receipt_raw"], what="r"))
    # The same transaction's receipt, with a different outcome: not the proven leaf.
    inflated = _set_raw(genuine, "receipt_raw", dataclasses.replace(receipt, gas_used=1))
    with pytest.raises(InvalidProof):
        verifier.receipt(inflated, tx_hash)
    # Another transaction's (genuine) receipt answered for this one.
    other = rpc("tx_receipt", [to_hex(committed[0])])
    with pytest.raises(ProofMismatch):
        verifier.receipt(other, tx_hash)
    # The genuine leaf at a position it does not hold.
    shifted = copy.deepcopy(genuine)
    shifted["index"] = 0
    shifted["proof"]["leaf_index"] = 0
    with pytest.raises(InvalidProof):
        verifier.receipt(shifted, tx_hash)


def test_wrong_root_is_rejected(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    tx_hash = committed[2]
    genuine = rpc("tx_receipt", [to_hex(tx_hash)])
    # A genuine, certified header of another block: the proof does not lead to its root.
    moved = copy.deepcopy(genuine)
    moved["anchor"] = rpc("block_get", [genuine["height"] + 1])
    moved["height"] = genuine["height"] + 1
    with pytest.raises(InvalidProof):
        verifier.receipt(moved, tx_hash)
    # A sibling hash changed on the path.
    bent = copy.deepcopy(genuine)
    bent["proof"]["hashes"][0] = to_hex(b"\x00" * 32)
    with pytest.raises(InvalidProof):
        verifier.receipt(bent, tx_hash)


def test_tampered_state_reads_are_rejected(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    key = record_key(doc(1))
    genuine = rpc("state_get", [NAMESPACE, to_hex(key)])
    changed_value = copy.deepcopy(genuine)
    changed_value["value"] = to_hex(b"\x00" + from_hex(genuine["value"], what="v")[1:])
    with pytest.raises(InvalidProof):
        verifier.state(changed_value, NAMESPACE, key)
    hidden = copy.deepcopy(genuine)
    hidden["value"] = None
    with pytest.raises(InvalidProof):
        verifier.state(hidden, NAMESPACE, key)
    with pytest.raises(ProofMismatch):
        verifier.state(genuine, NAMESPACE, record_key(doc(2)))
    at_genesis = rpc("state_get", [NAMESPACE, to_hex(key), 0])
    with pytest.raises(UnverifiedHeader, match="block 0"):
        verifier.state(at_genesis, NAMESPACE, key)


def test_another_network_does_not_verify(
    tmp_path: Path, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    stranger = LocalChain.create(tmp_path / "other", organisations=4)
    try:
        verifier = ProofVerifier(NetworkInfo.load(stranger.network_dir))
        with pytest.raises(UnverifiedHeader):
            verifier.receipt(rpc("tx_receipt", [to_hex(committed[0])]), committed[0])
        with pytest.raises(UnverifiedHeader, match="genesis"):
            verifier.block(rpc("block_get", [0]), 0)
    finally:
        stranger.close()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: r.pop("anchor"),
        lambda r: r.update(receipt_raw="0x00"),
        lambda r: r.update(receipt_raw="nothex"),
        lambda r: r.update(proof={"leaf_index": 0}),
        lambda r: r["anchor"].update(certificate_raw="0x01"),
        lambda r: r.update(index="0"),
    ],
)
def test_malformed_responses_are_rejected(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes], mutate: Any
) -> None:
    result = rpc("tx_receipt", [to_hex(committed[0])])
    mutate(result)
    with pytest.raises(InvalidProof) as raised:
        verifier.receipt(result, committed[0])
    assert isinstance(raised.value, MalformedResponse | ProofMismatch)


def test_block_contents_must_match_the_header(
    verifier: ProofVerifier, rpc: Callable[..., Any], committed: list[bytes]
) -> None:
    height = rpc("tx_receipt", [to_hex(committed[0])])["height"]
    result = rpc("block_get", {"block": height, "full": True})
    assert len(verifier.block(result, height).tx_hashes) == 3
    dropped = copy.deepcopy(result)
    dropped["tx_hashes"].pop()
    dropped["transactions_raw"].pop()
    with pytest.raises(ProofMismatch):
        verifier.block(dropped, height)
    with pytest.raises(ProofMismatch):
        verifier.block(result, height + 1)
