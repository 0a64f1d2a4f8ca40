"""Node configuration: defaults, round trip, field errors, path resolution, documentation."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from gongshi.cli.init_network import NetworkPlan
from gongshi.node.config import (
    SECTIONS,
    NodeConfig,
    load_node_config,
    parse_node_config,
    render_node_config,
)
from gongshi.node.config_fields import HostPort, toml_value
from gongshi.node.genesis import ChainParams
from gongshi.pki.errors import ConfigFieldError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_empty_file_is_all_defaults() -> None:
    assert parse_node_config({}) == NodeConfig()
    assert parse_node_config(tomllib.loads(render_node_config(NodeConfig()))) == NodeConfig()


def test_round_trip_of_generated_configs(network: NetworkPlan) -> None:
    for output in network.files:
        if output.path.name == "config.toml":
            config = parse_node_config(tomllib.loads(output.content.decode()))
            assert render_node_config(config).encode() == output.content
            assert config.node.genesis_hash == network.genesis_hash
            assert len(config.p2p.peers) == len(network.genesis.validators) - 1


def test_rendered_file_documents_every_option() -> None:
    text = render_node_config(NodeConfig())
    for title, section in SECTIONS:
        assert f"[{title}]" in text
        for field in dataclasses.fields(section):
            line = next(line for line in text.splitlines() if line.startswith(f"{field.name} ="))
            above = text.splitlines()[text.splitlines().index(line) - 1]
            assert above.startswith("# "), f"{title}.{field.name} has no comment"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"bogus": {}}, "bogus: unknown key"),
        ({"p2p": {"peer": []}}, "p2p.peer: unknown key"),
        ({"p2p": "x"}, "p2p: must be a table"),
        ({"p2p": {"peers_max": 0}}, r"p2p.peers_max: 0 is outside 1..1024"),
        ({"p2p": {"peers_max": "8"}}, "p2p.peers_max: must be an integer, not str"),
        ({"p2p": {"peers": "127.0.0.1:1"}}, "p2p.peers: must be a list"),
        ({"p2p": {"peers": [1]}}, r"p2p.peers\[0\]: must be a host:port string"),
        ({"p2p": {"peers": ["a:1", "a:1"]}}, "p2p.peers: lists a peer twice"),
        ({"p2p": {"peers": ["127.0.0.1:26600"]}}, "p2p.peers: lists this node's own address"),
        ({"api": {"listen_address": "127.0.0.1:26600"}}, "api.listen_address: 127.0.0.1:26600 is"),
        ({"api": {"enabled": "yes"}}, "api.enabled: must be true or false"),
        ({"log": {"level": "LOUD"}}, "log.level: must be one of DEBUG, INFO, WARNING, ERROR"),
        ({"node": {"name": "../etc"}}, "node.name: is not a name"),
        ({"node": {"genesis_hash": "zz"}}, "node.genesis_hash: is not hexadecimal"),
        ({"node": {"genesis_hash": "00"}}, "node.genesis_hash: must be 32 bytes"),
        (
            {"metrics": {"listen_address": "localhost"}},
            "metrics.listen_address: 'localhost' is not",
        ),
    ],
)
def test_invalid_config_names_the_field(document: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigFieldError, match=message):
        parse_node_config(document, source="node.toml")


def test_disabled_listeners_may_share_addresses() -> None:
    config = parse_node_config({"api": {"enabled": False, "listen_address": "127.0.0.1:26600"}})
    assert config.api.enabled is False


def test_load_resolves_paths_against_the_file(tmp_path: Path) -> None:
    path = tmp_path / "node1" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        '[node]\ngenesis_file = "../genesis.toml"\n[identity]\nsigning_key_file = "/keys/k.pem"\n'
    )
    config = load_node_config(path)
    assert config.node.genesis_file == tmp_path / "node1" / ".." / "genesis.toml"
    assert config.node.data_dir == tmp_path / "node1" / "data"
    assert config.identity.signing_key_file == Path("/keys/k.pem")
    assert config.tls_key_file == Path("/keys/k.pem")  # empty tls_key_file: the signing key
    path.write_text("[node\n")
    with pytest.raises(ConfigFieldError, match="not valid TOML"):
        load_node_config(path)


HOSTS = st.one_of(
    st.ip_addresses().map(str),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z0-9]{1,10}){0,3}", fullmatch=True),
)


@given(host=HOSTS, port=st.integers(1, 65535))
def test_host_port_round_trip(host: str, port: int) -> None:
    address = HostPort(host=host, port=port)
    assert HostPort.parse(str(address)) == address
    assert parse_node_config({"p2p": {"peers": [str(address)]}}).p2p.peers == (address,)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "host",
        "host:",
        ":80",
        "host:0",
        "host:65536",
        "::1:80",
        "[1.2.3.4]:80",
        "a_b:80",
        "host:+80",
        "-a:80",
        "host:123456",
    ],
)
def test_host_port_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        HostPort.parse(text)


def test_every_option_is_documented_with_its_default() -> None:
    """docs/configuration.md has one table row per option, showing the code's default."""
    text = DOCS.read_text()
    sections = [*SECTIONS, ("params", ChainParams)]
    for title, section in sections:
        for field in dataclasses.fields(section):
            if field.default is dataclasses.MISSING:
                default = "(required)"
            else:
                default = tomli_w.dumps({"x": toml_value(field.default)}).strip()[len("x = ") :]
            row = f"| `{title}.{field.name}` | {default} |"
            assert row in text, f"docs/configuration.md lacks the row {row}"
