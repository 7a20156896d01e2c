"""What every `agentpref` command shares: error handling, JSON output, sizes, the console.

Kept light: `agentpref --help` imports this module.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

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
            stderr_console().print(f"[bold red]error:[/] {err}", markup=True, highlight=False)
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
