"""Paths that come from data files: resolved, and kept inside the folder they belong to.

A benchmark file, a manifest or a symbolic link in a reference folder names image files;
nothing stops it from naming ``/etc/passwd`` or ``../../.ssh/id_rsa``, which would then be
read, encoded and sent to a remote judge. `inside_root` resolves such a path (following
symbolic links, the way the file will later be opened) and refuses it unless it stays in
its root. It never opens or stats the target itself, and its message is the same whether
the outside file exists or not, so a refusal reveals nothing about the machine.

>>> inside_root("a/../b.png", "/no/such/root", where="x.json")
PosixPath('/no/such/root/b.png')
>>> inside_root("../secret.png", "/no/such/root", where="x.json: field 'a'")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
agentpref.paths.RefusedPathError: x.json: field 'a': '../secret.png' is outside /no/such/root; refused (...)
"""

from __future__ import annotations

import os
from pathlib import Path

from agentpref.errors import InputError

ALLOW_HINT = "if you trust this data, pass --allow-outside-root (allow_outside_root=True in Python)"


class RefusedPathError(InputError):
    """A path from data that cannot be used (outside its root, or not a path); `reason` omits `where`."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


def inside_root(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    where: str,
    allow_outside: bool = False,
    base: str | os.PathLike[str] | None = None,
) -> Path:
    """`base / path` (`base` defaults to `root`) with symbolic links resolved; `RefusedPathError`
    when it leaves `root`.

    `path` may be relative or absolute; either way the resolved file must be `root` or
    below it. `where` names the culprit (file, record, field) at the start of the message.
    `allow_outside` returns the resolved path without the check.
    """
    shown = repr(os.fspath(path))[:200]
    joined = Path(root if base is None else base) / path
    try:
        # realpath (not Path.resolve) never raises on a symlink loop and never stats the target:
        # a loop inside the root stays a path inside it, and reading it later names the loop.
        resolved, top = Path(os.path.realpath(joined)), Path(os.path.realpath(root))
    except ValueError:  # an embedded NUL character
        raise RefusedPathError(where, f"{shown} is not a usable path") from None
    if allow_outside or resolved.is_relative_to(top):
        return resolved
    if Path(os.path.abspath(joined)).is_relative_to(os.path.abspath(root)):
        # Written inside the root: a symbolic link on the way leads out (its target is not shown).
        raise RefusedPathError(
            where, f"{shown} leads outside {top} through a symbolic link; refused ({ALLOW_HINT})"
        )
    raise RefusedPathError(where, f"{shown} is outside {top}; refused ({ALLOW_HINT})")
