"""Node configuration: one TOML file per node, every option defaulted and documented.

An empty file is a valid configuration (all defaults); `gongshi init` writes every option
with its documentation above it. Relative paths are relative to the configuration file's
directory, so a node directory can be moved or mounted into a container as a whole.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from gongshi.crypto.keyfile import read_file
from gongshi.node.config_fields import (
    NAME_PATTERN,
    HostPort,
    TomlTable,
    option,
    read_section,
    render_section,
)
from gongshi.pki.errors import ConfigFieldError

logger = logging.getLogger(__name__)

CONFIG_FILE_SIZE_MAX = 1024 * 1024
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
API_ACCESS_MODES = ("members", "open")  # gongshi.api.access.AccessMode values
DEFAULT_HOST = "127.0.0.1"
DEFAULT_P2P_PORT = 26600
DEFAULT_API_PORT = 26601
DEFAULT_METRICS_PORT = 26602


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSection:
    name: str = field(
        default="node",
        metadata=option("Node name; a consensus node's name matches its validator in genesis."),
    )
    data_dir: Path = field(
        default=Path("data"), metadata=option("Directory of the block store, state and WAL.")
    )
    genesis_file: Path = field(
        default=Path("genesis.toml"), metadata=option("The chain's genesis file.")
    )
    genesis_hash: bytes = field(
        default=b"",
        metadata=option(
            "Hex genesis hash the node insists on (empty: accept the genesis file as it is)."
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentitySection:
    certificate_file: Path = field(
        default=Path("node.crt"),
        metadata=option(
            "This node's certificate (role node or observer), issued by its organisation's CA."
        ),
    )
    signing_key_file: Path = field(
        default=Path("node.key"),
        metadata=option("Chain signing private key (PEM, mode 0600): signs votes and blocks."),
    )
    tls_key_file: Path | None = field(
        default=None,
        metadata=option(
            "TLS private key of the certificate (suite gm: the P-256 key);\n"
            'empty ("") means the signing key, as in suite intl.'
        ),
    )
    organisation_ca_file: Path | None = field(
        default=None,
        metadata=option(
            "CA certificate of this node's organisation, trusted before governance adds it\n"
            'to the chain (a joining organisation; `gongshi org new` sets it). "": none.'
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class P2PSection:
    listen_address: HostPort = field(
        default=HostPort(host=DEFAULT_HOST, port=DEFAULT_P2P_PORT),
        metadata=option("host:port the node accepts peer (mutual TLS) connections on."),
    )
    peers: tuple[HostPort, ...] = field(
        default=(), metadata=option("host:port of the peers to connect to.")
    )
    peers_max: int = field(
        default=64,
        metadata=option("Most peer connections kept open at once.", minimum=1, maximum=1024),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSection:
    enabled: bool = field(default=True, metadata=option("Serve JSON-RPC and WebSocket."))
    listen_address: HostPort = field(
        default=HostPort(host=DEFAULT_HOST, port=DEFAULT_API_PORT),
        metadata=option("host:port of the JSON-RPC / WebSocket API."),
    )
    request_bytes_max: int = field(
        default=1024 * 1024,
        metadata=option("Largest API request body in bytes.", minimum=1024, maximum=64 << 20),
    )
    subscriptions_max: int = field(
        default=1000,
        metadata=option("Most WebSocket subscriptions at once.", minimum=0, maximum=100_000),
    )
    access: str = field(
        default="members",
        metadata=option(
            "members: every request is signed by a registered member, routes checked\n"
            "against its role (docs/api.md); open: no authentication (development).",
            choices=API_ACCESS_MODES,
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsSection:
    enabled: bool = field(default=True, metadata=option("Serve Prometheus metrics."))
    listen_address: HostPort = field(
        default=HostPort(host=DEFAULT_HOST, port=DEFAULT_METRICS_PORT),
        metadata=option("host:port of the Prometheus /metrics endpoint."),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogSection:
    level: str = field(default="INFO", metadata=option("Log level.", choices=LOG_LEVELS))
    format: str = field(
        default="text",
        metadata=option("text (key=value) or json (one object a line).", choices=LOG_FORMATS),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """A node's configuration; `load_node_config` returns it with absolute paths."""

    node: NodeSection = NodeSection()
    identity: IdentitySection = IdentitySection()
    p2p: P2PSection = P2PSection()
    api: ApiSection = ApiSection()
    metrics: MetricsSection = MetricsSection()
    log: LogSection = LogSection()

    @property
    def tls_key_file(self) -> Path:
        """The key that goes with the certificate in TLS."""
        return self.identity.tls_key_file or self.identity.signing_key_file

    def resolve(self, base_dir: Path) -> NodeConfig:
        """This configuration with relative paths made relative to `base_dir`."""

        def absolute(path: Path) -> Path:
            return path if path.is_absolute() else base_dir / path

        tls_key = self.identity.tls_key_file
        ca_file = self.identity.organisation_ca_file
        return replace(
            self,
            node=replace(
                self.node,
                data_dir=absolute(self.node.data_dir),
                genesis_file=absolute(self.node.genesis_file),
            ),
            identity=replace(
                self.identity,
                certificate_file=absolute(self.identity.certificate_file),
                signing_key_file=absolute(self.identity.signing_key_file),
                tls_key_file=None if tls_key is None else absolute(tls_key),
                organisation_ca_file=None if ca_file is None else absolute(ca_file),
            ),
        )


SECTIONS: tuple[tuple[str, type], ...] = (
    ("node", NodeSection),
    ("identity", IdentitySection),
    ("p2p", P2PSection),
    ("api", ApiSection),
    ("metrics", MetricsSection),
    ("log", LogSection),
)


def parse_node_config(document: dict[str, object], *, source: str = "") -> NodeConfig:
    """A NodeConfig from a parsed TOML document (paths as written); ConfigFieldError names
    the offending field."""
    root = TomlTable(document, "", source)
    root.check_keys(name for name, _ in SECTIONS)
    config = NodeConfig(
        node=read_section(NodeSection, root.table("node")),
        identity=read_section(IdentitySection, root.table("identity")),
        p2p=read_section(P2PSection, root.table("p2p")),
        api=read_section(ApiSection, root.table("api")),
        metrics=read_section(MetricsSection, root.table("metrics")),
        log=read_section(LogSection, root.table("log")),
    )
    _check_consistency(config, source)
    return config


def _check_consistency(config: NodeConfig, source: str) -> None:
    if not NAME_PATTERN.fullmatch(config.node.name):
        raise ConfigFieldError(
            "node.name", f"is not a name ({NAME_PATTERN.pattern})", source=source
        )
    if config.node.genesis_hash and len(config.node.genesis_hash) != 32:
        raise ConfigFieldError(
            "node.genesis_hash", "must be 32 bytes (64 hex digits)", source=source
        )
    listeners = [("p2p.listen_address", config.p2p.listen_address)]
    if config.api.enabled:
        listeners.append(("api.listen_address", config.api.listen_address))
    if config.metrics.enabled:
        listeners.append(("metrics.listen_address", config.metrics.listen_address))
    seen: dict[HostPort, str] = {}
    for name, address in listeners:
        if address in seen:
            raise ConfigFieldError(name, f"{address} is also {seen[address]}", source=source)
        seen[address] = name
    if len(set(config.p2p.peers)) != len(config.p2p.peers):
        raise ConfigFieldError("p2p.peers", "lists a peer twice", source=source)
    if config.p2p.listen_address in config.p2p.peers:
        raise ConfigFieldError("p2p.peers", "lists this node's own address", source=source)


def load_node_config(path: Path) -> NodeConfig:
    """Read, validate and resolve (relative to the file's directory) a node's TOML file."""
    data = read_file(path)
    if len(data) > CONFIG_FILE_SIZE_MAX:
        raise ConfigFieldError(
            "(file)", f"larger than {CONFIG_FILE_SIZE_MAX} bytes", source=str(path)
        )
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigFieldError("(file)", f"not valid TOML: {error}", source=str(path)) from error
    config = parse_node_config(document, source=str(path))
    logger.debug("loaded node config path=%s name=%s", path, config.node.name)
    return config.resolve(Path(path).resolve().parent)


def render_node_config(config: NodeConfig) -> str:
    """The TOML text of `config`, every option documented; `parse_node_config` inverts it."""
    lines = [
        "# Gongshi node configuration. Every key is optional: an absent key takes the default",
        "# documented in docs/configuration.md. Relative paths are relative to this file.",
        "",
    ]
    for title, _ in SECTIONS:
        lines.extend(render_section(title, getattr(config, title)))
    return "\n".join(lines)
