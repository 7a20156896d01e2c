"""Loaded by every command the campaign runs (PYTHONPATH): watches reads outside the root, hides modules.

- `CAMPAIGN_WATCH` (paths joined by os.pathsep): opening any file at or under them is logged to
  `CAMPAIGN_LOG`, so a read outside the case's root is seen even when nothing is sent anywhere.
- `CAMPAIGN_HIDE` (comma-separated top-level modules): `importlib.util.find_spec` and `import`
  do not find them, as on an install without that extra.
"""

import os
import sys

_WATCH = [os.path.realpath(p) for p in os.environ.get("CAMPAIGN_WATCH", "").split(os.pathsep) if p]
_LOG = os.environ.get("CAMPAIGN_LOG", "")
_HIDE = {m for m in os.environ.get("CAMPAIGN_HIDE", "").split(",") if m}


def _watched(path: object) -> str | None:
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        return None  # a file descriptor
    real = os.path.realpath(path)
    for w in _WATCH:
        if real == w or real.startswith(w.rstrip(os.sep) + os.sep):
            return real
    return None


_busy = False


def _audit(event: str, args: tuple) -> None:
    global _busy
    if event != "open" or _busy or not args:
        return
    _busy = True
    try:
        if (real := _watched(args[0])) is not None:
            with open(_LOG, "a", encoding="utf-8") as log:
                log.write(real + "\n")
    except Exception:
        pass
    finally:
        _busy = False


class _Hiding:
    """Wraps a meta-path finder so that it finds nothing for hidden modules (find_spec -> None)."""

    def __init__(self, inner):
        self.inner = inner

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _HIDE:
            return None
        find = getattr(self.inner, "find_spec", None)
        return find(name, path, target) if find is not None else None

    def __getattr__(self, attr):
        return getattr(self.inner, attr)


if _WATCH and _LOG:
    sys.addaudithook(_audit)
if _HIDE:
    sys.meta_path[:] = [_Hiding(f) for f in sys.meta_path]
