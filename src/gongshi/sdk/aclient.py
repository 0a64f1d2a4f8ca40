"""The asynchronous client: the same calls as `Client`, plus WebSocket subscriptions.

async with AsyncClient.connect("localnet") as client:
    receipt = await client.notary_register(doc_hash)     # waits by subscription
    async for block in client.blocks():                  # each one verified
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from gongshi.api.wire import to_hex
from gongshi.codec import Transaction, encode
from gongshi.sdk import contracts as contract_proofs
from gongshi.sdk.core import (
    EPOCH_PAGES_MAX,
    NONCE_RETRIES_MAX,
    SEND_RETRY_S,
    SEND_WAIT_S,
    ClientCore,
    load_connection,
    ws_url,
)
from gongshi.sdk.epochs import TrustedEpoch
from gongshi.sdk.errors import (
    MalformedResponse,
    NodeUnreachable,
    ReceiptTimeout,
    RemoteError,
    UnknownEpoch,
)
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
from gongshi.sdk.rpc import (
    DEFAULT_TIMEOUT_S,
    AsyncHttpRpc,
    auth_headers,
    handshake_refusal,
    remote_error,
    request_document,
    result_of,
)
from gongshi.sdk.transactions import (
    ALREADY_KNOWN,
    DEFAULT_EXPIRY_BLOCKS,
    DEFAULT_GAS_LIMIT,
    NONCE_TOO_HIGH,
    NONCE_TOO_LOW,
)
from gongshi.sdk.verify import VerifiedBlock, VerifiedReceipt, VerifiedState

T = TypeVar("T")
NONCE_ALREADY_PENDING = "NonceAlreadyPending"
WS_MESSAGE_BYTES_MAX = 32 << 20


class AsyncClient:
    """An asynchronous connection to one node's API (HTTP for calls, WebSocket for
    subscriptions), verifying against the network's genesis."""

    def __init__(
        self,
        url: str,
        network: NetworkInfo,
        identity: Identity | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.url = url
        self.ws_url = ws_url(url)
        self.core = ClientCore(network, identity)
        self.rpc = AsyncHttpRpc(url, timeout_s=timeout_s, auth=self.core.auth_header)

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
    ) -> AsyncClient:
        address, network, identity = load_connection(
            network_dir, node=node, url=url, organisation=organisation, role=role
        )
        return cls(address, network, identity, timeout_s=timeout_s)

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def epochs(self, until: int | None = None) -> tuple[TrustedEpoch, ...]:
        """Fetch (`chain_epochs`) and verify the evidence of validator-set changes until
        epoch `until` (default: every epoch the node proves) is trusted; the trusted epochs,
        from the genesis validators' epoch 0 on. EpochTransitionRejected on false evidence."""
        core = self.core
        for _ in range(EPOCH_PAGES_MAX):
            if not core.epochs_wanted(until):
                break
            result = await self.rpc.call("chain_epochs", core.epochs_params())
            if not core.verifier.trust_epochs(result):
                break
        return core.verifier.epochs.epochs

    async def _verified(self, check: Callable[[], T]) -> T:
        """`check()`, and once more after fetching the evidence of an epoch it did not know
        (a header of a later validator set); UnknownEpoch if the node cannot prove it."""
        try:
            return check()
        except UnknownEpoch as unknown:
            await self.epochs(unknown.epoch)
        return check()

    # --- reads -----------------------------------------------------------------------------

    async def chain_info(self) -> dict[str, Any]:
        info = await self.rpc.call("chain_info")
        if isinstance(info, dict):
            self.core.saw_head(info.get("height"))
        return dict(info) if isinstance(info, dict) else {}

    async def block(self, ref: int | bytes, *, full: bool = False) -> VerifiedBlock:
        param: int | str = ref if isinstance(ref, int) else to_hex(ref)
        result = await self.rpc.call("block_get", {"block": param, "full": full})
        return await self._verified(lambda: self.core.verifier.block(result, ref))

    async def receipt(self, tx_hash: bytes) -> VerifiedReceipt | None:
        result = await self.rpc.call("tx_receipt", [to_hex(tx_hash)])
        if result is None:
            return None
        return await self._verified(partial(self.core.verifier.receipt, result, tx_hash))

    async def state(self, namespace: str, key: bytes, height: int | None = None) -> VerifiedState:
        params: dict[str, Any] = {"namespace": namespace, "key": to_hex(key)}
        if height is not None:
            params["height"] = height
        result = await self.rpc.call("state_get", params)
        return await self._verified(
            lambda: self.core.verifier.state(result, namespace, key, height)
        )

    async def nonce(self, address: bytes | None = None) -> int:
        target = address if address is not None else self.core.signer().address
        result = await self.rpc.call("account_nonce", [to_hex(target)])
        self.core.saw_head(result.get("height") if isinstance(result, dict) else None)
        nonce = result.get("nonce") if isinstance(result, dict) else None
        if type(nonce) is not int:
            raise MalformedResponse("account_nonce answered no nonce")
        return nonce

    async def notary_get(self, doc_hash: bytes, height: int | None = None) -> ProvenRecord:
        result = await self.rpc.call("notary_get", self.core.notary_params(doc_hash, height))
        return await self._verified(lambda: self.core.notary_result(result, doc_hash, height))

    # --- writes ----------------------------------------------------------------------------

    async def send(self, tx: Transaction, *, wait_s: float = SEND_WAIT_S) -> bytes:
        raw = to_hex(encode(tx))
        deadline = time.monotonic() + wait_s
        while True:
            try:
                result = await self.rpc.call("tx_send", {"tx": raw})
                return self.core.check_sent(result, tx)
            except RemoteError as error:
                if error.name == ALREADY_KNOWN:
                    return self.core.tx_hash(tx)
                if error.name != NONCE_TOO_HIGH or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(SEND_RETRY_S)

    async def submit(
        self,
        target: str,
        method: str,
        args: Any,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS,
    ) -> bytes:
        core = self.core
        address = core.signer().address
        for _ in range(NONCE_RETRIES_MAX):
            if not core.nonces.known(address):
                core.nonces.start(address, await self.nonce(address))
            elif core.head_stale():
                await self.chain_info()
            tx = core.build(
                target,
                method,
                args,
                nonce=core.nonces.take(address),
                gas_limit=gas_limit,
                expiry_blocks=expiry_blocks,
            )
            try:
                return await self.send(tx)
            except RemoteError as error:
                if error.name == NONCE_ALREADY_PENDING:
                    continue
                core.nonces.forget(address)
                if error.name != NONCE_TOO_LOW:
                    raise
        raise RemoteError("no free nonce found", code=0, name="NonceRetries", rpc_code=0)

    async def wait_receipt(self, tx_hash: bytes, *, timeout_s: float = 30.0) -> VerifiedReceipt:
        """The verified receipt, delivered by a `subscribe_receipt` subscription."""
        try:
            async with (
                asyncio.timeout(timeout_s),
                contextlib.aclosing(
                    self._subscription("subscribe_receipt", [to_hex(tx_hash)])
                ) as results,
            ):
                async for result in results:
                    return await self._verified(
                        partial(self.core.verifier.receipt, result, tx_hash)
                    )
        except TimeoutError:
            raise ReceiptTimeout(f"no receipt for {tx_hash.hex()} within {timeout_s} s") from None
        raise NodeUnreachable("the subscription ended before the receipt came")

    async def execute(
        self,
        target: str,
        method: str,
        args: Any,
        *,
        timeout_s: float = 30.0,
        check: bool = True,
        gas_limit: int = DEFAULT_GAS_LIMIT,
    ) -> VerifiedReceipt:
        tx_hash = await self.submit(target, method, args, gas_limit=gas_limit)
        receipt = await self.wait_receipt(tx_hash, timeout_s=timeout_s)
        return self.core.require_success(receipt) if check else receipt

    async def notary_register(
        self,
        doc_hash: bytes,
        metadata: dict[str, Any] | None = None,
        locator: str | None = None,
        *,
        timeout_s: float = 30.0,
    ) -> VerifiedReceipt:
        args = self.core.register_args(doc_hash, metadata, locator)
        return await self.execute("notary", "register", args, timeout_s=timeout_s)

    # --- governance ------------------------------------------------------------------------

    async def propose(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        description: str | None = None,
        expiry_height: int | None = None,
        activation_height: int | None = None,
        timeout_s: float = 30.0,
    ) -> int:
        """As `Client.propose`: the proposal id, or GovernanceCallFailed."""
        args = proposal_args(
            kind,
            payload,
            description=description,
            expiry_height=expiry_height,
            activation_height=activation_height,
        )
        receipt = await self.execute(
            "governance",
            "propose",
            args,
            timeout_s=timeout_s,
            check=False,
            gas_limit=GOVERNANCE_GAS_LIMIT,
        )
        return returned_id(require_accepted(receipt, "proposal"))

    async def vote(
        self, proposal_id: int, approve: bool, *, timeout_s: float = 30.0
    ) -> dict[str, Any]:
        """As `Client.vote`: `{id, status, yes, no}` after the vote."""
        args = {"id": proposal_id, "approve": approve}
        receipt = await self.execute(
            "governance",
            "vote",
            args,
            timeout_s=timeout_s,
            check=False,
            gas_limit=GOVERNANCE_GAS_LIMIT,
        )
        return dict(returned_map(require_accepted(receipt, "vote")))

    async def proposal(self, proposal_id: int) -> ProvenProposal:
        result = await self.rpc.call("gov_proposal", {"id": proposal_id})
        return await self._verified(lambda: self.core.proposal_result(result, proposal_id))

    async def proposals(
        self, *, status: str | None = None, start: int = 0, limit: int = 20
    ) -> dict[str, Any]:
        params = self.core.proposals_params(status, start, limit)
        result = await self.rpc.call("gov_proposals", params)
        return self.core.object_result(result, "gov_proposals")

    async def params(self) -> dict[str, Any]:
        return self.core.object_result(await self.rpc.call("gov_params"), "gov_params")

    async def validators(self) -> dict[str, Any]:
        return self.core.object_result(await self.rpc.call("gov_validators"), "gov_validators")

    async def organisations(self) -> dict[str, Any]:
        result = await self.rpc.call("gov_organisations")
        return self.core.object_result(result, "gov_organisations")

    # --- deployed contracts (as `Client`'s) -----------------------------------------------

    async def contract_upload(self, code: str, *, timeout_s: float = 30.0) -> bytes:
        receipt = await self.execute(
            "contracts",
            "upload",
            {"code": code},
            timeout_s=timeout_s,
            gas_limit=contract_proofs.UPLOAD_GAS_LIMIT,
        )
        return contract_proofs.upload_result(receipt)

    async def contract_call(
        self,
        name: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        gas_limit: int = DEFAULT_GAS_LIMIT,
        timeout_s: float = 30.0,
        check: bool = True,
    ) -> VerifiedReceipt:
        return await self.execute(
            name, method, dict(args or {}), timeout_s=timeout_s, check=check, gas_limit=gas_limit
        )

    async def contract_query(
        self,
        name: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        height: int | None = None,
    ) -> Any:
        params = contract_proofs.query_params(name, method, args, height)
        result = await self.rpc.call("contract_query", params)
        return contract_proofs.query_result(self.core, result)

    async def contract_get(
        self, name: str, *, height: int | None = None
    ) -> contract_proofs.ProvenContract:
        result = await self.rpc.call("contract_get", contract_proofs.get_params(name, height))
        return await self._verified(
            lambda: contract_proofs.get_result(self.core, result, name, height)
        )

    async def contract_code(
        self, name: str, *, version: int | None = None
    ) -> contract_proofs.ProvenCode:
        proven = await self.contract_get(name)
        params, code_hash = contract_proofs.code_params(proven, version)
        result = await self.rpc.call("contract_code", params)
        return await self._verified(
            lambda: contract_proofs.code_result(self.core, result, params, code_hash)
        )

    # --- subscriptions ---------------------------------------------------------------------

    async def blocks(self) -> AsyncIterator[VerifiedBlock]:
        """Every block committed from now on, each verified against its certificate."""
        async with contextlib.aclosing(self._subscription("subscribe_blocks", None)) as results:
            async for result in results:
                height = result.get("height") if isinstance(result, dict) else None
                if type(height) is not int:
                    raise MalformedResponse("a block notification has no height")
                yield await self._verified(partial(self.core.verifier.block, result, height))

    async def events(
        self, contract: str | None = None, name: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Matching events from now on (as the node reports them; prove one through its
        transaction's receipt)."""
        params: dict[str, Any] = {}
        if contract is not None:
            params["contract"] = contract
        if name is not None:
            params["name"] = name
        async with contextlib.aclosing(self._subscription("subscribe_events", params)) as results:
            async for result in results:
                if not isinstance(result, dict):
                    raise MalformedResponse("an event notification is not an object")
                yield result

    async def _subscription(self, method: str, params: Any) -> AsyncGenerator[Any, None]:
        """Results of one subscription, on a WebSocket connection of its own."""
        headers = auth_headers(self.core.auth_header)
        try:
            async with connect(
                self.ws_url, max_size=WS_MESSAGE_BYTES_MAX, additional_headers=headers
            ) as socket:
                await socket.send(json.dumps(request_document(1, method, params)))
                subscription = result_of(json.loads(await socket.recv()), 1)
                async for message in socket:
                    document = json.loads(message)
                    if not isinstance(document, dict):
                        raise MalformedResponse("a subscription message is not an object")
                    if "error" in document:
                        raise remote_error(document["error"])
                    notification = document.get("params")
                    if (
                        document.get("method") == "subscription"
                        and isinstance(notification, dict)
                        and notification.get("subscription") == subscription
                    ):
                        yield notification.get("result")
        except InvalidStatus as error:
            response = error.response
            refusal = handshake_refusal(response.status_code, response.body, signed=bool(headers))
            if refusal is not None:
                raise refusal from None
            raise NodeUnreachable(f"subscription to {self.ws_url} failed: {error}") from None
        except (OSError, WebSocketException) as error:
            raise NodeUnreachable(f"subscription to {self.ws_url} failed: {error}") from None
        except ValueError:
            raise MalformedResponse("a subscription message is not JSON") from None
