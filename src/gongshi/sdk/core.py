"""What the synchronous and asynchronous clients share: everything but the I/O.

Both clients hold a `ClientCore`: the network (genesis, validators), the identity that signs,
the proof verifier, the nonce count and the last known head height (for expiry heights).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gongshi.api.auth import auth_header
from gongshi.api.wire import from_hex, to_hex
from gongshi.codec import ReceiptStatus, Transaction
from gongshi.errors import GongshiError
from gongshi.sdk.errors import MalformedResponse, SdkError, TransactionFailed
from gongshi.sdk.governance import NAMESPACE as GOVERNANCE
from gongshi.sdk.governance import ProvenProposal, proposal_key, proven_proposal
from gongshi.sdk.identity import Identity
from gongshi.sdk.network import NetworkInfo
from gongshi.sdk.notary import NAMESPACE, ProvenRecord, proven_record, record_key
from gongshi.sdk.transactions import (
    DEFAULT_EXPIRY_BLOCKS,
    DEFAULT_GAS_LIMIT,
    NonceTracker,
    build_transaction,
)
from gongshi.sdk.verify import ProofVerifier, VerifiedReceipt

HEAD_STALE_S = 10.0  # refresh the head height used for expiry heights this often
NONCE_RETRIES_MAX = 66  # a sender has at most 64 pending nonces (the mempool's window)
POLL_INTERVAL_S = 0.2
SEND_WAIT_S = 60.0  # how long `send` waits out a full nonce window
SEND_RETRY_S = 0.05  # between attempts while the window is full (a block frees it)
EPOCH_PAGES_MAX = 1000  # chain_epochs calls per catch-up (16 epochs each)
# A request signature is re-made this often: well inside the node's ±5 min window, so a
# client whose clock is up to 3 minutes off still gets in.
AUTH_REFRESH_MS = 120_000


def ws_url(http_url: str) -> str:
    """The WebSocket endpoint of a node's API URL."""
    base = http_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws"
    if base.startswith("http://"):
        return "ws://" + base[len("http://") :] + "/ws"
    raise SdkError(f"{http_url} is not an http(s) URL")


def load_connection(
    network_dir: Path | str,
    *,
    node: str | int | None,
    url: str | None,
    organisation: str | None,
    role: str,
) -> tuple[str, NetworkInfo, Identity | None]:
    """The API URL, network and identity `Client.connect` / `AsyncClient.connect` use."""
    network = NetworkInfo.load(network_dir)
    identity = None
    if organisation is not None:
        identity = Identity.load(network_dir, organisation, role, network=network)
    return url or network.api_url(node), network, identity


class ClientCore:
    def __init__(self, network: NetworkInfo, identity: Identity | None) -> None:
        self.network = network
        self.identity = identity
        self.verifier = ProofVerifier(network)
        self.nonces = NonceTracker()
        self._head_height: int | None = None
        self._head_seen_at = 0.0
        # (signed at, X-Gongshi-Auth value), re-signed after AUTH_REFRESH_MS.
        self._auth: tuple[int, str] | None = None

    def signer(self) -> Identity:
        if self.identity is None:
            raise SdkError("this client has no identity to sign with")
        return self.identity

    # --- access --------------------------------------------------------------------------

    def auth_header(self) -> str | None:
        """The `X-Gongshi-Auth` value that authenticates this client's requests (None
        without an identity): one signature per AUTH_REFRESH_MS, not per request."""
        identity = self.identity
        if identity is None:
            return None
        now_ms = time.time_ns() // 1_000_000
        cached = self._auth
        if cached is None or not 0 <= now_ms - cached[0] < AUTH_REFRESH_MS:
            header = auth_header(
                identity.key,
                chain_id=self.network.chain_id,
                genesis_hash=self.network.genesis_hash,
                timestamp_ms=now_ms,
            )
            cached = (now_ms, header)
            self._auth = cached
        return cached[1]

    # --- head and nonces -------------------------------------------------------------------

    def head_stale(self) -> bool:
        return self._head_height is None or time.monotonic() - self._head_seen_at > HEAD_STALE_S

    def saw_head(self, height: Any) -> None:
        if type(height) is int:
            self._head_height = height
            self._head_seen_at = time.monotonic()

    def expiry_height(self, expiry_blocks: int) -> int:
        assert self._head_height is not None, "the head height is fetched before building"
        return self._head_height + expiry_blocks

    # --- building --------------------------------------------------------------------------

    def build(
        self,
        target: str,
        method: str,
        args: Any,
        *,
        nonce: int,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS,
    ) -> Transaction:
        identity = self.signer()
        return build_transaction(
            identity.key,
            chain_id=self.network.chain_id,
            nonce=nonce,
            target=target,
            method=method,
            args=args,
            gas_limit=gas_limit,
            expiry_height=self.expiry_height(expiry_blocks),
        )

    def tx_hash(self, tx: Transaction) -> bytes:
        return tx.hash(self.network.suite)

    def check_sent(self, result: Any, tx: Transaction) -> bytes:
        """The hash tx_send answered must be the transaction's own."""
        expected = self.tx_hash(tx)
        try:
            answered = from_hex(result["tx_hash"], what="tx_hash")
        except (GongshiError, TypeError, KeyError):
            raise MalformedResponse("tx_send answered without a transaction hash") from None
        if answered != expected:
            raise MalformedResponse("tx_send answered with another transaction's hash")
        return expected

    # --- epochs ----------------------------------------------------------------------------

    def epochs_wanted(self, until: int | None) -> bool:
        """Whether evidence is still needed to trust epoch `until` (None: all the node has)."""
        return until is None or self.verifier.epochs.latest.epoch < until

    def epochs_params(self) -> dict[str, Any]:
        return {"from_epoch": self.verifier.epochs.latest.epoch + 1}

    # --- results ---------------------------------------------------------------------------

    @staticmethod
    def require_success(receipt: VerifiedReceipt) -> VerifiedReceipt:
        if receipt.receipt.status is not ReceiptStatus.SUCCESS:
            raise TransactionFailed(
                f"transaction {receipt.tx_hash.hex()} failed at height {receipt.block.height}: "
                f"{receipt.receipt.status.name} {receipt.receipt.error}".rstrip()
            )
        return receipt

    def notary_params(self, doc_hash: bytes, height: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"doc_hash": to_hex(doc_hash)}
        if height is not None:
            params["height"] = height
        return params

    def notary_result(self, result: Any, doc_hash: bytes, height: int | None) -> ProvenRecord:
        if not isinstance(result, dict):
            raise MalformedResponse("notary_get answered without a result object")
        state = self.verifier.state(result.get("state"), NAMESPACE, record_key(doc_hash), height)
        return proven_record(state, doc_hash)

    @staticmethod
    def register_args(
        doc_hash: bytes, metadata: dict[str, Any] | None, locator: str | None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"doc_hash": doc_hash, "metadata": metadata or {}}
        if locator is not None:
            args["locator"] = locator
        return args

    # --- governance ------------------------------------------------------------------------

    def proposal_result(self, result: Any, proposal_id: int) -> ProvenProposal:
        """A `gov_proposal` result, checked through the state proof of the stored proposal."""
        if not isinstance(result, dict):
            raise MalformedResponse("gov_proposal answered without a result object")
        state = self.verifier.state(result.get("state"), GOVERNANCE, proposal_key(proposal_id))
        return proven_proposal(state, proposal_id)

    @staticmethod
    def proposals_params(status: str | None, start: int, limit: int) -> dict[str, Any]:
        params: dict[str, Any] = {"start": start, "limit": limit}
        if status is not None:
            params["status"] = status
        return params

    @staticmethod
    def object_result(result: Any, method: str) -> dict[str, Any]:
        if not isinstance(result, dict):
            raise MalformedResponse(f"{method} answered without a result object")
        return dict(result)
