"""Governance proposal kinds and the checks of their payloads when proposed.

A payload is checked field by field when proposed (a FAILED receipt otherwise) and stored in
normal form; whether it still applies is decided again when the proposal is approved, since
state may have changed in between (`governance_actions.py`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping

from gongshi.codec import CborValue, frozendict
from gongshi.crypto import Suite
from gongshi.errors import InvalidKey
from gongshi.execution.args import Args
from gongshi.execution.contract_errors import ReservedContractName
from gongshi.execution.contract_records import contract_name_problem
from gongshi.execution.governance_errors import InvalidProposal
from gongshi.execution.governance_state import CHANGEABLE_PARAMS
from gongshi.execution.identity_records import (
    ADDRESS_SIZE,
    ORGANISATION_BYTES_MAX,
    SERIAL_BYTES_MAX,
)
from gongshi.node.config_fields import NAME_PATTERN, HostPort
from gongshi.pki.roles import ROLE_NAMES
from gongshi.pki.validation import CERTIFICATE_SIZE_MAX

CODE_HASH_SIZE = 32
KEY_HASH_SIZE = 32
NAME_BYTES_MAX = 64
ADDRESS_TEXT_BYTES_MAX = 300


class Kind(enum.StrEnum):
    """What a proposal changes."""

    ADD_ORGANISATION = "add_organisation"
    REMOVE_ORGANISATION = "remove_organisation"
    ADD_NODE = "add_node"  # a consensus node (role node) or an observer
    REMOVE_NODE = "remove_node"
    REVOKE_CERTIFICATE = "revoke_certificate"
    CHANGE_ROLE = "change_role"
    CHANGE_PARAMETERS = "change_parameters"
    DEPLOY_CONTRACT = "deploy_contract"
    UPGRADE_CONTRACT = "upgrade_contract"
    FREEZE_CONTRACT = "freeze_contract"
    UNFREEZE_CONTRACT = "unfreeze_contract"


# Kinds whose effect may be scheduled with a proposal's `activation_height`.
SCHEDULABLE_KINDS = frozenset({Kind.ADD_NODE, Kind.REMOVE_NODE, Kind.CHANGE_PARAMETERS})
NODE_ROLES = ("node", "observer")


def _name(args: Args, field: str) -> str:
    name = args.text(field, bytes_max=NAME_BYTES_MAX, required=True)
    assert name is not None
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidProposal(f"{field} {name!r} is not a name ({NAME_PATTERN.pattern})")
    return name


def _choice(args: Args, field: str, choices: tuple[str, ...]) -> str:
    value = args.text(field, bytes_max=32, required=True)
    if value not in choices:
        raise InvalidProposal(f"{field} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _pem(args: Args, field: str) -> str:
    pem = args.text(field, bytes_max=CERTIFICATE_SIZE_MAX, required=True)
    assert pem is not None
    return pem


def _host_port(args: Args, field: str) -> str:
    text = args.text(field, bytes_max=ADDRESS_TEXT_BYTES_MAX, required=True)
    assert text is not None
    try:
        return str(HostPort.parse(text))
    except ValueError as error:
        raise InvalidProposal(f"{field}: {error}") from None


def _organisation(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {
        "name": _name(args, "name"),
        "ca_certificate_pem": _pem(args, "ca_certificate_pem"),
        "regulator": args.bool_("regulator", default=False),
    }


def _public_key(args: Args, suite: Suite) -> bytes:
    key = args.bytes_("public_key", sizes=tuple(range(1, 129)))
    try:
        suite.validate_public_key(key)
    except InvalidKey as error:
        raise InvalidProposal(f"public_key: {error.message}") from None
    return key


def _node(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {
        "role": _choice(args, "role", NODE_ROLES),
        "name": _name(args, "name"),
        "public_key": _public_key(args, suite),
        "p2p_address": _host_port(args, "p2p_address"),
        "api_address": _host_port(args, "api_address"),
        "certificate_pem": _pem(args, "certificate_pem"),
    }


def _revocation(args: Args, suite: Suite) -> dict[str, CborValue]:
    given = [name for name in ("serial", "key_hash", "public_key") if args.has(name)]
    if len(given) != 1:
        raise InvalidProposal(
            "revoke exactly one of: serial (with organisation), key_hash, public_key"
        )
    if given[0] == "serial":
        organisation = args.text("organisation", bytes_max=ORGANISATION_BYTES_MAX, required=True)
        serial = args.bytes_("serial", sizes=tuple(range(1, SERIAL_BYTES_MAX + 1)))
        return {"organisation": organisation, "serial": serial.lstrip(b"\0") or b"\0"}
    if args.has("organisation"):
        raise InvalidProposal("organisation goes with serial only")
    if given[0] == "key_hash":
        return {"key_hash": args.bytes_("key_hash", sizes=(KEY_HASH_SIZE,))}
    return {"key_hash": suite.hash(_public_key(args, suite))}


def _role_change(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {
        "address": args.bytes_("address", sizes=(ADDRESS_SIZE,)),
        "role": _choice(args, "role", ROLE_NAMES),
    }


def _parameters(args: Args, suite: Suite) -> dict[str, CborValue]:
    changes = args.map_("changes")
    if not changes:
        raise InvalidProposal("changes must name at least one parameter")
    checked: dict[str, CborValue] = {}
    for name, value in changes.items():
        if name not in CHANGEABLE_PARAMS:
            raise InvalidProposal(
                f"parameter {name!r} may not be changed; changeable: {', '.join(CHANGEABLE_PARAMS)}"
            )
        if type(value) is not int or not 0 <= value < 1 << 63:
            raise InvalidProposal(f"parameter {name} must be an unsigned integer")
        checked[name] = value
    return {"changes": frozendict(checked)}


def _contract(args: Args, suite: Suite) -> dict[str, CborValue]:
    name = _name(args, "name")
    problem = contract_name_problem(name)  # refused now rather than when approved
    if problem is not None:
        raise ReservedContractName(problem)
    return {"name": name, "code_hash": args.bytes_("code_hash", sizes=(CODE_HASH_SIZE,))}


def _contract_name(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {"name": _name(args, "name")}


def _name_only(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {"name": _name(args, "name")}


def _node_key(args: Args, suite: Suite) -> dict[str, CborValue]:
    return {"public_key": _public_key(args, suite)}


_Checker = Callable[[Args, Suite], dict[str, CborValue]]

# Kind -> (accepted payload fields, checker).
PAYLOADS: Mapping[Kind, tuple[frozenset[str], _Checker]] = {
    Kind.ADD_ORGANISATION: (frozenset({"name", "ca_certificate_pem", "regulator"}), _organisation),
    Kind.REMOVE_ORGANISATION: (frozenset({"name"}), _name_only),
    Kind.ADD_NODE: (
        frozenset({"role", "name", "public_key", "p2p_address", "api_address", "certificate_pem"}),
        _node,
    ),
    Kind.REMOVE_NODE: (frozenset({"public_key"}), _node_key),
    Kind.REVOKE_CERTIFICATE: (
        frozenset({"organisation", "serial", "key_hash", "public_key"}),
        _revocation,
    ),
    Kind.CHANGE_ROLE: (frozenset({"address", "role"}), _role_change),
    Kind.CHANGE_PARAMETERS: (frozenset({"changes"}), _parameters),
    Kind.DEPLOY_CONTRACT: (frozenset({"name", "code_hash"}), _contract),
    Kind.UPGRADE_CONTRACT: (frozenset({"name", "code_hash"}), _contract),
    Kind.FREEZE_CONTRACT: (frozenset({"name"}), _contract_name),
    Kind.UNFREEZE_CONTRACT: (frozenset({"name"}), _contract_name),
}
assert set(PAYLOADS) == set(Kind), "every kind needs a payload rule"


def parse_kind(text: str | None) -> Kind:
    try:
        return Kind(text or "")
    except ValueError:
        raise InvalidProposal(
            f"unknown proposal kind {text!r}; kinds: {', '.join(kind.value for kind in Kind)}"
        ) from None


def check_payload(kind: Kind, payload: CborValue, suite: Suite) -> Mapping[str, CborValue]:
    """The payload of a `kind` proposal in normal form; InvalidArguments / InvalidProposal."""
    accepted, checker = PAYLOADS[kind]
    args = Args(f"{kind.value} payload", payload, accepted)
    return frozendict(checker(args, suite))
