"""Verification of what a node serves, against a QC-signed header and nothing else.

For every proof: decode the raw header and certificate (never the readable copies), check
the header hashes to the block hash the certificate signs, check the certificate with
`verify_commit` against the validator set of the header's epoch (`config_version`) as the
trusted schedule gives it (`sdk/epochs.py`: genesis validators for epoch 0, later sets only
from verified `chain_epochs` evidence), then check the RFC 6962 inclusion proof
(transaction, receipt) or the state proof against the header's root, for the very item
asked about. Any failure is an `InvalidProof`. Uses only the pure verifiers of
`gongshi.merkle` and `gongshi.consensus`.

Block 0 carries no signatures (its certificate is the genesis configuration): its header is
accepted only for `block_get`, and only if its parent hash is the genesis file's hash; proofs
against block 0 are refused (ask at a later height).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gongshi.api.wire import from_hex, inclusion_proof_from_json
from gongshi.codec import (
    BlockHeader,
    CborValue,
    QuorumCertificate,
    Receipt,
    Record,
    Transaction,
    decode,
    decode_value,
)
from gongshi.consensus import SuiteVerifier, decode_certificate, verify_commit
from gongshi.consensus.types import Phase
from gongshi.errors import GongshiError, InvalidProof
from gongshi.merkle import StateProof, hash_leaf, merkle_root, verify_inclusion, verify_state_proof
from gongshi.sdk.epochs import (
    VALIDATORS_KEY,
    VALIDATORS_NAMESPACE,
    EpochSchedule,
    EpochValidator,
    TrustedEpoch,
    decode_schedule,
    next_epoch,
)
from gongshi.sdk.errors import (
    EpochTransitionRejected,
    MalformedResponse,
    ProofMismatch,
    UnverifiedHeader,
)
from gongshi.sdk.keys import state_key
from gongshi.sdk.network import GENESIS_EPOCH, NetworkInfo

HASH_SIZE = 32
EPOCHS_PER_ANSWER_MAX = 64  # more items in one chain_epochs answer are not looked at


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedHeader:
    """A header proven final: `signers` of `validators` signed its COMMIT certificate."""

    header: BlockHeader
    hash: bytes
    certificate: QuorumCertificate
    signers: int
    validators: int
    epoch: int = GENESIS_EPOCH

    @property
    def height(self) -> int:
        return self.header.height


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedBlock:
    block: VerifiedHeader
    tx_hashes: tuple[bytes, ...]
    transactions: tuple[Transaction, ...] | None  # with `full`


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedTransaction:
    transaction: Transaction
    tx_hash: bytes
    index: int
    block: VerifiedHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedReceipt:
    receipt: Receipt
    tx_hash: bytes
    index: int
    block: VerifiedHeader


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifiedState:
    namespace: str
    key: bytes
    value: bytes | None
    block: VerifiedHeader


def _field(document: Any, name: str) -> Any:
    if not isinstance(document, dict) or name not in document:
        raise MalformedResponse(f"the response has no {name!r}")
    return document[name]


def _raw(document: Any, name: str) -> bytes:
    try:
        return from_hex(_field(document, name), what=name)
    except GongshiError as error:
        if isinstance(error, InvalidProof):
            raise
        raise MalformedResponse(f"{name}: {error.message}") from None


def _decode_raw(cls: type[Any], document: Any, name: str) -> Any:
    data = _raw(document, name)
    try:
        return decode(cls, data)
    except GongshiError as error:
        raise MalformedResponse(f"{name} does not decode: {error.message}") from None


def _int(document: Any, name: str) -> int:
    value = _field(document, name)
    if type(value) is not int:
        raise MalformedResponse(f"{name} is not an integer")
    return value


def _genesis_epoch(network: NetworkInfo) -> TrustedEpoch:
    return TrustedEpoch(
        epoch=GENESIS_EPOCH,
        activation_height=0,
        validators=network.validators,
        nodes=tuple(
            EpochValidator(
                name=v.name,
                organisation=v.organisation,
                public_key=v.public_key,
                api_address=str(v.api_address),
            )
            for v in network.genesis.validators
        ),
    )


class ProofVerifier:
    """Checks responses of the API against a network's genesis (see the module docstring).
    Holds the trusted epochs (`epochs`), extended by `trust_epochs`."""

    def __init__(self, network: NetworkInfo) -> None:
        self._network = network
        self._suite = network.suite
        self._verifier = SuiteVerifier(network.suite)
        self._chain_id = network.chain_id.encode()
        self.epochs = EpochSchedule(_genesis_epoch(network))

    # --- headers ---------------------------------------------------------------------------

    def _decoded_anchor(self, anchor: Any) -> tuple[BlockHeader, bytes, QuorumCertificate]:
        """The raw header (hashing to the claimed hash), its hash and the raw certificate."""
        header: BlockHeader = _decode_raw(BlockHeader, anchor, "header_raw")
        block_hash = header.hash(self._suite)
        if _raw(anchor, "hash") != block_hash:
            raise UnverifiedHeader(f"block {header.height}: the header does not hash to its hash")
        try:
            certificate = decode_certificate(_raw(anchor, "certificate_raw"))
        except GongshiError as error:
            if isinstance(error, InvalidProof):
                raise
            raise MalformedResponse(f"certificate: {error.message}") from None
        return header, block_hash, certificate

    def _certified(
        self, header: BlockHeader, block_hash: bytes, certificate: QuorumCertificate, epoch: int
    ) -> bool:
        validators = self.epochs.get(epoch).validators
        return verify_commit(
            self._chain_id, validators, block_hash, header.height, certificate, self._verifier
        )

    def header(self, anchor: Any, *, allow_genesis: bool = False) -> VerifiedHeader:
        """The header of an anchor object, proven final by its certificate (signed by its
        epoch's validators). UnknownEpoch if that epoch is not trusted yet."""
        header, block_hash, certificate = self._decoded_anchor(anchor)
        epoch = self.epochs.for_header(header)
        validators = epoch.validators
        if header.height == 0:
            self._check_genesis(header, block_hash, certificate, allow_genesis)
        elif not self._certified(header, block_hash, certificate, epoch.epoch):
            raise UnverifiedHeader(
                f"block {header.height}: the finality certificate is not a valid quorum "
                f"({validators.quorum} of {validators.size}) of epoch {epoch.epoch}'s validators"
            )
        return VerifiedHeader(
            header=header,
            hash=block_hash,
            certificate=certificate,
            signers=len(certificate.signers),
            validators=validators.size,
            epoch=epoch.epoch,
        )

    # --- epochs ----------------------------------------------------------------------------

    def trust_epochs(self, result: Any) -> bool:
        """Verify a `chain_epochs` answer's items in order, each from the last trusted epoch,
        and trust them. Items of epochs already trusted are skipped. True if the answer says
        more epochs follow (`next`) and this one made progress."""
        items = _field(result, "epochs")
        if not isinstance(items, list):
            raise MalformedResponse("chain_epochs: epochs is not a list")
        added = 0
        for item in items[:EPOCHS_PER_ANSWER_MAX]:
            claimed = _int(item, "epoch")
            if claimed <= self.epochs.latest.epoch:
                continue
            self.epochs.add(self._transition(self.epochs.latest, item))
            added += 1
        return added > 0 and _field(result, "next") is not None

    def _transition(self, previous: TrustedEpoch, item: Any) -> TrustedEpoch:
        """Epoch previous+1 from its evidence (docs/sdk.md, "Validator-set changes")."""
        claimed, wanted = _int(item, "epoch"), previous.epoch + 1
        if claimed != wanted:
            raise EpochTransitionRejected(
                f"evidence for epoch {claimed} while epoch {wanted} is the next to prove"
            )
        state = _field(item, "state")
        header, block_hash, certificate = self._decoded_anchor(_field(state, "anchor"))
        height = header.height
        if header.config_version != previous.epoch or height < max(previous.activation_height, 1):
            raise EpochTransitionRejected(
                f"epoch {wanted}'s evidence, block {height} of epoch {header.config_version}, "
                f"is not a block of epoch {previous.epoch} (from height "
                f"{previous.activation_height})"
            )
        if not self._certified(header, block_hash, certificate, previous.epoch):
            raise EpochTransitionRejected(
                f"epoch {wanted}'s evidence, block {height}, is not certified by a quorum of "
                f"epoch {previous.epoch}'s validators"
            )
        if _int(state, "height") != height:
            raise ProofMismatch("the schedule's proof height is not its anchor's")
        value = self._proven_value(state, header, VALIDATORS_NAMESPACE, VALIDATORS_KEY)
        if value is None:
            raise EpochTransitionRejected(f"block {height}'s state holds no validator schedule")
        epoch = next_epoch(previous, header, decode_schedule(value))
        if _int(item, "activation_height") != epoch.activation_height:
            raise EpochTransitionRejected(
                f"epoch {wanted} is said to start at {_int(item, 'activation_height')}, but the "
                f"proven schedule starts it at {epoch.activation_height}"
            )
        return epoch

    def _check_genesis(
        self,
        header: BlockHeader,
        block_hash: bytes,
        certificate: QuorumCertificate,
        allow_genesis: bool,
    ) -> None:
        if not allow_genesis:
            raise UnverifiedHeader(
                "block 0 has no signatures, so nothing is proven against it; ask at a later height"
            )
        if (
            certificate.phase != Phase.GENESIS
            or certificate.block_hash != block_hash
            or header.parent_hash != self._network.genesis_hash
        ):
            raise UnverifiedHeader("block 0 is not the genesis block of this network")

    # --- blocks ----------------------------------------------------------------------------

    def block(self, result: Any, ref: int | bytes) -> VerifiedBlock:
        """A block_get result: the header is final, is the one asked for, and its
        transactions (hashes, and the full ones if present) make its tx root."""
        verified = self.header(result, allow_genesis=True)
        if (isinstance(ref, int) and verified.height != ref) or (
            isinstance(ref, bytes) and verified.hash != ref
        ):
            raise ProofMismatch("the node answered with another block than the one asked for")
        hashes_json = _field(result, "tx_hashes")
        if not isinstance(hashes_json, list):
            raise MalformedResponse("tx_hashes is not a list")
        tx_hashes = tuple(_raw({"h": item}, "h") for item in hashes_json)
        if merkle_root(self._suite.hash, tx_hashes) != verified.header.tx_root:
            raise ProofMismatch(f"block {verified.height}: tx_hashes do not make its tx root")
        transactions = None
        if isinstance(result, dict) and "transactions_raw" in result:
            raws = result["transactions_raw"]
            if not isinstance(raws, list) or len(raws) != len(tx_hashes):
                raise MalformedResponse("transactions_raw does not match tx_hashes")
            transactions = tuple(_decode_raw(Transaction, {"t": item}, "t") for item in raws)
            if tuple(tx.hash(self._suite) for tx in transactions) != tx_hashes:
                raise ProofMismatch(f"block {verified.height}: transactions are not its own")
        return VerifiedBlock(block=verified, tx_hashes=tx_hashes, transactions=transactions)

    # --- transactions and receipts ---------------------------------------------------------

    def transaction(self, result: Any, tx_hash: bytes) -> VerifiedTransaction:
        transaction: Transaction = _decode_raw(Transaction, result, "transaction_raw")
        if transaction.hash(self._suite) != tx_hash:
            raise ProofMismatch("the node answered with another transaction")
        block, index = self._included(result, hash_leaf(self._suite.hash, tx_hash), "tx_root")
        return VerifiedTransaction(
            transaction=transaction, tx_hash=tx_hash, index=index, block=block
        )

    def receipt(self, result: Any, tx_hash: bytes) -> VerifiedReceipt:
        receipt_bytes = _raw(result, "receipt_raw")
        try:
            receipt = decode(Receipt, receipt_bytes)
        except GongshiError as error:
            raise MalformedResponse(f"receipt_raw does not decode: {error.message}") from None
        if receipt.tx_hash != tx_hash:
            raise ProofMismatch("the node answered with the receipt of another transaction")
        leaf = hash_leaf(self._suite.hash, receipt_bytes)
        block, index = self._included(result, leaf, "receipts_root")
        return VerifiedReceipt(receipt=receipt, tx_hash=tx_hash, index=index, block=block)

    def _included(
        self, result: Any, leaf_hash: bytes, root_name: str
    ) -> tuple[VerifiedHeader, int]:
        """The final header of `result`'s anchor, and the leaf's index under its root."""
        block = self.header(_field(result, "anchor"))
        index = _int(result, "index")
        if _int(result, "height") != block.height:
            raise ProofMismatch("the proof's height is not its anchor's")
        try:
            proof = inclusion_proof_from_json(_field(result, "proof"))
        except GongshiError as error:
            raise MalformedResponse(f"proof: {error.message}") from None
        if proof.leaf_index != index:
            raise ProofMismatch("the proof is for another position than the one claimed")
        root: bytes = getattr(block.header, root_name)
        verify_inclusion(self._suite.hash, leaf_hash=leaf_hash, proof=proof, root=root)
        return block, index

    # --- state -----------------------------------------------------------------------------

    def state(
        self, result: Any, namespace: str, key: bytes, height: int | None = None
    ) -> VerifiedState:
        """A state_get result: `key` of `namespace` holds `value` (None: absent) in the
        state of a final block (at `height`, if one was asked for)."""
        block = self.header(_field(result, "anchor"))
        if height is not None and block.height != height:
            raise ProofMismatch(f"asked for the state at {height}, got {block.height}")
        value = self._proven_value(result, block.header, namespace, key)
        return VerifiedState(namespace=namespace, key=key, value=value, block=block)

    def _proven_value(
        self, result: Any, header: BlockHeader, namespace: str, key: bytes
    ) -> bytes | None:
        """The value (None: absent) of a state read of `key`, its proof checked against
        `header`'s state root."""
        if _field(result, "namespace") != namespace or _raw(result, "key") != key:
            raise ProofMismatch("the node proved another key than the one asked for")
        value_json = _field(result, "value")
        value = None if value_json is None else _raw(result, "value")
        try:
            proof = StateProof.decode(_raw(result, "proof"))
        except GongshiError as error:
            if isinstance(error, InvalidProof):
                raise
            raise MalformedResponse(f"state proof: {error.message}") from None
        verify_state_proof(
            self._suite.hash, header.state_root, state_key(namespace, key), value, proof
        )
        return value


def decode_record_value(data: bytes) -> CborValue:
    """A proven state value that is a record's encoding, as a CBOR map."""
    try:
        return decode_value(data, max_size=Record.encoded_bytes_max)
    except GongshiError as error:
        raise MalformedResponse(f"the proven value does not decode: {error.message}") from None
