"""The synchronous client.

    with Client.connect("localnet") as client:          # first node's API, org1's client
        receipt = client.notary_register(doc_hash, {"name": "contract.pdf"})
        print(receipt.block.height, receipt.block.signers)   # verified against a QC

Every read that the chain can prove is verified before it is returned (see `verify.py`);
`send` and `submit` count nonces locally so a burst needs no round trip per nonce.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gongshi.api.wire import to_hex
from gongshi.codec import Transaction, encode
from gongshi.sdk.core import (
    NONCE_RETRIES_MAX,
    POLL_INTERVAL_S,
    SEND_RETRY_S,
    SEND_WAIT_S,
    ClientCore,
    load_connection,
)
from gongshi.sdk.errors import ReceiptTimeout, RemoteError
from gongshi.sdk.identity import Identity
from gongshi.sdk.network import DEFAULT_NETWORK_DIR, NetworkInfo
from gongshi.sdk.notary import ProvenRecord
from gongshi.sdk.rpc import DEFAULT_TIMEOUT_S, HttpRpc
from gongshi.sdk.transactions import (
    ALREADY_KNOWN,
    DEFAULT_EXPIRY_BLOCKS,
    DEFAULT_GAS_LIMIT,
    NONCE_TOO_HIGH,
    NONCE_TOO_LOW,
)
from gongshi.sdk.verify import VerifiedBlock, VerifiedReceipt, VerifiedState, VerifiedTransaction

NONCE_ALREADY_PENDING = "NonceAlreadyPending"
EVENTS_MAX = 100_000


class Client:
    """A synchronous connection to one node's API, verifying against the network's genesis."""

    def __init__(
        self,
        url: str,
        network: NetworkInfo,
        identity: Identity | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.core = ClientCore(network, identity)
        self.rpc = HttpRpc(url, timeout_s=timeout_s)

    @classmethod
    def connect(
        cls,
        network_dir: Path | str = DEFAULT_NETWORK_DIR,
        *,
        node: str | int | None = None,
        url: str | None = None,
        organisation: str | None = "org1",
        role: str = "client",
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Client:
        """A client of `network_dir`'s node (default: the first), signing as `organisation`'s
        `role` (None: read only)."""
        address, network, identity = load_connection(
            network_dir, node=node, url=url, organisation=organisation, role=role
        )
        return cls(address, network, identity, timeout_s=timeout_s)

    @property
    def network(self) -> NetworkInfo:
        return self.core.network

    @property
    def identity(self) -> Identity | None:
        return self.core.identity

    def close(self) -> None:
        self.rpc.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- reads -----------------------------------------------------------------------------

    def chain_info(self) -> dict[str, Any]:
        """What the node says about itself (not verified: informational)."""
        info = self.rpc.call("chain_info")
        if isinstance(info, dict):
            self.core.saw_head(info.get("height"))
        return dict(info) if isinstance(info, dict) else {}

    def block(self, ref: int | bytes, *, full: bool = False) -> VerifiedBlock:
        param: int | str = ref if isinstance(ref, int) else to_hex(ref)
        result = self.rpc.call("block_get", {"block": param, "full": full})
        return self.core.verifier.block(result, ref)

    def transaction(self, tx_hash: bytes) -> VerifiedTransaction | None:
        """A committed transaction, verified; None if it is pending or unknown."""
        result = self.rpc.call("tx_get", [to_hex(tx_hash)])
        if not isinstance(result, dict) or result.get("status") != "committed":
            return None
        return self.core.verifier.transaction(result, tx_hash)

    def receipt(self, tx_hash: bytes) -> VerifiedReceipt | None:
        """A transaction's receipt, verified; None while it is not committed."""
        result = self.rpc.call("tx_receipt", [to_hex(tx_hash)])
        if result is None:
            return None
        return self.core.verifier.receipt(result, tx_hash)

    def state(self, namespace: str, key: bytes, height: int | None = None) -> VerifiedState:
        params: dict[str, Any] = {"namespace": namespace, "key": to_hex(key)}
        if height is not None:
            params["height"] = height
        return self.core.verifier.state(self.rpc.call("state_get", params), namespace, key, height)

    def nonce(self, address: bytes | None = None) -> int:
        """The committed next nonce of `address` (default: this client's identity)."""
        target = address if address is not None else self.core.signer().address
        result = self.rpc.call("account_nonce", [to_hex(target)])
        self.core.saw_head(result.get("height") if isinstance(result, dict) else None)
        nonce = result.get("nonce") if isinstance(result, dict) else None
        if type(nonce) is not int:
            raise RemoteError("account_nonce answered no nonce", code=0, name="?", rpc_code=0)
        return nonce

    def events(
        self,
        contract: str,
        name: str,
        *,
        from_height: int = 0,
        to_height: int | None = None,
        page_size: int = 100,
        events_max: int = EVENTS_MAX,
    ) -> list[dict[str, Any]]:
        """Every matching event (following cursors), at most `events_max` of them."""
        params: dict[str, Any] = {
            "contract": contract,
            "name": name,
            "from_height": from_height,
            "limit": page_size,
        }
        if to_height is not None:
            params["to_height"] = to_height
        found: list[dict[str, Any]] = []
        while len(found) < events_max:
            page = self.rpc.call("events_query", params)
            found.extend(page["events"])
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        return found[:events_max]

    def notary_get(self, doc_hash: bytes, height: int | None = None) -> ProvenRecord:
        result = self.rpc.call("notary_get", self.core.notary_params(doc_hash, height))
        return self.core.notary_result(result, doc_hash, height)

    def notary_list(
        self, owner: bytes | None = None, *, start: int = 0, limit: int = 20
    ) -> dict[str, Any]:
        """A page of an owner's records (default: this identity's); not proven."""
        target = owner if owner is not None else self.core.signer().address
        result = self.rpc.call("notary_list", [to_hex(target), start, limit])
        return dict(result)

    # --- writes ----------------------------------------------------------------------------

    def send(self, tx: Transaction, *, wait_s: float = SEND_WAIT_S) -> bytes:
        """Submit a signed transaction; waits (up to `wait_s`) while the sender's window of
        pending nonces is full. Its hash."""
        raw = to_hex(encode(tx))
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self.core.check_sent(self.rpc.call("tx_send", {"tx": raw}), tx)
            except RemoteError as error:
                if error.name == ALREADY_KNOWN:
                    return self.core.tx_hash(tx)
                if error.name != NONCE_TOO_HIGH or time.monotonic() > deadline:
                    raise
            time.sleep(SEND_RETRY_S)

    def submit(
        self,
        target: str,
        method: str,
        args: Any,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS,
    ) -> bytes:
        """Build, sign and send a call with the next nonce; its transaction hash."""
        core = self.core
        address = core.signer().address
        for _ in range(NONCE_RETRIES_MAX):
            if not core.nonces.known(address):
                core.nonces.start(address, self.nonce(address))
            elif core.head_stale():
                self.chain_info()
            tx = core.build(
                target,
                method,
                args,
                nonce=core.nonces.take(address),
                gas_limit=gas_limit,
                expiry_blocks=expiry_blocks,
            )
            try:
                return self.send(tx)
            except RemoteError as error:
                if error.name == NONCE_ALREADY_PENDING:
                    continue  # another process (or an earlier run) holds it: take the next
                core.nonces.forget(address)
                if error.name != NONCE_TOO_LOW:
                    raise
        raise RemoteError("no free nonce found", code=0, name="NonceRetries", rpc_code=0)

    def wait_receipt(
        self, tx_hash: bytes, *, timeout_s: float = 30.0, poll_s: float = POLL_INTERVAL_S
    ) -> VerifiedReceipt:
        """Poll until the transaction is committed; its verified receipt."""
        deadline = time.monotonic() + timeout_s
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ReceiptTimeout(f"no receipt for {tx_hash.hex()} within {timeout_s} s")
            time.sleep(poll_s)

    def execute(
        self,
        target: str,
        method: str,
        args: Any,
        *,
        timeout_s: float = 30.0,
        check: bool = True,
        gas_limit: int = DEFAULT_GAS_LIMIT,
    ) -> VerifiedReceipt:
        """Submit and wait for the verified receipt; TransactionFailed unless it succeeded
        (with `check`)."""
        tx_hash = self.submit(target, method, args, gas_limit=gas_limit)
        receipt = self.wait_receipt(tx_hash, timeout_s=timeout_s)
        return self.core.require_success(receipt) if check else receipt

    def notary_register(
        self,
        doc_hash: bytes,
        metadata: dict[str, Any] | None = None,
        locator: str | None = None,
        *,
        timeout_s: float = 30.0,
    ) -> VerifiedReceipt:
        """Notarize a document hash; the verified receipt of `notary.register`."""
        args = self.core.register_args(doc_hash, metadata, locator)
        return self.execute("notary", "register", args, timeout_s=timeout_s)
