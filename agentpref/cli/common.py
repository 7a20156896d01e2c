"""What every `agentpref` command shares: errors turned into exit codes, `--json`, results on
stdout (`print_table`, `echo`), notes on stderr (`say`), the `--refs`/`--dislikes` and backend
options, sizes, the stderr console.

Text from files, models and servers is untrusted: it may hold rich markup (`[/x]` would
crash the print, `[red]` would vanish) or terminal escape sequences (clear the screen, set
the window title, write the clipboard). So every such string goes through `terminal_safe`
and is printed as text, never as markup. `--json` output is JSON, which escapes control
characters itself (`print_json` escapes the rest).

Kept light: `agentpref --help` imports this module.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console

    from agentpref.images.references import References
    from agentpref.images.store import ImageStore

F = TypeVar("F", bound=Callable[..., Any])

# C0 and C1 controls, DEL, the Unicode line separators and lone surrogates (undecodable bytes
# of a file name): each is shown as its escape, so none acts on the terminal. Tab is harmless.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_CONTROL_KEEPING_NEWLINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Bidirectional overrides and isolates reorder what is shown (a name that reads "gnp.exe" as
# "exe.png"); they are dropped.
_BIDI = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, *, newlines: bool = False) -> str:
    r"""Untrusted text fit for a terminal: control characters shown as escapes, bidi controls
    dropped, newlines kept only when `newlines` (else shown as ``\n``).

    >>> terminal_safe("a\x1b[2Jb\x07c\u202ed")
    'a\\x1b[2Jb\\x07cd'
    >>> terminal_safe("one\ntwo\r"), terminal_safe("one\ntwo\r", newlines=True)
    ('one\\x0atwo\\x0d', 'one\ntwo\\x0d')
    """
    pattern = _CONTROL_KEEPING_NEWLINES if newlines else _CONTROL
    return pattern.sub(_visible, text.translate(_BIDI))


def stderr_console() -> Console:
    """The console for notes and progress. Lines are not broken at the terminal's width, so a
    hint such as `pip install 'agentpref[hf]'` stays one line to copy."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def say(text: str, *, label: str = "", style: str = "yellow", console: Console | None = None) -> None:
    """One note on stderr: a styled label of ours, then `text` (untrusted) shown as text."""
    from rich.text import Text

    line = Text.assemble((label, style), " " if label else "")
    line.append(terminal_safe(text, newlines=True))
    (console or stderr_console()).print(line)


def echo(text: str, *, newlines: bool = False) -> None:
    """A result on stdout, safe for a terminal (file names and model text may be in it); one
    line unless `newlines` (so a name holding a newline cannot fake a line of its own)."""
    click.echo(terminal_safe(text, newlines=newlines))


def print_json(data: BaseModel | dict[str, Any] | list[Any]) -> None:
    """`--json` output on stdout: one line of JSON, every non-ASCII character escaped, so no
    control character (C1 ones and bidi overrides included) reaches a terminal raw."""
    from pydantic import BaseModel

    plain = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    click.echo(json.dumps(plain, ensure_ascii=True))


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
                print_json(payload)
            say(str(err), label="error:", style="bold red")
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

    The title and cells are shown as text, never as console markup, with control characters
    made visible (`terminal_safe`); a tab or newline inside a cell becomes a space in the
    piped form so every row stays one line.
    """
    if stdout_is_terminal():
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=Text(terminal_safe(title)))
        for column in columns:
            table.add_column(Text(column))
        for row in rows:
            table.add_row(*(Text(terminal_safe(cell, newlines=True)) for cell in row))
        Console(highlight=False).print(table)
        return
    for row in [columns, *rows]:
        click.echo("\t".join(terminal_safe(" ".join(cell.split())) for cell in row))


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
    """The references the options name; skipped files and a missing dislikes side are said on
    stderr, and a bar shows the loading of many on a terminal."""
    from agentpref.cli.progress import ReferenceProgress
    from agentpref.errors import InputError
    from agentpref.images.references import load_references

    if refs is None:
        raise InputError("--refs is required: a folder of liked images (or one with likes/ and dislikes/)")
    console = stderr_console()
    with ReferenceProgress(console) as progress:
        references = load_references(refs, dislikes, store=store, on_progress=progress)
    for skipped in references.skipped:
        say(str(skipped), label="skipped", console=console)
    if not references.dislikes:
        say("no disliked images: the profile says only what is liked.", label="note:", console=console)
    return references
