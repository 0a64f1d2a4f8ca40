"""`gongshi bench`: measurement subcommands, each imported only when it runs."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command
BENCH_SUBCOMMANDS: dict[str, str] = {
    "chain": "gongshi.bench.chain:chain_command",
    "contracts": "gongshi.bench.contracts:contracts_command",
    "crypto": "gongshi.bench.crypto:crypto_command",
    "execution": "gongshi.bench.execution:execution_command",
    "mempool": "gongshi.bench.mempool:mempool_command",
    "storage": "gongshi.bench.storage:storage_command",
}


def _unavailable(name: str, reason: str) -> click.Command:
    """Stand-in for a subcommand whose module cannot be imported: `--help` still works."""

    def fail() -> None:
        raise click.ClickException(f"bench {name} is not available: {reason}")

    return click.Command(name, callback=fail, help=f"(unavailable: {reason})")


class LazyBenchGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(BENCH_SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = BENCH_SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            return _unavailable(cmd_name, str(error))
        command = getattr(module, attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyBenchGroup)
def bench() -> None:
    """Measure this machine: crypto suites, mempool, storage, execution, and a whole local chain."""
