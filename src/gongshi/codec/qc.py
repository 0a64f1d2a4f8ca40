"""Quorum certificate: 2f+1 validator signatures over one consensus vote.

The consensus package defines what a vote signs (`phase`, `height`, `round`, `block_hash`,
the chain id) and verifies a certificate against a validator set; this module only holds the
data. `signers` are indices into the validator set in force at `height`, strictly ascending,
and `signatures[i]` is the signature of validator `signers[i]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from gongshi.codec.errors import InvalidField
from gongshi.codec.fields import HASH, UINT64
from gongshi.codec.kinds import Array, Bytes, UInt
from gongshi.codec.limits import CERTIFICATE_BYTES_MAX, VALIDATORS_MAX
from gongshi.codec.record import Record, record

# Real suite signatures are 64 bytes; simulators may use shorter MACs.
QC_SIGNATURE = Bytes(size_min=1, size_max=128)


@record
@dataclass(frozen=True, slots=True, kw_only=True)
class QuorumCertificate(Record):
    """Signatures of a quorum of validators over (phase, height, round, block_hash)."""

    encoded_bytes_max: ClassVar[int] = CERTIFICATE_BYTES_MAX

    # Vote kind, defined by the consensus protocol (an IntEnum there; stored as its value).
    phase: Annotated[int, UInt(255)]
    height: Annotated[int, UINT64]
    round: Annotated[int, UINT64]
    block_hash: Annotated[bytes, HASH]
    signers: Annotated[tuple[int, ...], Array(UInt(VALIDATORS_MAX - 1), length_max=VALIDATORS_MAX)]
    signatures: Annotated[tuple[bytes, ...], Array(QC_SIGNATURE, length_max=VALIDATORS_MAX)]

    def check_invariants(self) -> None:
        if len(self.signatures) != len(self.signers):
            raise InvalidField(
                "QuorumCertificate",
                "signatures",
                f"{len(self.signatures)} signatures for {len(self.signers)} signers",
            )
        for index in range(1, len(self.signers)):
            if self.signers[index] <= self.signers[index - 1]:
                raise InvalidField(
                    "QuorumCertificate", f"signers[{index}]", "signers must be strictly ascending"
                )
