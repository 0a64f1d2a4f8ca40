"""The light client's validator-set schedule: which set certifies a block of which epoch.

Trust starts from the genesis file alone: epoch 0 is the genesis validators, from height 0.
Epoch e+1 is trusted only after checking evidence from a block of epoch e (docs/sdk.md,
"Validator-set changes"): the block's COMMIT certificate by epoch e's set, the state proof of
the governance validator schedule (`governance`, key `V`) against its state root, and in that
schedule the entry in force being epoch e's (same activation height, same keys) and the entry
after it being announced by then and taking force later. Its set and activation height are
epoch e+1's. `ProofVerifier.trust_epochs` does the cryptographic checks; this module holds the
schedule and the checks on the decoded entries.

A header of epoch e must lie in [activation of e, activation of e+1): a header claiming an
epoch past the last trusted one raises `UnknownEpoch` (the client then fetches evidence with
`chain_epochs` and tries again), one whose height does not fit its epoch `WrongEpoch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gongshi.codec import BlockHeader, CborValue, decode_value
from gongshi.consensus import ValidatorSet
from gongshi.errors import GongshiError
from gongshi.sdk.errors import EpochTransitionRejected, MalformedResponse, UnknownEpoch, WrongEpoch
from gongshi.sdk.network import GENESIS_EPOCH

VALIDATORS_NAMESPACE = "governance"
VALIDATORS_KEY = b"V"  # the validator schedule (docs/governance.md, "State")
SCHEDULE_BYTES_MAX = 8 << 20  # 9 entries of at most 256 nodes with their certificates
SCHEDULE_ENTRIES_MAX = 64
EPOCHS_MAX = 1_000_000  # epochs one client keeps (one per validator-set change)


@dataclass(frozen=True, slots=True, kw_only=True)
class EpochValidator:
    name: str
    organisation: str
    public_key: bytes
    api_address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleEntry:
    """One entry of the governance validator schedule, as decoded from proven bytes."""

    announce_height: int
    activation_height: int
    validators: tuple[EpochValidator, ...]

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(node.public_key for node in self.validators)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedEpoch:
    """A consensus epoch whose validator set the client has verified (or took from genesis).
    `evidence_height`: the block whose state proved it (None for genesis)."""

    epoch: int
    activation_height: int
    validators: ValidatorSet
    nodes: tuple[EpochValidator, ...]
    evidence_height: int | None = None


# --- decoding the proven schedule -------------------------------------------------------------


def _text(value: Mapping[str, CborValue], name: str) -> str:
    item = value.get(name)
    if not isinstance(item, str):
        raise MalformedResponse(f"validator schedule: {name} is not text")
    return item


def _uint(value: Mapping[str, CborValue], name: str) -> int:
    item = value.get(name)
    if type(item) is not int or item < 0:
        raise MalformedResponse(f"validator schedule: {name} is not an unsigned integer")
    return item


def _node(value: CborValue) -> EpochValidator:
    if not isinstance(value, Mapping) or not isinstance(value.get("public_key"), bytes):
        raise MalformedResponse("validator schedule: a validator is not a map with a key")
    public_key = value["public_key"]
    assert isinstance(public_key, bytes)
    return EpochValidator(
        name=_text(value, "name"),
        organisation=_text(value, "organisation"),
        public_key=public_key,
        api_address=_text(value, "api_address"),
    )


def decode_schedule(data: bytes) -> tuple[ScheduleEntry, ...]:
    """The entries of a proven schedule value, in order of strictly increasing activation."""
    try:
        value = decode_value(data, max_size=SCHEDULE_BYTES_MAX)
    except GongshiError as error:
        raise MalformedResponse(
            f"the validator schedule does not decode: {error.message}"
        ) from None
    if not isinstance(value, tuple) or not 1 <= len(value) <= SCHEDULE_ENTRIES_MAX:
        raise MalformedResponse("the validator schedule is not a non-empty array")
    entries: list[ScheduleEntry] = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("validators"), tuple):
            raise MalformedResponse("validator schedule: an entry is not a map of validators")
        validators = item["validators"]
        assert isinstance(validators, tuple)
        entry = ScheduleEntry(
            announce_height=_uint(item, "announce_height"),
            activation_height=_uint(item, "activation_height"),
            validators=tuple(_node(node) for node in validators),
        )
        if entries and entry.activation_height <= entries[-1].activation_height:
            raise MalformedResponse("validator schedule: activation heights do not increase")
        entries.append(entry)
    return tuple(entries)


def next_epoch(
    previous: TrustedEpoch, header: BlockHeader, entries: tuple[ScheduleEntry, ...]
) -> TrustedEpoch:
    """Epoch previous+1 from the schedule proven in `header`'s state (a block of `previous`
    whose certificate was checked with its set): EpochTransitionRejected unless the entry in
    force there is `previous` and the next one was announced by then."""
    height = header.height
    in_force = [entry for entry in entries if entry.activation_height <= height]
    if not in_force:
        raise EpochTransitionRejected(f"block {height}'s schedule has no set in force")
    current = in_force[-1]
    if (
        current.activation_height != previous.activation_height
        or current.public_keys != previous.validators.public_keys
    ):
        raise EpochTransitionRejected(
            f"block {height}'s schedule has another set in force than epoch {previous.epoch}'s "
            f"(from height {previous.activation_height})"
        )
    later = entries[len(in_force) :]
    if not later:
        raise EpochTransitionRejected(
            f"block {height}'s state schedules no validator set after epoch {previous.epoch}"
        )
    following = later[0]
    if following.announce_height > height:
        raise EpochTransitionRejected(
            f"the set taking force at {following.activation_height} is announced at "
            f"{following.announce_height}, after block {height}"
        )
    epoch = previous.epoch + 1
    try:
        validators = ValidatorSet(epoch=epoch, public_keys=following.public_keys)
    except GongshiError as error:
        raise EpochTransitionRejected(f"epoch {epoch}'s set: {error.message}") from None
    return TrustedEpoch(
        epoch=epoch,
        activation_height=following.activation_height,
        validators=validators,
        nodes=following.validators,
        evidence_height=height,
    )


# --- the trusted schedule ---------------------------------------------------------------------


class EpochSchedule:
    """The trusted epochs, 0 (genesis) to `latest`, each starting after the one before."""

    def __init__(self, genesis: TrustedEpoch) -> None:
        assert genesis.epoch == GENESIS_EPOCH and genesis.activation_height == 0
        self._epochs: list[TrustedEpoch] = [genesis]

    @property
    def latest(self) -> TrustedEpoch:
        return self._epochs[-1]

    @property
    def epochs(self) -> tuple[TrustedEpoch, ...]:
        return tuple(self._epochs)

    def add(self, epoch: TrustedEpoch) -> None:
        latest = self.latest
        assert epoch.epoch == latest.epoch + 1, "epochs are trusted in order"
        assert epoch.activation_height > latest.activation_height
        if len(self._epochs) >= EPOCHS_MAX:
            raise EpochTransitionRejected(f"more than {EPOCHS_MAX} epochs")
        self._epochs.append(epoch)

    def get(self, epoch: int) -> TrustedEpoch:
        return self._epochs[epoch]

    def end(self, epoch: int) -> int | None:
        """The first height after `epoch` (None while it is the latest trusted)."""
        if epoch + 1 < len(self._epochs):
            return self._epochs[epoch + 1].activation_height
        return None

    def for_header(self, header: BlockHeader) -> TrustedEpoch:
        """The trusted epoch whose set must certify `header` (see the module docstring)."""
        claimed, height = header.config_version, header.height
        latest = self.latest
        if claimed > latest.epoch:
            if height <= latest.activation_height:
                raise WrongEpoch(
                    f"block {height} claims epoch {claimed}, but epoch {latest.epoch} only "
                    f"starts at height {latest.activation_height}"
                )
            raise UnknownEpoch(
                f"block {height} claims epoch {claimed}; the validator sets of epochs up to "
                f"{latest.epoch} are proven",
                epoch=claimed,
            )
        epoch = self._epochs[claimed]
        end = self.end(claimed)
        if height < epoch.activation_height or (end is not None and height >= end):
            bound = "on" if end is None else f"to {end - 1}"
            raise WrongEpoch(
                f"block {height} claims epoch {claimed}, which covers heights "
                f"{epoch.activation_height} {bound}"
            )
        return epoch
