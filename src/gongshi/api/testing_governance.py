"""Governance on a `LocalChain` for tests: enact a proposal with the admins' votes, and make
a new validator (key and `add_node` payload) certified by an organisation's CA.

    key, payload = candidate_node(chain, "node5")          # its key is registered
    enact(chain, "add_node", payload)                      # epoch 1 from the next block
    enact(chain, "remove_node", {"public_key": key4})      # epoch 2

Each call commits blocks on the chain directly: on a `ServedChain`, run it on the chain's
loop (`served.call(lambda: enact(chain, ...))`), which owns the mempool.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization

from gongshi.api.testing import GENESIS_TIME, LocalChain
from gongshi.codec import CborValue, Receipt, ReceiptStatus, Transaction, encode
from gongshi.crypto import PrivateKey
from gongshi.pki import MemberRequest, Role, Validity, issue_member_certificate
from gongshi.pki.issue import CertificateAuthority
from gongshi.pki.profile import generate_certificate_key, profile_for
from gongshi.pki.validation import load_certificate

GOVERNANCE_GAS_LIMIT = 5_000_000
EXPIRY_BLOCKS = 1000
NODE_VALIDITY_DAYS = 730


def _authority(chain: LocalChain, organisation: str) -> CertificateAuthority:
    ca_dir = chain.network_dir / "orgs" / organisation / "ca"
    private_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
    return CertificateAuthority(
        organisation=organisation,
        profile=profile_for(chain.suite.name),
        certificate=load_certificate((ca_dir / "ca.crt").read_bytes()),
        private_key=private_key,  # type: ignore[arg-type]
    )


def candidate_node(
    chain: LocalChain, name: str, *, organisation: str = "org1", number: int = 5
) -> tuple[PrivateKey, dict[str, Any]]:
    """A new consensus node of `organisation`: its chain signing key (registered with the
    chain, so blocks of its epochs can be certified) and the `add_node` payload."""
    authority = _authority(chain, organisation)
    key = chain.suite.generate_private_key()
    profile = authority.profile
    tls_key = generate_certificate_key(profile) if profile.chain_key_in_extension else None
    request = MemberRequest(
        common_name=name,
        role=Role.NODE,
        chain_public_key=key.public_key_bytes(),
        validity=Validity.starting(GENESIS_TIME - timedelta(days=1), NODE_VALIDITY_DAYS),
        tls_public_key=None if tls_key is None else tls_key.public_key(),
    )
    certificate = issue_member_certificate(authority, chain.suite, request)
    chain.add_validator_key(key)
    payload = {
        "role": "node",
        "name": name,
        "public_key": key.public_key_bytes(),
        "p2p_address": f"127.0.0.1:{26600 + 10 * number}",
        "api_address": f"127.0.0.1:{26601 + 10 * number}",
        "certificate_pem": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }
    return key, payload


def admin_call(chain: LocalChain, organisation: str, method: str, args: Any) -> Receipt:
    """`governance.<method>` signed by `organisation`'s admin, committed in a block of its
    own; the receipt (RuntimeError unless SUCCESS)."""
    key = chain.suite.load_private_key(
        chain.network_dir / "orgs" / organisation / "admin" / "admin.key"
    )
    tx = Transaction(
        chain_id=chain.genesis.params.chain_id,
        nonce=chain.ledger.get_nonce(chain.suite.address(key.public_key_bytes())),
        sender=key.public_key_bytes(),
        target="governance",
        method=method,
        args=args,
        gas_limit=GOVERNANCE_GAS_LIMIT,
        expiry_height=chain.height + EXPIRY_BLOCKS,
    ).sign(key)
    prepared = chain.pool.checker.check(encode(tx), next_height=chain.height + 1)
    chain.pool.add(prepared)
    _, receipts = chain.commit_pending()
    found = [r for r in receipts if r.tx_hash == prepared.tx_hash]
    if len(found) != 1 or found[0].status is not ReceiptStatus.SUCCESS:
        raise RuntimeError(f"governance.{method} by {organisation} failed: {found}")
    return found[0]


def _returned(receipt: Receipt) -> Mapping[str, CborValue]:
    value = receipt.return_value
    if not isinstance(value, Mapping):
        raise RuntimeError(f"governance returned {value!r}, not a map")
    return value


def enact(
    chain: LocalChain,
    kind: str,
    payload: Mapping[str, Any],
    *,
    activation_height: int | None = None,
) -> int:
    """Propose `kind` as the first organisation's admin and vote yes as the next ones until
    it is executed (one block per transaction); the height of the executing block."""
    args: dict[str, Any] = {"kind": kind, "payload": dict(payload)}
    if activation_height is not None:
        args["activation_height"] = activation_height
    organisations = [org.name for org in chain.genesis.organisations]
    proposal_id = _returned(admin_call(chain, organisations[0], "propose", args))["id"]
    for organisation in organisations[1:]:
        vote = {"id": proposal_id, "approve": True}
        if _returned(admin_call(chain, organisation, "vote", vote))["status"] == "executed":
            return chain.height
    raise RuntimeError(f"proposal {proposal_id!r} was not executed by the organisations' votes")
