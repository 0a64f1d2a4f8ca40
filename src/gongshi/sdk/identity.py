"""A member's identity from a network directory: suite, signing key and certificate.

    identity = Identity.load("localnet", "org1", "client")

reads `orgs/<org>/<role>/<role>.key` and `.crt` as `gongshi init` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gongshi.crypto import PrivateKey, Suite, get_suite
from gongshi.pki.roles import ROLE_NAMES
from gongshi.sdk.errors import IdentityNotFound
from gongshi.sdk.network import GENESIS_FILE, NetworkInfo

CERTIFICATE_BYTES_MAX = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    organisation: str
    role: str
    suite: Suite
    key: PrivateKey
    certificate_pem: bytes

    @property
    def public_key(self) -> bytes:
        return self.key.public_key_bytes()

    @property
    def address(self) -> bytes:
        return self.key.address()

    @classmethod
    def load(
        cls,
        network_dir: Path | str,
        organisation: str = "org1",
        role: str = "client",
        *,
        network: NetworkInfo | None = None,
    ) -> Identity:
        """The identity of `role` in `organisation` (the suite comes from the genesis)."""
        if role not in ROLE_NAMES:
            raise IdentityNotFound(f"{role!r} is not a role ({', '.join(ROLE_NAMES)})")
        directory = Path(network_dir)
        suite_name = network.genesis.suite if network else _suite_of(directory)
        suite = get_suite(suite_name)
        folder = directory / "orgs" / organisation / role
        key_file, certificate_file = folder / f"{role}.key", folder / f"{role}.crt"
        for path in (key_file, certificate_file):
            if not path.is_file():
                raise IdentityNotFound(f"{path} does not exist (was the network initialised?)")
        try:
            key = suite.load_private_key(key_file)
            certificate = certificate_file.read_bytes()[:CERTIFICATE_BYTES_MAX]
        except OSError as error:
            raise IdentityNotFound(f"cannot read {folder}: {error.strerror}") from None
        return cls(
            organisation=organisation,
            role=role,
            suite=suite,
            key=key,
            certificate_pem=certificate,
        )


def _suite_of(directory: Path) -> str:
    if not (directory / GENESIS_FILE).is_file():
        raise IdentityNotFound(f"{directory / GENESIS_FILE} does not exist")
    return NetworkInfo.load(directory).genesis.suite
