"""Entry point of the `gongshi` command.

Subcommands live in their own modules and are imported only when used, so `gongshi --help`
stays fast and one broken subcommand cannot take the others down.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from gongshi import __version__
from gongshi.errors import GongshiError, ValidationError

# name -> "module:attribute" of a click command or group
SUBCOMMANDS: dict[str, str] = {
    "init": "gongshi.cli.init_cmd:init",
    "bench": "gongshi.cli.bench_cmd:bench",
    "sim": "gongshi.cli.sim_cmd:sim",
    "status": "gongshi.cli.client_cmds:status",
    "tx": "gongshi.cli.client_cmds:tx",
    "block": "gongshi.cli.client_cmds:block",
    "notary": "gongshi.cli.client_cmds:notary",
    "contract": "gongshi.cli.contract_cmds:contract",
    "node": "gongshi.cli.node_cmd:node",
    "up": "gongshi.cli.up_cmd:up",
    "gov": "gongshi.cli.gov_cmds:gov_group",
    "org": "gongshi.cli.org_cmds:org",
}

EXIT_INPUT_ERROR = 2
EXIT_FAILURE = 1


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="gongshi")
def cli() -> None:
    """Gongshi (共识): a permissioned consortium blockchain."""


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; GongshiErrors become one-line messages, never tracebacks."""
    try:
        return cli.main(args=argv, prog_name="gongshi", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILURE)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except GongshiError as error:
        click.echo(f"error [{error.code}]: {error.message}", err=True)
        sys.exit(EXIT_INPUT_ERROR if isinstance(error, ValidationError) else EXIT_FAILURE)


if __name__ == "__main__":
    main()
