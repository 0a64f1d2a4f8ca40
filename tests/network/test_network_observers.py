"""Observer nodes on the peer network: an observer certificate (role observer) is admitted
when governance lists its key, it dials the validators (it has no address in their allowed
set, and its certificate is a TLS client's), and revoking it cuts it off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from gongshi.crypto.keyfile import write_private_file
from gongshi.network import PeerInfo
from gongshi.pki import RevocationList
from gongshi.pki.issue import CertificateAuthority, MemberRequest, Validity
from gongshi.pki.issue import issue_member_certificate as issue
from gongshi.pki.profile import generate_certificate_key, private_key_pem, profile_for
from gongshi.pki.roles import Role
from gongshi.pki.validation import load_certificate


def observer_member(cluster: Any, tmp_path: Path, organisation: str = "org2") -> Any:
    """An observer certificate issued by `organisation`'s CA from the network directory."""
    suite = cluster.trust.suite
    ca_dir = cluster.root / "orgs" / organisation / "ca"
    authority = CertificateAuthority(
        organisation=organisation,
        profile=profile_for(suite.name),
        certificate=load_certificate((ca_dir / "ca.crt").read_bytes()),
        private_key=serialization.load_pem_private_key(  # type: ignore[arg-type]
            (ca_dir / "ca.key").read_bytes(), password=None
        ),
    )
    chain_key = suite.generate_private_key()
    # gm: TLS uses a separate P-256 key; the chain key travels in an extension.
    tls_key = (
        generate_certificate_key(authority.profile)
        if authority.profile.chain_key_in_extension
        else None
    )
    start = datetime.now(UTC) - timedelta(hours=1)
    request = MemberRequest(
        common_name="observer1",
        role=Role.OBSERVER,
        chain_public_key=chain_key.public_key_bytes(),
        validity=Validity.starting(start, 30),
        tls_public_key=None if tls_key is None else tls_key.public_key(),
    )
    certificate = issue(authority, suite, request)
    certificate_file = tmp_path / "observer.crt"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = tmp_path / "observer.key"
    write_private_file(
        key_file, chain_key.to_pem() if tls_key is None else private_key_pem(tls_key)
    )
    member = cluster.member(organisation, Role.CLIENT)  # same shape; replace its fields
    member.certificate_file = certificate_file
    member.key_file = key_file
    member.public_key = chain_key.public_key_bytes()
    member.name = "observer1"
    member.serial = certificate.serial_number
    return member


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_an_observer_dials_the_validators_and_is_cut_off_when_revoked(
    request: pytest.FixtureRequest, net: Any, tmp_path: Path, suite: str
) -> None:
    cluster = request.getfixturevalue("cluster" if suite == "intl" else "gm_cluster")
    observer = observer_member(cluster, tmp_path)
    observer_peer = PeerInfo(public_key=observer.public_key, name="observer1", address=None)

    async def main() -> None:
        node1 = cluster.network(0)
        watcher = cluster.network(1, member=observer)
        try:
            await cluster.start({0: node1})
            await watcher.start()
            cluster.running.append(watcher)
            validator = cluster.peer(0, node1.listen_address)
            node1.set_allowed_peers([validator, observer_peer])
            watcher.set_allowed_peers([validator, observer_peer])
            await net.wait_until(lambda: node1.connected_peers() == (observer.public_key,), "in")
            # The dialling side registers its connection after its own half of the handshake.
            await net.wait_until(
                lambda: watcher.connected_peers() == (validator.public_key,), "out"
            )
            node1.set_revocations(RevocationList(serials=frozenset({("org2", observer.serial)})))
            await net.wait_until(lambda: not watcher.connected_peers(), "observer cut off")
            failures = node1.counters().handshake_failures
            await net.wait_until(
                lambda: node1.counters().handshake_failures >= failures + 2, "redials refused"
            )
            assert not node1.connected_peers()
        finally:
            await cluster.stop_all()

    net.run(main)
