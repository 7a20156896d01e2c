"""What every `agentpref` command shares: errors turned into exit codes, `--json`, results on
stdout (`print_table`), the `--refs`/`--dislikes` and backend options, sizes, the stderr console.

Kept light: `agentpref --help` imports this module.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from agentpref.images.refs import References
    from agentpref.images.store import ImageStore

F = TypeVar("F", bound=Callable[..., Any])


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def handle_errors(command: F) -> F:
    """Turn agentpref errors into a one-line message and an exit code (2 bad input, 3 backend)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from agentpref.errors import AgentprefError, InputError

        try:
            return command(*args, **kwargs)
        except (AgentprefError, ValidationError) as err:
            if isinstance(err, ValidationError):  # settings built from the command line
                fields = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
                err = InputError("; ".join(fields))
            if kwargs.get("as_json"):
                payload: dict[str, Any] = {"error": str(err), "exit_code": err.exit_code}
                if finished := getattr(err, "judgments", None):  # e.g. a rank cut short: keep its work
                    payload["judgments"] = [j.model_dump(mode="json") for j in finished]
                if raw := getattr(err, "raw_text", None):  # what an unreadable model answer said
                    payload["raw_text"] = raw
                click.echo(json.dumps(payload))
            stderr_console().print(f"[bold red]error:[/] {escape(str(err))}", markup=True, highlight=False)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")(
        command
    )


def parse_size(size: str) -> tuple[int, int]:
    from agentpref.errors import InputError

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise InputError(f"--size must look like 512x512, got {size!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise InputError(f"--size {size} is outside 16..4096 per side")
    return w, h


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Results on stdout: a table on a terminal, tab-separated lines (a header first) when piped.

    Cells are shown as text, never as console markup, and a tab or newline inside a cell
    becomes a space in the piped form so every row stays one line.
    """
    if stdout_is_terminal():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        Console(highlight=False).print(table)
        return
    for row in [columns, *rows]:
        click.echo("\t".join(" ".join(cell.split()) for cell in row))


def backend_option(kind: Literal["assessor", "generator"]) -> Callable[[F], F]:
    """--assessor / --generator: a backend URI, from the environment when not given."""
    from agentpref.backends import BACKENDS, DEFAULTS, ENVIRONMENT

    uris = ", ".join(f"'{b.uri}'" for b in BACKENDS if b.kind == kind)
    text = (
        f"{kind.capitalize()} URI: {uris} (default {DEFAULTS[kind]}, or ${ENVIRONMENT[kind]}). "
        "`agentpref backends` says what each is and what is installed here."
    )
    return click.option(f"--{kind}", f"{kind}_uri", default=None, envvar=ENVIRONMENT[kind], help=text)


def refs_options(command: F) -> F:
    command = click.option(
        "--dislikes",
        type=click.Path(path_type=Path),
        help="Folder of images the person dislikes (optional; or put a dislikes/ folder inside --refs).",
    )(command)
    return click.option(
        "--refs",
        type=click.Path(path_type=Path),
        help="Folder of images the person likes, or a folder holding likes/ and dislikes/.",
    )(command)


def load_refs(refs: Path | None, dislikes: Path | None, store: ImageStore | None = None) -> References:
    """The references the options name; skipped files and a missing dislikes side are said on stderr."""
    from agentpref.errors import InputError
    from agentpref.images.refs import load_references

    if refs is None:
        raise InputError("--refs is required: a folder of liked images (or one with likes/ and dislikes/)")
    references = load_references(refs, dislikes, store=store)
    console = stderr_console()
    for skipped in references.skipped:
        console.print(f"[yellow]skipped[/] {escape(str(skipped))}", markup=True, highlight=False)
    if not references.dislikes:
        console.print("[yellow]note:[/] no disliked images: the profile says only what is liked.")
    return references


def escape(text: str) -> str:
    """Text from files or models, safe to print inside console markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)
