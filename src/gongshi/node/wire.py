"""Canonical encodings of what nodes send each other (and of the persisted safety state).

Consensus types are plain frozen dataclasses in `gongshi.consensus` (the engine stays free of
encoding concerns); here each gets a codec record twin, so a peer's bytes are accepted only if
they are the canonical encoding of a valid record, and conversion is a field-by-field copy.
Everything a peer sends is decoded by `decode_body`, which turns any problem into
`MalformedPeerMessage` (a bad message is dropped and logged, never raised further).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Annotated, ClassVar, TypeVar

from gongshi.codec import Block as LedgerBlock
from gongshi.codec import BlockHeader, QuorumCertificate
from gongshi.codec.errors import InvalidField
from gongshi.codec.fields import HASH, UINT64
from gongshi.codec.kinds import Array, Bytes, Enum, Nested, Optional, UInt
from gongshi.codec.limits import (
    BLOCK_TRANSACTIONS_MAX,
    TRANSACTION_BYTES_MAX,
    VALIDATORS_MAX,
)
from gongshi.codec.qc import QC_SIGNATURE
from gongshi.codec.record import Record, decode, record
from gongshi.consensus.messages import (
    CommitSignature,
    Message,
    Proposal,
    SyncedBlock,
    SyncRequest,
    SyncResponse,
    Timeout,
    Vote,
)
from gongshi.consensus.types import Block, Justify, SafetyState, TimeoutCertificate
from gongshi.errors import GongshiError
from gongshi.network.messages import BODY_BYTES_MAX
from gongshi.node.errors import MalformedPeerMessage

R = TypeVar("R", bound=Record)

PAYLOAD_BYTES_MAX = 8 << 20  # a header and up to BLOCK_TRANSACTIONS_MAX hashes
COMMITS_MAX = 1024  # finality certificates one justify or vote carries
SYNC_BLOCKS_MAX = 256  # proposals in one consensus sync response
BLOCKS_PER_RESPONSE_MAX = 256  # committed blocks in one block-sync response
GOSSIP_BATCH_MAX = 4096  # transactions in one gossip frame
SIGNATURE = Bytes(size_min=1, size_max=128)
INDEX = UInt(VALIDATORS_MAX - 1)


# --- consensus messages ------------------------------------------------------------------


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireBlock(Record):
    encoded_bytes_max: ClassVar[int] = PAYLOAD_BYTES_MAX + 256

    height: Annotated[int, UINT64]
    parent_hash: Annotated[bytes, HASH]
    payload: Annotated[bytes, Bytes(size_min=0, size_max=PAYLOAD_BYTES_MAX)]
    block_hash: Annotated[bytes, HASH]
    nil: Annotated[int, UInt(1)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireJustify(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    epoch: Annotated[int, UINT64]
    qc: Annotated[QuorumCertificate, Nested(QuorumCertificate)]
    commits: Annotated[
        tuple[QuorumCertificate, ...], Array(Nested(QuorumCertificate), length_max=COMMITS_MAX)
    ]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireTimeoutCertificate(Record):
    epoch: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    signers: Annotated[tuple[int, ...], Array(INDEX, length_max=VALIDATORS_MAX)]
    high_qc_rounds: Annotated[tuple[int, ...], Array(UINT64, length_max=VALIDATORS_MAX)]
    signatures: Annotated[tuple[bytes, ...], Array(QC_SIGNATURE, length_max=VALIDATORS_MAX)]

    def check_invariants(self) -> None:
        if not len(self.signers) == len(self.high_qc_rounds) == len(self.signatures):
            raise InvalidField("WireTimeoutCertificate", "signers", "lengths differ")


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireProposal(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    epoch: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    proposer: Annotated[int, INDEX]
    block: Annotated[WireBlock, Nested(WireBlock)]
    justify: Annotated[WireJustify, Nested(WireJustify)]
    timeout_certificate: Annotated[
        WireTimeoutCertificate | None, Optional(Nested(WireTimeoutCertificate))
    ] = None
    signature: Annotated[bytes, SIGNATURE]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireCommitSignature(Record):
    height: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    block_hash: Annotated[bytes, HASH]
    signature: Annotated[bytes, SIGNATURE]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireVote(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    epoch: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    height: Annotated[int, UINT64]
    block_hash: Annotated[bytes, HASH]
    voter: Annotated[int, INDEX]
    signature: Annotated[bytes, SIGNATURE]
    commits: Annotated[
        tuple[WireCommitSignature, ...],
        Array(Nested(WireCommitSignature), length_max=COMMITS_MAX),
    ]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireTimeout(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    epoch: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    voter: Annotated[int, INDEX]
    high_qc: Annotated[WireJustify, Nested(WireJustify)]
    high_tc: Annotated[WireTimeoutCertificate | None, Optional(Nested(WireTimeoutCertificate))] = (
        None
    )
    signature: Annotated[bytes, SIGNATURE]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireSyncRequest(Record):
    epoch: Annotated[int, UINT64]
    committed_height: Annotated[int, UINT64]
    block_hash: Annotated[bytes | None, Optional(HASH)] = None


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireSyncedBlock(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    proposal: Annotated[WireProposal, Nested(WireProposal)]
    certificate: Annotated[QuorumCertificate | None, Optional(Nested(QuorumCertificate))] = None


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireSyncResponse(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    blocks: Annotated[
        tuple[WireSyncedBlock, ...], Array(Nested(WireSyncedBlock), length_max=SYNC_BLOCKS_MAX)
    ]


class ConsensusKind(enum.IntEnum):
    """Which consensus message a `ConsensusFrame` holds. On the wire: add, never renumber."""

    PROPOSAL = 1
    VOTE = 2
    TIMEOUT = 3
    SYNC_REQUEST = 4
    SYNC_RESPONSE = 5


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class ConsensusFrame(Record):
    """The body of a `MessageKind.CONSENSUS` envelope: a kind and that message's encoding."""

    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    kind: Annotated[ConsensusKind, Enum(ConsensusKind)]
    message: Annotated[bytes, Bytes(size_min=1, size_max=BODY_BYTES_MAX - 64)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class WireSafetyState(Record):
    """The persisted `SafetyState` (see `node/safety.py`)."""

    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    epoch: Annotated[int, UINT64]
    last_voted_round: Annotated[int, UINT64]
    high_qc: Annotated[WireJustify, Nested(WireJustify)]


# --- node-to-node messages besides consensus ---------------------------------------------


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class ProposalPayload(Record):
    """What a consensus block's payload holds: the header and the transactions by hash
    (replicas resolve them from their mempool and fetch only what they lack)."""

    encoded_bytes_max: ClassVar[int] = PAYLOAD_BYTES_MAX

    header: Annotated[BlockHeader, Nested(BlockHeader)]
    tx_hashes: Annotated[tuple[bytes, ...], Array(HASH, length_max=BLOCK_TRANSACTIONS_MAX)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class Status(Record):
    """A node's periodic announcement: how far its ledger is."""

    committed_height: Annotated[int, UINT64]
    head_hash: Annotated[bytes, HASH]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class TxBatch(Record):
    """Transactions (canonical encodings) gossiped in one frame."""

    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    transactions: Annotated[
        tuple[bytes, ...],
        Array(Bytes(size_min=1, size_max=TRANSACTION_BYTES_MAX), length_max=GOSSIP_BATCH_MAX),
    ]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class TxFetchRequest(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    request_id: Annotated[int, UINT64]
    tx_hashes: Annotated[tuple[bytes, ...], Array(HASH, length_max=BLOCK_TRANSACTIONS_MAX)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class TxFetchResponse(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    request_id: Annotated[int, UINT64]
    transactions: Annotated[
        tuple[bytes, ...],
        Array(Bytes(size_min=1, size_max=TRANSACTION_BYTES_MAX), length_max=BLOCK_TRANSACTIONS_MAX),
    ]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class BlockRequest(Record):
    """Block sync: committed blocks `from_height`, `from_height + 1`, ... (at most `count`)."""

    from_height: Annotated[int, UINT64]
    count: Annotated[int, UInt(BLOCKS_PER_RESPONSE_MAX)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedBlock(Record):
    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    block: Annotated[LedgerBlock, Nested(LedgerBlock)]
    certificate: Annotated[QuorumCertificate, Nested(QuorumCertificate)]


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class BlockResponse(Record):
    """Block sync: consecutive committed blocks with their finality certificates."""

    encoded_bytes_max: ClassVar[int] = BODY_BYTES_MAX

    blocks: Annotated[
        tuple[CommittedBlock, ...],
        Array(Nested(CommittedBlock), length_max=BLOCKS_PER_RESPONSE_MAX),
    ]


def decode_body(cls: type[R], body: bytes) -> R:
    """A peer's message as a `cls` record; MalformedPeerMessage on anything else."""
    try:
        return decode(cls, body, max_size=BODY_BYTES_MAX)
    except GongshiError as error:
        raise MalformedPeerMessage(f"not a valid {cls.__name__}: {error.message}") from None


# --- conversions -------------------------------------------------------------------------


def block_to_wire(block: Block) -> WireBlock:
    return WireBlock(
        height=block.height,
        parent_hash=block.parent_hash,
        payload=block.payload,
        block_hash=block.block_hash,
        nil=int(block.nil),
    )


def block_from_wire(wire: WireBlock) -> Block:
    return Block(
        height=wire.height,
        parent_hash=wire.parent_hash,
        payload=wire.payload,
        block_hash=wire.block_hash,
        nil=bool(wire.nil),
    )


def justify_to_wire(justify: Justify) -> WireJustify:
    return WireJustify(epoch=justify.epoch, qc=justify.qc, commits=justify.commits)


def justify_from_wire(wire: WireJustify) -> Justify:
    return Justify(epoch=wire.epoch, qc=wire.qc, commits=wire.commits)


def tc_to_wire(tc: TimeoutCertificate | None) -> WireTimeoutCertificate | None:
    if tc is None:
        return None
    return WireTimeoutCertificate(
        epoch=tc.epoch,
        round=tc.round,
        signers=tc.signers,
        high_qc_rounds=tc.high_qc_rounds,
        signatures=tc.signatures,
    )


def tc_from_wire(wire: WireTimeoutCertificate | None) -> TimeoutCertificate | None:
    if wire is None:
        return None
    return TimeoutCertificate(
        epoch=wire.epoch,
        round=wire.round,
        signers=wire.signers,
        high_qc_rounds=wire.high_qc_rounds,
        signatures=wire.signatures,
    )


def proposal_to_wire(proposal: Proposal) -> WireProposal:
    return WireProposal(
        epoch=proposal.epoch,
        round=proposal.round,
        proposer=proposal.proposer,
        block=block_to_wire(proposal.block),
        justify=justify_to_wire(proposal.justify),
        timeout_certificate=tc_to_wire(proposal.timeout_certificate),
        signature=proposal.signature,
    )


def proposal_from_wire(wire: WireProposal) -> Proposal:
    return Proposal(
        epoch=wire.epoch,
        round=wire.round,
        proposer=wire.proposer,
        block=block_from_wire(wire.block),
        justify=justify_from_wire(wire.justify),
        timeout_certificate=tc_from_wire(wire.timeout_certificate),
        signature=wire.signature,
    )


def _vote_to_wire(vote: Vote) -> WireVote:
    return WireVote(
        epoch=vote.epoch,
        round=vote.round,
        height=vote.height,
        block_hash=vote.block_hash,
        voter=vote.voter,
        signature=vote.signature,
        commits=tuple(
            WireCommitSignature(
                height=c.height, round=c.round, block_hash=c.block_hash, signature=c.signature
            )
            for c in vote.commits
        ),
    )


def _vote_from_wire(wire: WireVote) -> Vote:
    return Vote(
        epoch=wire.epoch,
        round=wire.round,
        height=wire.height,
        block_hash=wire.block_hash,
        voter=wire.voter,
        signature=wire.signature,
        commits=tuple(
            CommitSignature(
                height=c.height, round=c.round, block_hash=c.block_hash, signature=c.signature
            )
            for c in wire.commits
        ),
    )


def _timeout_to_wire(timeout: Timeout) -> WireTimeout:
    return WireTimeout(
        epoch=timeout.epoch,
        round=timeout.round,
        voter=timeout.voter,
        high_qc=justify_to_wire(timeout.high_qc),
        high_tc=tc_to_wire(timeout.high_tc),
        signature=timeout.signature,
    )


def _timeout_from_wire(wire: WireTimeout) -> Timeout:
    return Timeout(
        epoch=wire.epoch,
        round=wire.round,
        voter=wire.voter,
        high_qc=justify_from_wire(wire.high_qc),
        high_tc=tc_from_wire(wire.high_tc),
        signature=wire.signature,
    )


def _sync_response_to_wire(response: SyncResponse) -> WireSyncResponse:
    return WireSyncResponse(
        blocks=tuple(
            WireSyncedBlock(
                proposal=proposal_to_wire(synced.proposal), certificate=synced.certificate
            )
            for synced in response.blocks
        )
    )


def _sync_response_from_wire(wire: WireSyncResponse) -> SyncResponse:
    return SyncResponse(
        blocks=tuple(
            SyncedBlock(proposal=proposal_from_wire(item.proposal), certificate=item.certificate)
            for item in wire.blocks
        )
    )


def encode_consensus(message: Message) -> bytes:
    """The body of a CONSENSUS envelope carrying `message`."""
    inner: Record
    if isinstance(message, Proposal):
        kind, inner = ConsensusKind.PROPOSAL, proposal_to_wire(message)
    elif isinstance(message, Vote):
        kind, inner = ConsensusKind.VOTE, _vote_to_wire(message)
    elif isinstance(message, Timeout):
        kind, inner = ConsensusKind.TIMEOUT, _timeout_to_wire(message)
    elif isinstance(message, SyncRequest):
        kind = ConsensusKind.SYNC_REQUEST
        inner = WireSyncRequest(
            epoch=message.epoch,
            committed_height=message.committed_height,
            block_hash=message.block_hash,
        )
    else:
        kind, inner = ConsensusKind.SYNC_RESPONSE, _sync_response_to_wire(message)
    return ConsensusFrame(kind=kind, message=inner.encode()).encode()


def decode_consensus(body: bytes) -> Message:
    """Inverse of `encode_consensus`; MalformedPeerMessage for anything else."""
    frame = decode_body(ConsensusFrame, body)
    data = frame.message
    if frame.kind is ConsensusKind.PROPOSAL:
        return proposal_from_wire(decode_body(WireProposal, data))
    if frame.kind is ConsensusKind.VOTE:
        return _vote_from_wire(decode_body(WireVote, data))
    if frame.kind is ConsensusKind.TIMEOUT:
        return _timeout_from_wire(decode_body(WireTimeout, data))
    if frame.kind is ConsensusKind.SYNC_REQUEST:
        request = decode_body(WireSyncRequest, data)
        return SyncRequest(
            epoch=request.epoch,
            committed_height=request.committed_height,
            block_hash=request.block_hash,
        )
    return _sync_response_from_wire(decode_body(WireSyncResponse, data))


def encode_safety_state(state: SafetyState) -> bytes:
    return WireSafetyState(
        epoch=state.epoch,
        last_voted_round=state.last_voted_round,
        high_qc=justify_to_wire(state.high_qc),
    ).encode()


def decode_safety_state(data: bytes) -> SafetyState:
    wire = decode_body(WireSafetyState, data)
    return SafetyState(
        epoch=wire.epoch,
        last_voted_round=wire.last_voted_round,
        high_qc=justify_from_wire(wire.high_qc),
    )
