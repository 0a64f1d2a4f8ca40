"""Governance from the client side: payloads built from files and checked before sending,
and proposals read with their state proof.

Every payload builder checks what the contract would refuse (names, certificates, keys,
addresses, parameter names), so a mistake fails here with `InvalidGovernancePayload`
instead of in a FAILED receipt. The contract checks again (docs/governance.md).

    payload = organisation_payload("org5", Path("org5-ca.crt").read_bytes())
    proposal_id = client.propose("add_organisation", payload, description="welcome org5")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from gongshi.codec import CborValue, ReceiptStatus, decode_value
from gongshi.crypto import Suite
from gongshi.errors import GongshiError
from gongshi.node.config_fields import NAME_PATTERN, HostPort
from gongshi.pki.extensions import read_chain_key, read_role
from gongshi.pki.profile import profile_for
from gongshi.pki.roles import ROLE_NAMES
from gongshi.pki.validation import CERTIFICATE_SIZE_MAX, load_certificate
from gongshi.sdk.errors import (
    GovernanceCallFailed,
    InvalidGovernancePayload,
    MalformedResponse,
    ProofMismatch,
)
from gongshi.sdk.verify import VerifiedReceipt, VerifiedState

NAMESPACE = "governance"
KINDS: tuple[str, ...] = (
    "add_organisation",
    "remove_organisation",
    "add_node",
    "remove_node",
    "revoke_certificate",
    "change_role",
    "change_parameters",
    "deploy_contract",
    "upgrade_contract",
    "freeze_contract",
    "unfreeze_contract",
)
SCHEDULABLE_KINDS = frozenset({"add_node", "remove_node", "change_parameters"})
# As `gongshi.execution.governance_state.CHANGEABLE_PARAMS` (a test keeps them equal).
CHANGEABLE_PARAMS: tuple[str, ...] = (
    "block_txs_max",
    "block_bytes_max",
    "tx_bytes_max",
    "block_gas_max",
    "block_interval_ms",
    "round_timeout_ms",
    "round_timeout_increase_ms",
    "round_timeout_max_ms",
    "governance_threshold",
    "mempool_txs_max",
    "mempool_bytes_max",
)
NODE_ROLES = ("node", "observer")
STATUSES = ("open", "executed", "rejected", "failed", "expired")
DESCRIPTION_BYTES_MAX = 1024
ADDRESS_SIZE = 20
HASH_SIZE = 32
SERIAL_BYTES_MAX = 20
UINT63_MAX = (1 << 63) - 1
PROPOSAL_BYTES_MAX = 256 * 1024
GOVERNANCE_GAS_LIMIT = 5_000_000  # certificates in payloads cost more than a notary call


def proposal_key(proposal_id: int) -> bytes:
    """The key of a proposal in the governance namespace (as the contract stores it)."""
    return b"p" + proposal_id.to_bytes(8, "big")


# --- reading files and checking fields ------------------------------------------------------


def read_certificate_file(path: Path) -> bytes:
    """A certificate file's bytes (PEM or DER), parsed once to fail early."""
    try:
        data = path.read_bytes()[: CERTIFICATE_SIZE_MAX + 1]
    except OSError as error:
        raise InvalidGovernancePayload(f"cannot read {path}: {error.strerror}") from None
    certificate_of(data, str(path))
    return data


def certificate_of(data: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return load_certificate(data)
    except GongshiError as error:
        raise InvalidGovernancePayload(f"{what}: {error.message}") from None


def _pem_text(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(Encoding.PEM).decode("ascii")


def organisation_of(certificate: x509.Certificate, what: str = "the certificate") -> str:
    """The organisation (subject O=) a certificate names."""
    names = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(names) != 1 or not isinstance(names[0].value, str):
        raise InvalidGovernancePayload(f"{what} names no single organisation (O=)")
    return names[0].value


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def check_name(name: str, what: str = "name") -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidGovernancePayload(f"{what} {name!r} is not a name ({NAME_PATTERN.pattern})")
    return name


def check_host_port(text: str, what: str) -> str:
    try:
        return str(HostPort.parse(text))
    except ValueError as error:
        raise InvalidGovernancePayload(f"{what}: {error}") from None


def check_public_key(suite: Suite, key: bytes) -> bytes:
    try:
        suite.validate_public_key(key)
    except GongshiError as error:
        raise InvalidGovernancePayload(f"public key: {error.message}") from None
    return key


def chain_public_key(suite: Suite, certificate: x509.Certificate) -> bytes:
    """The member's chain signing key in `certificate`: the certificate key itself (Ed25519
    suite) or the chain-key extension (GM suite)."""
    try:
        bound = read_chain_key(certificate)
    except GongshiError as error:
        raise InvalidGovernancePayload(f"certificate: {error.message}") from None
    if profile_for(suite.name).chain_key_in_extension:
        if bound is None or bound[0] != suite.name:
            raise InvalidGovernancePayload(f"certificate has no chain key of suite {suite.name}")
        key = bound[1]
    else:
        subject_key = certificate.public_key()
        if not isinstance(subject_key, ed25519.Ed25519PublicKey):
            raise InvalidGovernancePayload(f"certificate key is not a {suite.name} key")
        key = subject_key.public_bytes_raw()
    return check_public_key(suite, key)


# --- payloads by kind -------------------------------------------------------------------------


def organisation_payload(
    name: str, ca_certificate: bytes, *, regulator: bool = False
) -> dict[str, Any]:
    """`add_organisation`: a self-signed CA certificate whose subject O= is `name`."""
    certificate = certificate_of(ca_certificate, "CA certificate")
    if not _is_ca(certificate):
        raise InvalidGovernancePayload("the CA certificate is not marked as a CA")
    named = organisation_of(certificate, "the CA certificate")
    if named != check_name(name):
        raise InvalidGovernancePayload(f"the CA certificate is of organisation {named!r}")
    return {"name": name, "ca_certificate_pem": _pem_text(certificate), "regulator": regulator}


def node_payload(
    suite: Suite,
    *,
    role: str,
    name: str,
    certificate: bytes,
    p2p_address: str,
    api_address: str,
) -> dict[str, Any]:
    """`add_node`: a consensus node (`role` node) or observer, its public key taken from
    its certificate (which must carry that role)."""
    if role not in NODE_ROLES:
        raise InvalidGovernancePayload(f"role must be node or observer, got {role!r}")
    parsed = certificate_of(certificate, "node certificate")
    try:
        certified = read_role(parsed).value
    except GongshiError as error:
        raise InvalidGovernancePayload(f"node certificate: {error.message}") from None
    if certified != role:
        raise InvalidGovernancePayload(f"the certificate is of role {certified}, not {role}")
    return {
        "role": role,
        "name": check_name(name),
        "public_key": chain_public_key(suite, parsed),
        "p2p_address": check_host_port(p2p_address, "p2p address"),
        "api_address": check_host_port(api_address, "api address"),
        "certificate_pem": _pem_text(parsed),
    }


def remove_node_payload(
    suite: Suite, *, public_key: bytes | None = None, certificate: bytes | None = None
) -> dict[str, Any]:
    """`remove_node`: by public key or by the node's certificate (exactly one)."""
    if (public_key is None) == (certificate is None):
        raise InvalidGovernancePayload("give the node's public key or its certificate")
    if certificate is not None:
        public_key = chain_public_key(suite, certificate_of(certificate, "node certificate"))
    assert public_key is not None
    return {"public_key": check_public_key(suite, public_key)}


def revocation_payload(
    suite: Suite,
    *,
    certificate: bytes | None = None,
    serial: bytes | None = None,
    organisation: str | None = None,
    key_hash: bytes | None = None,
) -> dict[str, Any]:
    """`revoke_certificate`: a certificate (its serial and organisation), a serial with its
    organisation, or the suite hash of a chain signing key (exactly one way)."""
    given = [item is not None for item in (certificate, serial, key_hash)]
    if sum(given) != 1:
        raise InvalidGovernancePayload("revoke by certificate, by serial or by key hash")
    if certificate is not None:
        parsed = certificate_of(certificate)
        number = parsed.serial_number
        serial = number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
        organisation = organisation_of(parsed, "the certificate")
    if serial is not None:
        if organisation is None:
            raise InvalidGovernancePayload("a serial needs its organisation")
        if not 1 <= len(serial) <= SERIAL_BYTES_MAX:
            raise InvalidGovernancePayload(f"a serial is 1..{SERIAL_BYTES_MAX} bytes")
        return {"organisation": check_name(organisation, "organisation"), "serial": serial}
    if organisation is not None:
        raise InvalidGovernancePayload("organisation goes with a serial only")
    assert key_hash is not None
    if len(key_hash) != HASH_SIZE:
        raise InvalidGovernancePayload(f"a key hash is {HASH_SIZE} bytes")
    return {"key_hash": key_hash}


def role_payload(address: bytes, role: str) -> dict[str, Any]:
    """`change_role`: a member's address (20 bytes) and its new role."""
    if len(address) != ADDRESS_SIZE:
        raise InvalidGovernancePayload(f"an address is {ADDRESS_SIZE} bytes")
    if role not in ROLE_NAMES:
        raise InvalidGovernancePayload(f"role must be one of {', '.join(ROLE_NAMES)}")
    return {"address": address, "role": role}


def parameters_payload(changes: Mapping[str, int]) -> dict[str, Any]:
    """`change_parameters`: parameter name -> new unsigned value."""
    if not changes:
        raise InvalidGovernancePayload("name at least one parameter to change")
    for name, value in changes.items():
        if name not in CHANGEABLE_PARAMS:
            raise InvalidGovernancePayload(
                f"parameter {name!r} may not be changed; changeable: {', '.join(CHANGEABLE_PARAMS)}"
            )
        if type(value) is not int or not 0 <= value <= UINT63_MAX:
            raise InvalidGovernancePayload(f"parameter {name} must be an unsigned integer")
    return {"changes": dict(changes)}


def contract_payload(name: str, code_hash: bytes | None = None) -> dict[str, Any]:
    """`freeze_contract` / `unfreeze_contract` (name only), `deploy_contract` /
    `upgrade_contract` (with the 32-byte code hash)."""
    if code_hash is None:
        return {"name": check_name(name)}
    if len(code_hash) != HASH_SIZE:
        raise InvalidGovernancePayload(f"a code hash is {HASH_SIZE} bytes")
    return {"name": check_name(name), "code_hash": code_hash}


def proposal_args(
    kind: str,
    payload: Mapping[str, Any],
    *,
    description: str | None = None,
    expiry_height: int | None = None,
    activation_height: int | None = None,
) -> dict[str, Any]:
    """The arguments of `governance.propose`, checked."""
    if kind not in KINDS:
        raise InvalidGovernancePayload(f"unknown proposal kind {kind!r}; kinds: {', '.join(KINDS)}")
    args: dict[str, Any] = {"kind": kind, "payload": dict(payload)}
    if description:
        if len(description.encode("utf-8")) > DESCRIPTION_BYTES_MAX:
            raise InvalidGovernancePayload(f"description is over {DESCRIPTION_BYTES_MAX} bytes")
        args["description"] = description
    for field, value in (
        ("expiry_height", expiry_height),
        ("activation_height", activation_height),
    ):
        if value is not None:
            if type(value) is not int or not 0 <= value <= UINT63_MAX:
                raise InvalidGovernancePayload(f"{field} must be an unsigned integer")
            args[field] = value
    if activation_height is not None and kind not in SCHEDULABLE_KINDS:
        raise InvalidGovernancePayload(f"a {kind} proposal takes no activation height")
    return args


# --- results ----------------------------------------------------------------------------------


def require_accepted(receipt: VerifiedReceipt, what: str) -> VerifiedReceipt:
    """The receipt if it succeeded; GovernanceCallFailed with the contract's own error code
    (for example 1614 AlreadyVoted) otherwise."""
    status = receipt.receipt.status
    if status is ReceiptStatus.SUCCESS:
        return receipt
    error = receipt.receipt.error or ""
    code = 0
    if error.startswith("[") and error[1:5].isdigit() and error[5:6] == "]":
        code, error = int(error[1:5]), error[6:].strip()
    raise GovernanceCallFailed(
        f"{what} {status.name} at height {receipt.block.height}: {error}".rstrip(),
        receipt=receipt,
        receipt_code=code,
    )


def returned_map(receipt: VerifiedReceipt) -> Mapping[str, CborValue]:
    value = receipt.receipt.return_value
    if not isinstance(value, Mapping):
        raise MalformedResponse("a governance call returned no map")
    return value


def returned_id(receipt: VerifiedReceipt) -> int:
    """The proposal id `governance.propose` returned."""
    proposal_id = returned_map(receipt).get("id")
    if type(proposal_id) is not int:
        raise MalformedResponse("governance.propose returned no proposal id")
    return proposal_id


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenProposal:
    """A proposal decoded from its proven stored encoding; `status` is as of the block after
    the proven one (open proposals past their expiry height read `expired`)."""

    proposal: Mapping[str, CborValue]
    status: str
    state: VerifiedState

    @property
    def id(self) -> int:
        value = self.proposal["id"]
        assert isinstance(value, int)
        return value


def proven_proposal(state: VerifiedState, proposal_id: int) -> ProvenProposal:
    """The proposal in a verified state read of `proposal_key(proposal_id)`."""
    if state.namespace != NAMESPACE or state.key != proposal_key(proposal_id):
        raise ProofMismatch("the state read is not of this proposal")
    if state.value is None:
        raise ProofMismatch(f"the node proved proposal {proposal_id} absent but returned it")
    try:
        value = decode_value(state.value, max_size=PROPOSAL_BYTES_MAX)
    except GongshiError as error:
        raise MalformedResponse(f"the proven proposal does not decode: {error.message}") from None
    if not isinstance(value, Mapping) or value.get("id") != proposal_id:
        raise ProofMismatch("the proven value is not this proposal")
    status, expiry = value.get("status"), value.get("expiry_height")
    if not isinstance(status, str) or type(expiry) is not int:
        raise MalformedResponse("the proven proposal has no status or expiry height")
    if status == "open" and state.block.height + 1 > expiry:
        status = "expired"
    return ProvenProposal(proposal={**value, "status": status}, status=status, state=state)
