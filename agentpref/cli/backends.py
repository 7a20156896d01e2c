"""`agentpref backends`: the assessors and generators known here, and what each needs."""

from __future__ import annotations

import click

from agentpref.cli.common import handle_errors, json_option, print_json, print_table


@click.command()
@json_option
@handle_errors
def backends(as_json: bool) -> None:
    """List the backends --assessor and --generator take: URI, where it runs, what it is,
    and whether its libraries are installed here (plug-ins included)."""
    from agentpref.backends import backends as known

    entries = known()
    if as_json:
        rows = [
            {"role": b.kind, "uri": b.uri, "runs_on": b.runs_on, "extra": b.extra, "installed": b.installed,
             "help": b.help}
            for b in entries
        ]  # fmt: skip
        print_json(rows)
        return
    table = [
        [b.kind, b.uri, b.runs_on, "yes" if b.installed else f"pip install 'agentpref[{b.extra}]'", b.help]
        for b in entries
    ]
    print_table("Backends", ["Role", "URI", "Runs on", "Installed", "What it is"], table)
