"""The `governance` system contract: proposals, organisation votes and their execution.

Rules (docs/governance.md):
- Only organisation admins propose and vote; proposing is the proposer organisation's "yes".
- One vote per organisation; the electorate (the organisations at proposal time) and the
  threshold (`governance_threshold` in force then, at least a majority) are fixed when
  proposed.
- The vote that reaches the threshold executes the proposal in its own block (status
  EXECUTED, or FAILED if it no longer applies); the effect is in force from the next block,
  or from a later scheduled height for parameter and validator-set changes.
- When so many organisations vote "no" that the threshold is out of reach: REJECTED.
- After `expiry_height` an open proposal is EXPIRED (derived from the height, not stored).
"""

from __future__ import annotations

import dataclasses

from gongshi.codec import CborValue, frozendict
from gongshi.execution.args import Args
from gongshi.execution.context import ReadCall, WriteCall
from gongshi.execution.errors import CallFailed, CallNotPermitted
from gongshi.execution.governance_actions import apply_action
from gongshi.execution.governance_errors import (
    AlreadyVoted,
    InvalidProposal,
    NotInElectorate,
    ProposalClosed,
    ProposalExpired,
    ProposalNotFound,
    ProposerNotAdmin,
    VoterNotAdmin,
)
from gongshi.execution.governance_payloads import SCHEDULABLE_KINDS, check_payload, parse_kind
from gongshi.execution.governance_records import (
    NAMESPACE,
    NEXT_ID_KEY,
    Proposal,
    ProposalStatus,
    decode_proposal,
    decode_u64,
    encode_proposal,
    encode_u64,
    proposal_key,
)
from gongshi.execution.governance_state import effective_threshold, in_force, params_schedule
from gongshi.execution.identity_records import NAMESPACE as IDENTITY_NAMESPACE
from gongshi.execution.identity_records import ORGANISATIONS_KEY, MemberIdentity, decode_names
from gongshi.execution.registry import ReadMethod, SystemContract, WriteMethod
from gongshi.pki.errors import CertificateRejected
from gongshi.pki.roles import Role

DEFAULT_EXPIRY_BLOCKS = 100_000
EXPIRY_BLOCKS_MAX = 10_000_000
DESCRIPTION_BYTES_MAX = 1024
PAGE_LIMIT_MAX = 50
PAGE_LIMIT_DEFAULT = 20
PAGE_SCAN_MAX = 500  # proposals one `proposals` call looks at when filtering by status
HEIGHT_MAX = (1 << 63) - 1


def _admin(call: WriteCall, error: type[CallNotPermitted], what: str) -> MemberIdentity:
    identity = call.sender.identity
    if identity is None or identity.role is not Role.ADMIN:
        role = "unregistered" if identity is None else identity.role.value
        raise error(f"only organisation admins may {what}; the sender's role is {role}")
    return identity


def _load(call: ReadCall, proposal_id: int) -> Proposal:
    data = call.storage.get(proposal_key(proposal_id))
    if data is None:
        raise ProposalNotFound(f"no proposal {proposal_id}")
    return decode_proposal(data)


def _vote_event(call: WriteCall, proposal: Proposal, organisation: str, approve: bool) -> None:
    call.emit(
        "VoteCast",
        {
            "proposal": proposal.id,
            "organisation": organisation,
            "voter": call.sender.address,
            "approve": approve,
            "yes": proposal.yes,
            "no": proposal.no,
        },
    )


def _settle(call: WriteCall, proposal: Proposal) -> Proposal:
    """Execute or reject `proposal` if its votes decide it."""
    height = call.block.height
    closed = dataclasses.replace(proposal, closed_height=height)
    if proposal.yes >= proposal.threshold:
        try:
            effective = apply_action(call, proposal)
        except (CallFailed, CertificateRejected) as error:
            reason = f"[{error.code}] {error.message}"
            call.emit("ProposalFailed", {"proposal": proposal.id, "reason": reason})
            return dataclasses.replace(closed, status=ProposalStatus.FAILED, result=reason)
        call.emit(
            "ProposalExecuted",
            {"proposal": proposal.id, "kind": proposal.kind, "effective_height": effective},
        )
        return dataclasses.replace(
            closed, status=ProposalStatus.EXECUTED, effective_height=effective
        )
    if proposal.no > len(proposal.electorate) - proposal.threshold:
        call.emit(
            "ProposalRejected", {"proposal": proposal.id, "yes": proposal.yes, "no": proposal.no}
        )
        return dataclasses.replace(closed, status=ProposalStatus.REJECTED)
    return proposal


def propose(call: WriteCall, args: Args) -> CborValue:
    """Submit a proposal (counts as the proposer organisation's yes vote)."""
    identity = _admin(call, ProposerNotAdmin, "submit governance proposals")
    height = call.block.height
    kind = parse_kind(args.text("kind", bytes_max=64, required=True))
    payload = check_payload(kind, args.map_("payload"), call.suite)
    description = args.text("description", bytes_max=DESCRIPTION_BYTES_MAX, required=False)
    expiry = args.uint("expiry_height", default=height + DEFAULT_EXPIRY_BLOCKS, maximum=HEIGHT_MAX)
    if not height <= expiry <= height + EXPIRY_BLOCKS_MAX:
        raise InvalidProposal(f"expiry_height must be in {height}..{height + EXPIRY_BLOCKS_MAX}")
    activation: int | None = None
    if args.has("activation_height"):
        if kind not in SCHEDULABLE_KINDS:
            raise InvalidProposal(f"a {kind.value} proposal takes no activation_height")
        activation = args.uint("activation_height", default=0, maximum=HEIGHT_MAX)
    electorate = decode_names(
        call.storage.sibling(IDENTITY_NAMESPACE).get(ORGANISATIONS_KEY), "organisations"
    )
    if identity.organisation not in electorate:
        raise NotInElectorate(f"organisation {identity.organisation} is not a member")
    configured = in_force(params_schedule(call.storage.get), height).params["governance_threshold"]
    assert isinstance(configured, int)
    proposal_id = decode_u64(call.storage.get(NEXT_ID_KEY), "next proposal id")
    call.storage.set(NEXT_ID_KEY, encode_u64(proposal_id + 1))
    proposal = Proposal(
        id=proposal_id,
        kind=kind.value,
        payload=payload,
        description=description or "",
        proposer=call.sender.address,
        organisation=identity.organisation,
        created_height=height,
        expiry_height=expiry,
        activation_height=activation,
        threshold=effective_threshold(configured, len(electorate)),
        electorate=electorate,
        votes={identity.organisation: True},
    )
    call.emit(
        "ProposalSubmitted",
        {
            "proposal": proposal_id,
            "kind": kind.value,
            "proposer": call.sender.address,
            "organisation": identity.organisation,
            "expiry_height": expiry,
            "threshold": proposal.threshold,
        },
    )
    _vote_event(call, proposal, identity.organisation, True)
    proposal = _settle(call, proposal)
    call.storage.set(proposal_key(proposal_id), encode_proposal(proposal))
    return frozendict({"id": proposal_id, "status": proposal.status.value})


def vote(call: WriteCall, args: Args) -> CborValue:
    """Cast the sender organisation's vote: `approve` true (yes) or false (no)."""
    identity = _admin(call, VoterNotAdmin, "vote on governance proposals")
    proposal_id = args.uint("id", default=-1, maximum=HEIGHT_MAX)
    if proposal_id < 0:
        raise InvalidProposal("vote: argument id is required")
    approve = args.bool_("approve", default=True) if args.has("approve") else None
    if approve is None:
        raise InvalidProposal("vote: argument approve (true or false) is required")
    proposal = _load(call, proposal_id)
    height = call.block.height
    if proposal.status is not ProposalStatus.OPEN:
        raise ProposalClosed(
            f"proposal {proposal_id} is {proposal.status.value} since height "
            f"{proposal.closed_height}; it takes no more votes"
        )
    if height > proposal.expiry_height:
        raise ProposalExpired(f"proposal {proposal_id} expired at height {proposal.expiry_height}")
    organisation = identity.organisation
    if organisation not in proposal.electorate:
        raise NotInElectorate(f"organisation {organisation} may not vote on proposal {proposal_id}")
    if organisation in proposal.votes:
        earlier = "yes" if proposal.votes[organisation] else "no"
        raise AlreadyVoted(
            f"organisation {organisation} already voted {earlier} on proposal {proposal_id}"
        )
    proposal = dataclasses.replace(proposal, votes={**proposal.votes, organisation: approve})
    _vote_event(call, proposal, organisation, approve)
    proposal = _settle(call, proposal)
    call.storage.set(proposal_key(proposal_id), encode_proposal(proposal))
    return frozendict(
        {"id": proposal_id, "status": proposal.status.value, "yes": proposal.yes, "no": proposal.no}
    )


def _height(args: Args) -> int | None:
    return args.uint("height", default=0, maximum=HEIGHT_MAX) if args.has("height") else None


def proposal(call: ReadCall, args: Args) -> CborValue:
    """Proposal `id` (status as of `height` if given: open ones past expiry read EXPIRED),
    or null."""
    proposal_id = args.uint("id", default=0, maximum=HEIGHT_MAX)
    data = call.storage.get(proposal_key(proposal_id))
    return None if data is None else decode_proposal(data).to_value(_height(args))


def proposals(call: ReadCall, args: Args) -> CborValue:
    """A page of proposals by id from `start`, optionally only those of `status`.

    Looks at most PAGE_SCAN_MAX proposals per call; `next` is where to continue (null at the
    end)."""
    height = _height(args)
    status_text = args.text("status", bytes_max=16, required=False)
    if status_text is not None and status_text not in {s.value for s in ProposalStatus}:
        raise InvalidProposal(f"unknown status {status_text!r}")
    start = args.uint("start", default=0, maximum=HEIGHT_MAX)
    limit = args.uint("limit", default=PAGE_LIMIT_DEFAULT, maximum=PAGE_LIMIT_MAX)
    if limit == 0:
        raise InvalidProposal(f"limit must be 1..{PAGE_LIMIT_MAX}")
    total = decode_u64(call.storage.get(NEXT_ID_KEY), "next proposal id")
    found: list[CborValue] = []
    cursor = start
    while cursor < total and len(found) < limit and cursor - start < PAGE_SCAN_MAX:
        item = _load(call, cursor)
        cursor += 1
        if status_text is None or item.status_at(height).value == status_text:
            found.append(item.to_value(height))
    return frozendict(
        {"total": total, "proposals": tuple(found), "next": cursor if cursor < total else None}
    )


GOVERNANCE = SystemContract(
    name=NAMESPACE,
    methods={
        "propose": WriteMethod(
            handler=propose,
            arguments=frozenset(
                {"kind", "payload", "description", "expiry_height", "activation_height"}
            ),
        ),
        "vote": WriteMethod(handler=vote, arguments=frozenset({"id", "approve"})),
        "proposal": ReadMethod(handler=proposal, arguments=frozenset({"id", "height"})),
        "proposals": ReadMethod(
            handler=proposals, arguments=frozenset({"status", "start", "limit", "height"})
        ),
    },
)
