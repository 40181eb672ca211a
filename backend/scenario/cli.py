"""`scenario` command group; the main CLI attaches it as `pledgewatch scenario`."""
from __future__ import annotations

import sys

import click

from backend.scenario.errors import ScenarioFileError
from backend.scenario.report import render_json, render_timeline
from backend.scenario.runner import run_file

BAD_FILE_EXIT = 2


@click.group(name="scenario")
def scenario() -> None:
    """What-if runs of a collateral book in simulated time."""


@scenario.command(name="run")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a timeline.")
def run(file: str, as_json: bool) -> None:
    """Run scenario FILE deterministically and report the alerts it raised."""
    try:
        result = run_file(file)
    except ScenarioFileError as exc:
        click.echo(f"pledgewatch: {exc}", err=True)  # the format of every command's errors
        sys.exit(BAD_FILE_EXIT)
    click.echo(render_json(result) if as_json else render_timeline(result))
