"""Every RPC method over real HTTP against a real ledger; proofs checked with the pure
verifiers (merkle, consensus), not with the SDK."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from gongshi.api.routes import ROUTES
from gongshi.api.testing import LocalChain, ServedChain
from gongshi.api.wire import from_hex, inclusion_proof_from_json
from gongshi.codec import BlockHeader, Receipt, Transaction, decode
from gongshi.consensus import SuiteVerifier, ValidatorSet, decode_certificate, verify_commit
from gongshi.crypto import PrivateKey
from gongshi.merkle import StateProof, hash_leaf, verify_inclusion, verify_state_proof
from gongshi.storage import state_key

Send = Callable[[Transaction], str]


def _check_anchor(chain: LocalChain, anchor: dict[str, object]) -> BlockHeader:
    header = decode(BlockHeader, from_hex(anchor["header_raw"], what="header"))
    block_hash = header.hash(chain.suite)
    assert from_hex(anchor["hash"], what="hash") == block_hash
    certificate = decode_certificate(from_hex(anchor["certificate_raw"], what="certificate"))
    validators = ValidatorSet(
        epoch=0, public_keys=tuple(v.public_key for v in chain.genesis.validators)
    )
    assert verify_commit(
        chain.genesis.params.chain_id.encode(),
        validators,
        block_hash,
        header.height,
        certificate,
        SuiteVerifier(chain.suite),
    )
    return header


def test_chain_info_describes_chain_and_head(chain: LocalChain, served: ServedChain, rpc) -> None:
    info = rpc("chain_info")
    assert info["chain_id"] == chain.genesis.params.chain_id
    assert info["suite"] == "intl"
    assert info["height"] == 0
    assert [v["name"] for v in info["validators"]] == ["node1", "node2", "node3", "node4"]
    assert info["mempool_size"] == 0
    served.commit()
    assert rpc("chain_info")["height"] == 1


def test_tx_send_then_get_pending_then_committed_with_proof(
    chain: LocalChain, served: ServedChain, rpc, make_tx, send: Send
) -> None:
    tx = make_tx(0, b"doc-a")
    tx_hash = send(tx)
    assert from_hex(tx_hash, what="hash") == tx.hash(chain.suite)
    pending = rpc("tx_get", [tx_hash])
    assert pending["status"] == "pending"
    assert rpc("tx_receipt", [tx_hash]) is None
    assert rpc("chain_info")["mempool_size"] == 1
    served.commit()
    found = rpc("tx_get", {"tx_hash": tx_hash})
    assert found["status"] == "committed" and found["height"] == 1
    assert decode(Transaction, from_hex(found["transaction_raw"], what="tx")) == tx
    header = _check_anchor(chain, found["anchor"])
    verify_inclusion(
        chain.suite.hash,
        leaf_hash=hash_leaf(chain.suite.hash, tx.hash(chain.suite)),
        proof=inclusion_proof_from_json(found["proof"]),
        root=header.tx_root,
    )


def test_tx_get_of_unknown_hash_is_null(rpc) -> None:
    assert rpc("tx_get", ["0x" + "ab" * 32]) is None


def test_tx_receipt_has_inclusion_proof_against_certified_header(
    chain: LocalChain, served: ServedChain, rpc, make_tx, send: Send
) -> None:
    hashes = [send(make_tx(nonce, bytes([nonce + 1]))) for nonce in range(5)]
    served.commit()
    for index, tx_hash in enumerate(hashes):
        found = rpc("tx_receipt", [tx_hash])
        assert found["index"] == index
        receipt_bytes = from_hex(found["receipt_raw"], what="receipt")
        receipt = decode(Receipt, receipt_bytes)
        assert receipt.status.name == found["receipt"]["status"] == "SUCCESS"
        header = _check_anchor(chain, found["anchor"])
        verify_inclusion(
            chain.suite.hash,
            leaf_hash=hash_leaf(chain.suite.hash, receipt_bytes),
            proof=inclusion_proof_from_json(found["proof"]),
            root=header.receipts_root,
        )


def test_block_get_by_height_and_hash_with_certificate(
    chain: LocalChain, served: ServedChain, rpc, make_tx, send: Send
) -> None:
    tx_hash = send(make_tx(0, b"x"))
    served.commit()
    by_height = rpc("block_get", [1])
    assert by_height["tx_hashes"] == [tx_hash] and by_height["tx_count"] == 1
    assert by_height["certificate"]["signers"] == [0, 1, 2, 3]
    _check_anchor(chain, by_height)
    by_hash = rpc("block_get", {"block": by_height["hash"], "full": True})
    assert by_hash["hash"] == by_height["hash"]
    assert by_hash["transactions"][0]["target"] == "notary"
    genesis = rpc("block_get", [0])
    assert genesis["certificate"]["phase"] == 0 and genesis["certificate"]["signers"] == []


def test_block_get_past_head_is_block_not_found(rpc_raw) -> None:
    answer = rpc_raw("block_get", [99])
    assert answer["error"]["code"] == 1430
    assert answer["error"]["data"] == {"name": "BlockNotFound", "code": 1430}
    assert rpc_raw("block_get", ["0x" + "00" * 32])["error"]["data"]["name"] == "BlockNotFound"


def test_state_get_value_and_absence_with_proofs(
    chain: LocalChain, served: ServedChain, rpc, make_tx, send: Send
) -> None:
    send(make_tx(0, b"doc"))
    served.commit()
    doc_hash = b"doc".ljust(32, b"\0")
    for key, present in ((b"r" + doc_hash, True), (b"r" + b"\x09" * 32, False)):
        found = rpc("state_get", {"namespace": "notary", "key": "0x" + key.hex()})
        assert (found["value"] is not None) is present
        header = _check_anchor(chain, found["anchor"])
        value = None if found["value"] is None else from_hex(found["value"], what="value")
        verify_state_proof(
            chain.suite.hash,
            header.state_root,
            state_key("notary", key),
            value,
            StateProof.decode(from_hex(found["proof"], what="proof")),
        )
    at_genesis = rpc("state_get", ["notary", "0x" + (b"r" + doc_hash).hex(), 0])
    assert at_genesis["height"] == 0 and at_genesis["value"] is None


def test_account_nonce_follows_commits(
    served: ServedChain, rpc, make_tx, send: Send, client_key: PrivateKey
) -> None:
    address = "0x" + client_key.address().hex()
    assert rpc("account_nonce", [address])["nonce"] == 0
    send(make_tx(0, b"1"))
    send(make_tx(1, b"2"))
    served.commit()
    assert rpc("account_nonce", {"address": address})["nonce"] == 2


def test_events_query_pages_with_cursor(served: ServedChain, rpc, make_tx, send: Send) -> None:
    for nonce in range(7):
        send(make_tx(nonce, bytes([0x40 + nonce])))
    served.commit()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"contract": "notary", "name": "Registered", "limit": 3}
        if cursor is not None:
            params["cursor"] = cursor
        page = rpc("events_query", params)
        pages += 1
        seen.extend(event["fields"]["doc_hash"] for event in page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == ["0x" + bytes([0x40 + n]).ljust(32, b"\0").hex() for n in range(7)]
    assert rpc("events_query", ["notary", "Registered", 2])["events"] == []
    assert rpc("events_query", ["notary", "Nothing"])["events"] == []


def test_notary_get_and_list(
    chain: LocalChain, served: ServedChain, rpc, make_tx, send: Send, client_key: PrivateKey
) -> None:
    send(make_tx(0, b"first"))
    send(make_tx(1, b"second"))
    served.commit()
    doc_hash = "0x" + b"first".ljust(32, b"\0").hex()
    found = rpc("notary_get", [doc_hash])
    assert found["record"]["doc_hash"] == doc_hash
    assert found["record"]["owner"] == "0x" + client_key.address().hex()
    assert found["state"]["value"] is not None
    _check_anchor(chain, found["state"]["anchor"])
    assert rpc("notary_get", ["0x" + "77" * 32])["record"] is None
    listed = rpc("notary_list", {"owner": "0x" + client_key.address().hex(), "limit": 1})
    assert listed["result"]["total"] == 2 and listed["result"]["next"] == 1
    assert len(listed["result"]["records"]) == 1


def test_openrpc_document_lists_every_method(served: ServedChain, rpc) -> None:
    document = rpc("rpc_discover")
    assert document["openrpc"].startswith("1.")
    assert [m["name"] for m in document["methods"]] == [route.name for route in ROUTES]
    served_document = httpx.get(served.url + "/openrpc.json").json()
    assert served_document == document
    tx_send = next(m for m in document["methods"] if m["name"] == "tx_send")
    assert tx_send["params"][0]["name"] == "tx"


def test_contract_query_runs_read_only_methods(
    served: ServedChain, rpc, rpc_raw, client_key: PrivateKey
) -> None:
    address = "0x" + client_key.address().hex()
    member = rpc(
        "contract_query", {"target": "identity", "method": "get", "args": {"address": address}}
    )
    assert member["height"] == 0
    assert member["result"]["organisation"] == "org1" and member["result"]["role"] == "client"
    write = rpc_raw("contract_query", ["notary", "register", {"doc_hash": "0x" + "00" * 32}])
    assert write["error"]["data"]["name"] == "ReadOnlyCall"
    unknown = rpc_raw("contract_query", ["nobody", "get", {}])
    assert unknown["error"]["data"]["name"] == "CallNotFound"
    floats = rpc_raw("contract_query", ["identity", "get", {"address": 1.5}])
    assert floats["error"]["data"]["name"] == "InvalidArguments"
