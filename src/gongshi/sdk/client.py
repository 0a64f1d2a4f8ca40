"""The synchronous client.

    with Client.connect("localnet") as client:          # first node's API, org1's client
        receipt = client.notary_register(doc_hash, {"name": "contract.pdf"})
        print(receipt.block.height, receipt.block.signers)   # verified against a QC

Every read that the chain can prove is verified before it is returned (see `verify.py`);
`send` and `submit` count nonces locally so a burst needs no round trip per nonce.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from gongshi.api.wire import to_hex
from gongshi.codec import Transaction, encode
from gongshi.sdk import contracts as contract_proofs
from gongshi.sdk.core import (
    EPOCH_PAGES_MAX,
    NONCE_RETRIES_MAX,
    POLL_INTERVAL_S,
    SEND_RETRY_S,
    SEND_WAIT_S,
    ClientCore,
    load_connection,
)
from gongshi.sdk.epochs import TrustedEpoch
from gongshi.sdk.errors import ReceiptTimeout, RemoteError, UnknownEpoch
from gongshi.sdk.governance import (
    GOVERNANCE_GAS_LIMIT,
    ProvenProposal,
    proposal_args,
    require_accepted,
    returned_id,
    returned_map,
)
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

T = TypeVar("T")
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
        self.rpc = HttpRpc(url, timeout_s=timeout_s, auth=self.core.auth_header)

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

    def epochs(self, until: int | None = None) -> tuple[TrustedEpoch, ...]:
        """Fetch (`chain_epochs`) and verify the evidence of validator-set changes until
        epoch `until` (default: every epoch the node proves) is trusted; the trusted epochs,
        from the genesis validators' epoch 0 on. EpochTransitionRejected on false evidence."""
        core = self.core
        for _ in range(EPOCH_PAGES_MAX):
            if not core.epochs_wanted(until):
                break
            result = self.rpc.call("chain_epochs", core.epochs_params())
            if not core.verifier.trust_epochs(result):
                break
        return core.verifier.epochs.epochs

    def _verified(self, check: Callable[[], T]) -> T:
        """`check()`, and once more after fetching the evidence of an epoch it did not know
        (a header of a later validator set); UnknownEpoch if the node cannot prove it."""
        try:
            return check()
        except UnknownEpoch as unknown:
            self.epochs(unknown.epoch)
        return check()

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
        return self._verified(lambda: self.core.verifier.block(result, ref))

    def transaction(self, tx_hash: bytes) -> VerifiedTransaction | None:
        """A committed transaction, verified; None if it is pending or unknown."""
        result = self.rpc.call("tx_get", [to_hex(tx_hash)])
        if not isinstance(result, dict) or result.get("status") != "committed":
            return None
        return self._verified(lambda: self.core.verifier.transaction(result, tx_hash))

    def receipt(self, tx_hash: bytes) -> VerifiedReceipt | None:
        """A transaction's receipt, verified; None while it is not committed."""
        result = self.rpc.call("tx_receipt", [to_hex(tx_hash)])
        if result is None:
            return None
        return self._verified(lambda: self.core.verifier.receipt(result, tx_hash))

    def state(self, namespace: str, key: bytes, height: int | None = None) -> VerifiedState:
        params: dict[str, Any] = {"namespace": namespace, "key": to_hex(key)}
        if height is not None:
            params["height"] = height
        return self._verified(
            lambda: self.core.verifier.state(
                self.rpc.call("state_get", params), namespace, key, height
            )
        )

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
        return self._verified(lambda: self.core.notary_result(result, doc_hash, height))

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

    # --- governance ------------------------------------------------------------------------

    def propose(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        description: str | None = None,
        expiry_height: int | None = None,
        activation_height: int | None = None,
        timeout_s: float = 30.0,
    ) -> int:
        """Submit a governance proposal (admins only; counts as the organisation's yes) and
        wait for it; the proposal id. GovernanceCallFailed if the receipt is not SUCCESS."""
        args = proposal_args(
            kind,
            payload,
            description=description,
            expiry_height=expiry_height,
            activation_height=activation_height,
        )
        receipt = self.execute(
            "governance",
            "propose",
            args,
            timeout_s=timeout_s,
            check=False,
            gas_limit=GOVERNANCE_GAS_LIMIT,
        )
        return returned_id(require_accepted(receipt, "proposal"))

    def vote(self, proposal_id: int, approve: bool, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """Cast this organisation's vote; `{id, status, yes, no}` after it."""
        args = {"id": proposal_id, "approve": approve}
        receipt = self.execute(
            "governance",
            "vote",
            args,
            timeout_s=timeout_s,
            check=False,
            gas_limit=GOVERNANCE_GAS_LIMIT,
        )
        return dict(returned_map(require_accepted(receipt, "vote")))

    def proposal(self, proposal_id: int) -> ProvenProposal:
        """Proposal `proposal_id`, verified by the state proof of its stored encoding;
        RemoteError 1965 (GovProposalNotFound) if there is none."""
        result = self.rpc.call("gov_proposal", {"id": proposal_id})
        return self._verified(lambda: self.core.proposal_result(result, proposal_id))

    def proposals(
        self, *, status: str | None = None, start: int = 0, limit: int = 20
    ) -> dict[str, Any]:
        """A page of proposals `{height, total, proposals, next}` (not proven)."""
        params = self.core.proposals_params(status, start, limit)
        return self.core.object_result(self.rpc.call("gov_proposals", params), "gov_proposals")

    def params(self) -> dict[str, Any]:
        """Chain parameters `{height, in_force, scheduled}` (not proven)."""
        return self.core.object_result(self.rpc.call("gov_params"), "gov_params")

    def validators(self) -> dict[str, Any]:
        """Validator sets `{height, in_force, pending, observers}` (not proven)."""
        return self.core.object_result(self.rpc.call("gov_validators"), "gov_validators")

    def organisations(self) -> dict[str, Any]:
        """Member organisations `{height, organisations}` (not proven)."""
        return self.core.object_result(self.rpc.call("gov_organisations"), "gov_organisations")

    # --- deployed contracts ----------------------------------------------------------------

    def contract_upload(self, code: str, *, timeout_s: float = 30.0) -> bytes:
        """Upload contract source (admins); its code hash, for a deploy or upgrade proposal.
        TransactionFailed (listing the checker's `line:col: reason` problems) if refused."""
        receipt = self.execute(
            "contracts",
            "upload",
            {"code": code},
            timeout_s=timeout_s,
            gas_limit=contract_proofs.UPLOAD_GAS_LIMIT,
        )
        return contract_proofs.upload_result(receipt)

    def contract_call(
        self,
        name: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        timeout_s: float = 30.0,
        check: bool = True,
    ) -> VerifiedReceipt:
        """Call export `method` of the deployed contract `name` (or 0x address) by a
        transaction; the verified receipt (return value, events). TransactionFailed unless it
        succeeded (with `check`)."""
        return self.execute(
            name, method, dict(args or {}), timeout_s=timeout_s, check=check, gas_limit=gas_limit
        )

    def contract_query(
        self,
        name: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        height: int | None = None,
    ) -> Any:
        """Run a read-only export (or system method) against the state at `height` (default:
        the head), without a transaction; the result in JSON form (bytes as 0x hex). Not
        proven: the node ran it."""
        params = contract_proofs.query_params(name, method, args, height)
        return contract_proofs.query_result(self.core, self.rpc.call("contract_query", params))

    def contract_get(
        self, name: str, *, height: int | None = None
    ) -> contract_proofs.ProvenContract:
        """The lifecycle record of contract `name` (or 0x address), verified by the state
        proof of its stored encoding; RemoteError (CallNotFound) if none is deployed."""
        result = self.rpc.call("contract_get", contract_proofs.get_params(name, height))
        return self._verified(lambda: contract_proofs.get_result(self.core, result, name, height))

    def contract_code(self, name: str, *, version: int | None = None) -> contract_proofs.ProvenCode:
        """The source of `version` (default: the current one) of contract `name`, proven:
        the version's code hash comes from the proven record, the source from a state proof
        at the same height, and the two must match."""
        params, code_hash = contract_proofs.code_params(self.contract_get(name), version)
        result = self.rpc.call("contract_code", params)
        return self._verified(
            lambda: contract_proofs.code_result(self.core, result, params, code_hash)
        )
