"""Files in and out: atomic writes, and JSONL whose errors name the file, the line and the field.

A killed process must never leave a half-written file that a later run trusts, so every
file agentpref derives (JSON, JSONL shards, reports, images) goes through `write_atomic`.
Reading is strict: a bad line is an `InputError` such as
``samples-00000.jsonl:3: field 'answer': Input should be 'Image A' or 'Image B'``.

>>> field_name(("pairs", 1, "winner"))
'pairs[1].winner'
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentpref.errors import InputError

M = TypeVar("M", bound=BaseModel)


def cache_dir() -> Path:
    """`$AGENTPREF_CACHE` or ~/.cache/agentpref: where agentpref keeps what it builds or
    downloads once (model weights, test fixtures, the vLLM CPU venv)."""
    return Path(os.environ.get("AGENTPREF_CACHE") or Path.home() / ".cache" / "agentpref")


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | os.PathLike[str], models: Iterable[BaseModel]) -> None:
    """One model per line, written atomically (a reader never sees half a file)."""
    write_atomic(path, "".join(m.model_dump_json() + "\n" for m in models))


class JsonlError(InputError):
    """A bad line in a JSONL file; the message names the file, the line and the field."""

    def __init__(self, path: str | os.PathLike[str], line: int, field: str | None, reason: str) -> None:
        where = f"{path}:{line}" + (f": field {field!r}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.field, self.reason = str(path), line, field, reason


def field_name(loc: Iterable[int | str]) -> str:
    """pydantic's error location as one name: ("conversations", 1, "value") -> "conversations[1].value"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe_validation(exc: ValidationError) -> tuple[str | None, str]:
    """(field, reason) of a pydantic error's first problem: the value it got (cut to 80
    characters) and how many more problems there are."""
    errors = exc.errors()
    first = errors[0]
    value = f" (got {first['input']!r:.80})" if first["type"] != "missing" else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return field_name(first["loc"]) or None, first["msg"] + value + more


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; JsonlError for bad JSON or a non-object."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    with handle:
        try:
            for n, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise JsonlError(p, n, None, f"not JSON ({exc.msg} at column {exc.colno})") from None
                if not isinstance(obj, dict):
                    raise JsonlError(p, n, None, f"expected a JSON object, got {type(obj).__name__}")
                yield n, obj
        except UnicodeDecodeError as exc:
            raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_jsonl(path: str | os.PathLike[str], model: type[M]) -> list[M]:
    """Every line of a JSONL file validated as `model`, errors naming file, line and field."""
    out = []
    for n, obj in iter_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            raise JsonlError(path, n, *describe_validation(exc)) from None
    return out
