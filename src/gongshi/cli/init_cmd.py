"""`gongshi init`: create a network directory (CAs, member certificates, genesis, node
configurations). The work is in `gongshi.cli.init_network`; this module is the command line."""

from __future__ import annotations

from pathlib import Path

import click

from gongshi.cli.init_network import (
    DEFAULT_BASE_PORT,
    DEFAULT_CHAIN_ID,
    NetworkOptions,
    NetworkPlan,
    create_network,
)


def summary(plan: NetworkPlan, out: Path) -> str:
    """What was created, and the command to run next."""
    genesis = plan.genesis
    regulators = ", ".join(r.organisation for r in genesis.regulators) or "none"
    lines = [
        f"Created Gongshi network {genesis.params.chain_id!r} in {out}: suite {genesis.suite}, "
        f"{len(genesis.organisations)} organisation(s), regulator: {regulators}",
        f"  genesis  {out / 'genesis.toml'}  (hash {plan.genesis_hash.hex()})",
        f"  orgs     {out / 'orgs'}/<org>/: CA, admin, client (and regulator) certificates, keys",
    ]
    for node in plan.nodes:
        lines.append(
            f"  {node.name:<8} {node.organisation:<6} p2p {node.p2p_address}  "
            f"api {node.api_address}  config {out / node.config_path}"
        )
    first = out / plan.nodes[0].config_path
    lines.append(f"Next: start each node, e.g. gongshi node start --config {first}")
    return "\n".join(lines)


@click.command("init")
@click.option("--orgs", "organisations", type=int, required=True, help="Number of organisations.")
@click.option("--suite", required=True, help="Crypto suite: gm or intl.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=True, dir_okay=True),
    required=True,
    help="Network directory to create.",
)
@click.option(
    "--force", is_flag=True, help="Replace genesis.toml, orgs/ and nodes/ in a non-empty --out."
)
@click.option("--chain-id", default=DEFAULT_CHAIN_ID, show_default=True, help="Chain id.")
@click.option(
    "--base-port",
    type=int,
    default=DEFAULT_BASE_PORT,
    show_default=True,
    help="First port: node k (1..N) listens on base+10(k-1) (p2p), +1 (API), +2 (metrics).",
)
@click.option(
    "--regulator-org",
    default="org1",
    show_default=True,
    help="Organisation that also gets a regulator certificate.",
)
@click.option(
    "--api-access",
    type=click.Choice(["members", "open"]),
    default="members",
    show_default=True,
    help="[api] access of the nodes: members (signed requests, checked against the member's "
    "role) or open (no authentication; development only).",
)
def init(
    organisations: int,
    suite: str,
    out: Path,
    force: bool,
    chain_id: str,
    base_port: int,
    regulator_org: str,
    api_access: str,
) -> None:
    """Create a network directory: CAs and member certificates per organisation, a genesis
    file and one configuration per consensus node (all on 127.0.0.1)."""
    options = NetworkOptions(
        organisations=organisations,
        suite=suite,
        chain_id=chain_id,
        base_port=base_port,
        regulator_organisation=regulator_org,
        api_access=api_access,
    )
    plan = create_network(options, out, force=force)
    click.echo(summary(plan, out))
