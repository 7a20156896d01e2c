"""Fixture folders built once, atomically: a killed build leaves nothing half-made behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def build_atomically(
    target: Path, write: Callable[[Path], None], is_complete: Callable[[Path], bool], what: str
) -> Path:
    """`target`, written by `write(staging)` into a temporary sibling that is renamed into place.

    A finished folder is returned as it is; a non-empty folder that is not one is refused
    (FileExistsError naming it). Two builders racing: the second rename fails, and the
    folder the first one finished is used.
    """
    if is_complete(target):
        return target
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target}: exists and is not a {what}; give an empty or new path")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; fixture folders are shared like any cache
    try:
        write(staging)
        try:
            if target.exists():
                target.rmdir()  # empty (checked above): os.replace cannot replace a directory
            os.replace(staging, target)
        except OSError:
            if not is_complete(target):  # not a concurrent builder that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
