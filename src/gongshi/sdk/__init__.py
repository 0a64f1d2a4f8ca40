"""Gongshi's Python SDK: identities from a network directory, transactions built and signed
locally, and every proof verified against a quorum-signed header.

    from gongshi.sdk import Client
    with Client.connect("localnet") as client:
        receipt = client.notary_register(client.network.suite.hash(document))
        receipt.block.height, receipt.block.signers, receipt.block.validators

Blocks after a validator-set change are verified against the set of their epoch, proven
from the genesis validators by `chain_epochs` evidence (fetched when first needed).
`AsyncClient` has the same calls as coroutines, plus subscriptions (`blocks()`, `events()`)
and receipts awaited by subscription. docs/sdk.md has the details.
"""

from gongshi.sdk.aclient import AsyncClient
from gongshi.sdk.client import Client
from gongshi.sdk.contracts import ProvenCode, ProvenContract
from gongshi.sdk.epochs import EpochValidator, TrustedEpoch
from gongshi.sdk.errors import (
    EpochTransitionRejected,
    GovernanceCallFailed,
    IdentityNotFound,
    InvalidGovernancePayload,
    MalformedResponse,
    NodeUnreachable,
    ProofMismatch,
    ReceiptTimeout,
    RemoteError,
    SdkError,
    TransactionFailed,
    UnknownEpoch,
    UnverifiedHeader,
    WrongEpoch,
)
from gongshi.sdk.governance import ProvenProposal
from gongshi.sdk.identity import Identity
from gongshi.sdk.network import NetworkInfo
from gongshi.sdk.notary import NotaryRecord, ProvenRecord, hash_file
from gongshi.sdk.verify import (
    ProofVerifier,
    VerifiedBlock,
    VerifiedHeader,
    VerifiedReceipt,
    VerifiedState,
    VerifiedTransaction,
)

__all__ = [
    "AsyncClient",
    "Client",
    "EpochTransitionRejected",
    "EpochValidator",
    "GovernanceCallFailed",
    "Identity",
    "IdentityNotFound",
    "InvalidGovernancePayload",
    "MalformedResponse",
    "NetworkInfo",
    "NodeUnreachable",
    "NotaryRecord",
    "ProofMismatch",
    "ProofVerifier",
    "ProvenCode",
    "ProvenContract",
    "ProvenProposal",
    "ProvenRecord",
    "ReceiptTimeout",
    "RemoteError",
    "SdkError",
    "TransactionFailed",
    "TrustedEpoch",
    "UnknownEpoch",
    "UnverifiedHeader",
    "VerifiedBlock",
    "VerifiedHeader",
    "VerifiedReceipt",
    "VerifiedState",
    "VerifiedTransaction",
    "WrongEpoch",
    "hash_file",
]
