"""What every evaluation loader shares: `LoadError`, which names the file, the record and the
field at fault, and the checks run on every loaded sample."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from agentpref.errors import InputError
from agentpref.io import describe_validation
from agentpref.paths import inside_root
from agentpref.samples import PairSample


def location(path: str | os.PathLike[str], index: int | None = None, field: str | None = None) -> str:
    """The start of every message about a record: "file: record i: field 'f'"."""
    where = str(path)
    if index is not None:
        where += f": record {index}"
    if field:
        where += f": field {field!r}"
    return where


class LoadError(InputError):
    """A record of an evaluation file that is wrong; the message names file, record and field."""

    def __init__(
        self, path: str | os.PathLike[str], reason: str, *, index: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(f"{location(path, index, field)}: {reason}")
        self.path, self.index, self.field, self.reason = str(path), index, field, reason


def image_path(
    value: str,
    root: Path,
    *,
    source: str | os.PathLike[str],
    index: int | None,
    field: str,
    allow_outside: bool,
) -> str:
    """An image path written in a data file, resolved under `root` (RefusedPathError outside it)."""
    where = location(source, index, field)
    return str(inside_root(value, root, where=where, allow_outside=allow_outside))


def from_validation(path: str | os.PathLike[str], index: int | None, exc: ValidationError) -> LoadError:
    field, reason = describe_validation(exc)
    return LoadError(path, reason, index=index, field=field)


def check_files(path: str | os.PathLike[str], index: int | None, fields: dict[str, str | list[str]]) -> None:
    """LoadError naming the field (and list position) of the first image path that is not a file.

    A stat per image: cheap next to reading them, and a missing image root fails at load
    time instead of hours into a remote evaluation.
    """
    for name, value in fields.items():
        items = (
            [(name, value)] if isinstance(value, str) else [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        )
        for label, file in items:
            if not Path(file).is_file():
                raise LoadError(path, f"image not found: {file}", index=index, field=label)


def check_unique_ids(path: str | os.PathLike[str], samples: list[PairSample]) -> None:
    seen: set[str] = set()
    for i, s in enumerate(samples):
        if s.sample_id in seen:
            raise LoadError(path, f"sample id {s.sample_id!r} appears twice", index=i, field="sample_id")
        seen.add(s.sample_id)
