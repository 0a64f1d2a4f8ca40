"""Options every benchmark command shares, so they read and behave alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from gongshi.crypto import SUITE_NAMES

F = TypeVar("F", bound=Callable[..., Any])


def suite_option(*, default: str, allow_all: bool) -> Callable[[F], F]:
    """`--suite NAME` (passed as `suite_choice`); with `allow_all`, also `all`."""
    choices = [*SUITE_NAMES, "all"] if allow_all else list(SUITE_NAMES)
    return click.option(
        "--suite",
        "suite_choice",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Which suite to measure.",
    )


rounds_option = click.option(
    "--rounds",
    type=click.IntRange(min=1, max=100),
    default=3,
    show_default=True,
    help="Repetitions; the best of each figure is reported.",
)


json_option = click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write the figures to this JSON file.",
)


def write_json(path: Path | None, document: object) -> None:
    """Write `document` to `path` (if given) as indented JSON."""
    if path is not None:
        path.write_text(json.dumps(document, indent=2) + "\n")
