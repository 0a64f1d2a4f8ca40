"""`ChainService`: the logic of every RPC method, over injected collaborators.

Transport-free: methods take checked Python values and return JSON-ready objects (the wire
form of `gongshi.api.wire`). Read methods only read the ledger (thread-safe: the server runs
them in worker threads); `tx_send` is a coroutine that verifies the transaction in a worker
thread (concurrent calls share one hand-off: `admission_batch`) and adds it to the pool on the
event loop thread, which owns the pool.

Everything a client verifies comes with its *anchor*: the block header (raw and readable)
and the finality certificate of the block the proof is against.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gongshi import __version__
from gongshi.api.admission_batch import AdmissionBatcher
from gongshi.api.epochs import (
    head_epoch,
    node_json,
    params_for_next_block,
    params_json,
    validators_at_head,
)
from gongshi.api.errors import ApiUnavailable
from gongshi.api.wire import (
    Json,
    certificate_to_json,
    header_to_json,
    inclusion_proof_to_json,
    receipt_to_json,
    to_hex,
    transaction_to_json,
    value_to_json,
)
from gongshi.codec import Block, BlockHeader, encode
from gongshi.consensus import decode_certificate
from gongshi.crypto import Suite
from gongshi.execution import ContractRegistry, PreparedTransaction, default_registry
from gongshi.execution.contract_dispatch import QueryBlock, query_any
from gongshi.execution.contract_runtime import ContractCache
from gongshi.execution.notary import NAME as NOTARY
from gongshi.execution.notary import record_key
from gongshi.mempool import Admitted, MempoolStats
from gongshi.mempool.admission import AdmissionChecker
from gongshi.mempool.errors import GasLimitTooHigh, TransactionTooLarge
from gongshi.node.genesis import ChainParams, Genesis, genesis_hash
from gongshi.storage import EventPosition, Ledger
from gongshi.storage.errors import TransactionNotFound

logger = logging.getLogger(__name__)


class TxPool(Protocol):
    """What the API needs of the mempool (`gongshi.mempool.Mempool` is one)."""

    @property
    def checker(self) -> AdmissionChecker: ...

    @property
    def next_height(self) -> int: ...

    def contains(self, tx_hash: bytes) -> bool: ...

    def add(self, prepared: PreparedTransaction) -> Admitted: ...

    def get(self, tx_hash: bytes) -> PreparedTransaction | None: ...

    def stats(self) -> MempoolStats: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainContext:
    """What the service says about the chain and the node besides the ledger."""

    genesis: Genesis
    suite: Suite
    node_name: str
    # Connected peers, asked at each `chain_info` (the node's network knows).
    peers: Callable[[], int] = field(default=lambda: 0)


def cursor_text(position: EventPosition) -> str:
    return f"{position.height}:{position.tx_index}:{position.event_index}"


class ChainService:
    """Every RPC method's logic. `pool` may be None for a node that accepts no transactions."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        pool: TxPool | None,
        context: ChainContext,
        registry: ContractRegistry | None = None,
        contracts: ContractCache | None = None,
    ) -> None:
        self._ledger = ledger
        self._pool = pool
        self._context = context
        self._suite = context.suite
        self._registry = registry or default_registry()
        # Loaded code of deployed contracts, for queries (bounded; shared by worker threads).
        self.contracts = contracts or ContractCache()
        self._genesis_hash = genesis_hash(context.genesis)
        # (head height, parameters in force at head + 1): read again after each commit.
        self._next_params: tuple[int, ChainParams] | None = None
        self._admissions: AdmissionBatcher | None = None  # made at the first tx_send

    @property
    def ledger(self) -> Ledger:
        return self._ledger

    # --- chain -----------------------------------------------------------------------------

    def chain_info(self) -> Json:
        """The chain and this node; the epoch and validator set of the committed head and
        the parameters in force for the next block come from the chain state (governance),
        not the genesis file."""
        genesis = self._context.genesis
        height = self._ledger.committed_height
        info: Json = {
            "chain_id": genesis.params.chain_id,
            "suite": genesis.suite,
            "node": self._context.node_name,
            "version": __version__,
            "genesis_hash": to_hex(self._genesis_hash),
            "height": height,
            "head_hash": None if height is None else to_hex(self._ledger.head_hash),
            "epoch": None,
            "validators": [],
            "params": params_json(genesis.params),
            "peers": self._context.peers(),
            "mempool_size": None if self._pool is None else len(self._pool),
        }
        if height is not None:
            entry = validators_at_head(self._ledger)
            info["epoch"] = head_epoch(self._ledger)
            info["validators"] = [
                {"index": index, **node_json(node)} for index, node in enumerate(entry.validators)
            ]
            info["validators_since"] = entry.activation_height
            info["params"] = params_json(self.params_in_force())
        return info

    def node_status(self) -> Json:
        """This node's own state, not chain data: peers and what its mempool holds."""
        pool = None if self._pool is None else self._pool.stats()
        return {
            "node": self._context.node_name,
            "version": __version__,
            "height": self._ledger.committed_height,
            "peers": self._context.peers(),
            "mempool": None
            if pool is None
            else {
                "count": pool.count,
                "size_bytes": pool.size_bytes,
                "ready": pool.ready,
                "senders": pool.senders,
            },
        }

    def params_in_force(self) -> ChainParams:
        """The chain parameters of the next block (head + 1), cached per head."""
        head = self._ledger.committed_height
        cached = self._next_params
        if cached is None or cached[0] != head:
            cached = params_for_next_block(self._ledger, self._context.genesis.params)
            self._next_params = cached
        return cached[1]

    def anchor(self, height: int, header: BlockHeader | None = None) -> Json:
        """The header and finality certificate of block `height`: what proofs verify against.
        `header`: the block's header if the caller has it already."""
        if header is None:
            header = self._ledger.get_header(height)
        certificate_bytes = self._ledger.get_certificate(height)
        certificate = decode_certificate(certificate_bytes)
        return {
            "height": height,
            "hash": to_hex(header.hash(self._suite)),
            "header": header_to_json(header),
            "header_raw": to_hex(header.encode()),
            "certificate": certificate_to_json(certificate),
            "certificate_raw": to_hex(certificate_bytes),
        }

    # --- transactions ----------------------------------------------------------------------

    async def tx_send(self, raw: bytes) -> Json:
        """Admit a signed transaction: checks (signature included) in a worker thread, then
        the pool's stateful checks on this (the pool's) thread. Admission errors propagate
        with their own codes."""
        pool = self._pool
        if pool is None:
            raise ApiUnavailable("this node does not accept transactions")
        # The limits of the parameters in force, whatever the pool was configured with.
        params = self.params_in_force()
        if len(raw) > params.tx_bytes_max:
            raise TransactionTooLarge(
                f"transaction is {len(raw)} bytes, the limit is {params.tx_bytes_max}"
            )
        prepared = await self._admission_batcher(pool).check(raw)
        if prepared.tx.gas_limit > params.block_gas_max:
            raise GasLimitTooHigh(
                f"gas limit {prepared.tx.gas_limit} exceeds the block gas limit "
                f"{params.block_gas_max}"
            )
        admitted = pool.add(prepared)
        return {"tx_hash": to_hex(admitted.tx_hash), "ready": admitted.ready}

    def _admission_batcher(self, pool: TxPool) -> AdmissionBatcher:
        """Checks of concurrent `tx_send` calls share one check (few thread hand-offs)."""
        if self._admissions is None:
            checker = pool.checker
            self._admissions = AdmissionBatcher(
                lambda raws: checker.check_batch_from_loop(
                    raws, next_height=pool.next_height, known=pool.contains
                )
            )
        return self._admissions

    def tx_get(self, tx_hash: bytes) -> Json | None:
        """A committed transaction with its inclusion proof, a pending one, or None."""
        try:
            found = self._ledger.get_transaction(tx_hash)
        except TransactionNotFound:
            return self._pending(tx_hash)
        return {
            "status": "committed",
            "tx_hash": to_hex(tx_hash),
            "height": found.height,
            "index": found.index,
            "transaction": transaction_to_json(found.transaction),
            "transaction_raw": to_hex(encode(found.transaction)),
            "proof": inclusion_proof_to_json(found.proof),
            "anchor": self.anchor(found.height),
        }

    def _pending(self, tx_hash: bytes) -> Json | None:
        # The pool belongs to the event loop thread; one dict lookup is safe from any
        # thread, and a stale answer only says "pending" a moment too long.
        prepared = None if self._pool is None else self._pool.get(tx_hash)
        if prepared is None:
            return None
        return {
            "status": "pending",
            "tx_hash": to_hex(tx_hash),
            "transaction": transaction_to_json(prepared.tx),
            "transaction_raw": to_hex(encode(prepared.tx)),
        }

    def tx_receipt(self, tx_hash: bytes) -> Json | None:
        """The receipt of a committed transaction with its inclusion proof; None if the
        transaction is not committed (yet)."""
        try:
            found = self._ledger.get_receipt(tx_hash)
        except TransactionNotFound:
            return None
        return {
            "tx_hash": to_hex(tx_hash),
            "height": found.height,
            "index": found.index,
            "receipt": receipt_to_json(found.receipt),
            "receipt_raw": to_hex(encode(found.receipt)),
            "proof": inclusion_proof_to_json(found.proof),
            "anchor": self.anchor(found.height),
        }

    def account_nonce(self, address: bytes) -> Json:
        """The next nonce the account must use, by the committed chain (pending ones aside)."""
        return {
            "address": to_hex(address),
            "nonce": self._ledger.get_nonce(address),
            "height": self._ledger.committed_height,
        }

    # --- blocks ----------------------------------------------------------------------------

    def block_get(self, ref: int | bytes, *, full: bool = False) -> Json:
        """A committed block by height or hash, with its certificate; `full` adds the
        transactions themselves (hashes only otherwise)."""
        ledger = self._ledger
        block = ledger.get_block(ref) if isinstance(ref, int) else ledger.get_block_by_hash(ref)
        result = self.block_notification(block)
        if full:
            result["transactions"] = [transaction_to_json(tx) for tx in block.transactions]
            result["transactions_raw"] = [to_hex(encode(tx)) for tx in block.transactions]
        return result

    def block_notification(self, block: Block) -> Json:
        """What `subscribe_blocks` sends for a just-committed block: as `block_get`."""
        result = self.anchor(block.height, block.header)
        result["tx_count"] = len(block.transactions)
        result["tx_hashes"] = [to_hex(tx.hash(self._suite)) for tx in block.transactions]
        return result

    # --- state -----------------------------------------------------------------------------

    def state_get(self, namespace: str, key: bytes, height: int | None = None) -> Json:
        """A state value (null: absent) with its proof against the header's state root."""
        read = self._ledger.get_state(namespace, key, height)
        return {
            "namespace": namespace,
            "key": to_hex(key),
            "height": read.height,
            "value": None if read.value is None else to_hex(read.value),
            "proof": to_hex(read.proof.encode()),
            "anchor": self.anchor(read.height),
        }

    def contract_query(
        self, target: str, method: str, args: Any, height: int | None = None
    ) -> Json:
        """Run a read-only method of a system contract or a deployed contract's read-only
        export against the state at `height` (the contract sees that block's time)."""
        view = self._ledger.state_reader(height)
        block = QueryBlock(
            chain_id=self._context.genesis.params.chain_id,
            height=view.height,
            timestamp_ms=self._ledger.get_header(view.height).timestamp_ms,
        )
        value = query_any(
            self._registry, view, target, method, args, block=block, cache=self.contracts
        )
        return {"height": view.height, "result": value_to_json(value)}

    def notary_get(self, doc_hash: bytes, height: int | None = None) -> Json:
        """The notary record of `doc_hash` (null if never registered), and the state read
        that proves it: the record's encoding at its key, against a certified header."""
        found = self.contract_query(NOTARY, "get", {"doc_hash": doc_hash}, height)
        proof = self.state_get(NOTARY, record_key(doc_hash), found["height"])
        return {"height": found["height"], "record": found["result"], "state": proof}

    def notary_list(self, owner: bytes, start: int, limit: int) -> Json:
        args = {"owner": owner, "start": start, "limit": limit}
        return self.contract_query(NOTARY, "list", args)

    # --- events ----------------------------------------------------------------------------

    def events_query(
        self,
        *,
        contract: str,
        name: str,
        from_height: int = 0,
        to_height: int | None = None,
        limit: int = 100,
        cursor: tuple[int, int, int] | None = None,
    ) -> Json:
        after = None
        if cursor is not None:
            after = EventPosition(height=cursor[0], tx_index=cursor[1], event_index=cursor[2])
        page = self._ledger.get_events(
            contract, name, from_height=from_height, to_height=to_height, limit=limit, after=after
        )
        return {
            "events": [
                {
                    "height": item.position.height,
                    "tx_index": item.position.tx_index,
                    "event_index": item.position.event_index,
                    "contract": item.event.contract,
                    "name": item.event.name,
                    "fields": value_to_json(item.event.fields),
                }
                for item in page.events
            ],
            "next_cursor": None if page.next_after is None else cursor_text(page.next_after),
        }
