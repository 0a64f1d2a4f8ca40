"""BFT consensus as a pure state machine (chained two-chain HotStuff / Jolteon).

    engine = Engine(config, signer, verifier, root, safety)
    actions = engine.step(Received(sender=peer_key, message=proposal))

No I/O, clock, threads or global randomness: events in, actions out (see `actions.py` for the
ordering rule the shell must follow). Protocol and arguments: docs/consensus.md; invariants:
SPEC.md; deterministic simulator: `gongshi.consensus.sim`.
"""

from gongshi.consensus.actions import (
    Action,
    Broadcast,
    BuildProposal,
    Commit,
    PersistSafetyState,
    RecordEvidence,
    Send,
    SetTimer,
    ValidateBlock,
)
from gongshi.consensus.bootstrap import genesis_root, root_after_commit
from gongshi.consensus.engine import Engine, EngineConfig
from gongshi.consensus.events import (
    BlockValidated,
    Event,
    ProposalBuilt,
    Received,
    Start,
    TimerFired,
)
from gongshi.consensus.evidence import Evidence, verify_evidence
from gongshi.consensus.messages import Message, Proposal, SyncRequest, SyncResponse, Timeout, Vote
from gongshi.consensus.quorum import decode_certificate, encode_certificate, verify_commit
from gongshi.consensus.signing import Signer, SuiteSigner, SuiteVerifier, Verifier
from gongshi.consensus.types import (
    Block,
    CommittedRoot,
    Justify,
    Phase,
    SafetyState,
    TimeoutCertificate,
    ValidatorSet,
    ValidatorSetChange,
)

__all__ = [
    "Action",
    "Block",
    "BlockValidated",
    "Broadcast",
    "BuildProposal",
    "Commit",
    "CommittedRoot",
    "Engine",
    "EngineConfig",
    "Event",
    "Evidence",
    "Justify",
    "Message",
    "PersistSafetyState",
    "Phase",
    "Proposal",
    "ProposalBuilt",
    "Received",
    "RecordEvidence",
    "SafetyState",
    "Send",
    "SetTimer",
    "Signer",
    "Start",
    "SuiteSigner",
    "SuiteVerifier",
    "SyncRequest",
    "SyncResponse",
    "Timeout",
    "TimeoutCertificate",
    "TimerFired",
    "ValidateBlock",
    "ValidatorSet",
    "ValidatorSetChange",
    "Verifier",
    "Vote",
    "decode_certificate",
    "encode_certificate",
    "genesis_root",
    "root_after_commit",
    "verify_commit",
    "verify_evidence",
]
