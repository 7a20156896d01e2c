"""Files in and out: atomic writes, append-only JSONL ledgers, JSONL whose errors name the
file, the line and the field, and an advisory lock per output folder.

A killed process must never leave a half-written file that a later run trusts, so every
file agentpref derives (JSON, JSONL shards, reports, images) goes through `write_atomic`.
Ledgers that grow one line per finished piece of work (`JsonlAppender`) can still be cut
mid-line by a kill or a full disk: readers leave out a torn *final* line with a warning,
and the appender cuts it off before it appends, so the work before it is never stuck.
Anything else is strict: a bad line is an `InputError` such as
``samples-00000.jsonl:3: field 'answer': Input should be 'Image A' or 'Image B'``.

>>> field_name(("pairs", 1, "winner"))
'pairs[1].winner'
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentpref.errors import InputError

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """`$AGENTPREF_CACHE` or ~/.cache/agentpref: where agentpref keeps what it builds or
    downloads once (model weights, test fixtures, the vLLM CPU venv)."""
    return Path(os.environ.get("AGENTPREF_CACHE") or Path.home() / ".cache" / "agentpref")


def writable_folder(folder: str | os.PathLike[str]) -> Path:
    """`folder`, created if missing; an `InputError` naming it when it is a file or cannot be
    written, so a command fails before its work instead of with a traceback after it."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: is a file, not a folder; choose a folder to write into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{folder}: cannot create this folder ({exc.strerror or exc})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{folder}: cannot write there (read-only or permission denied)")
    return folder


@contextmanager
def exclusive_folder(folder: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold an advisory lock on `folder` (a `writable_folder`) so that a second agentpref
    process writing there exits 2 at once instead of duplicating its work.

    The lock is `flock` on `folder/.lock`: the OS drops it when the process exits or is
    killed, so a SIGKILL never leaves a stale lock behind (the empty file stays, harmlessly).
    Locks are per open file, so a second `exclusive_folder` on the same folder conflicts even
    within one process.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d, exclusive_folder(d, "eval"):
    ...     with exclusive_folder(d, "eval"):
    ...         pass
    Traceback (most recent call last):
    agentpref.errors.InputError: ... is in use by another agentpref process (eval); wait for it ...
    """
    folder = writable_folder(folder)
    try:
        fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise InputError(f"{folder}: cannot write there ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"{folder} is in use by another agentpref process ({what}); "
                "wait for it to finish or choose another folder"
            ) from None
        yield folder
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def write_atomic(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one; an
    `InputError` naming `path` when it cannot (a full disk, a read-only folder).

    The file gets the mode a plain `open()` would give it (0666 less the umask), or keeps
    the mode of the file it replaces: a report must not be private while its images are not.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _create_beside(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, stat.S_IMODE(path.stat().st_mode))
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new hidden temporary file next to `path`. Unlike `tempfile.mkstemp` (always 0600) it
    is created 0666 so the kernel applies the umask, as for any file the user creates."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:  # a 48-bit name taken: try another
            continue


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
    """(line number, object) for every non-blank line; JsonlError for bad JSON or a non-object.

    A final line without its newline that is not JSON is a write cut short (a kill, a full
    disk): it is left out with a warning naming the file and line, since everything before
    it is sound. The same damage anywhere else is an error.
    """
    p = Path(path)
    try:
        handle = p.open("rb")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    with handle:
        for n, raw in enumerate(handle, start=1):
            torn = not raw.endswith(b"\n")  # only the last line can lack one
            try:
                text = raw.decode("utf-8")
                obj = json.loads(text) if text.strip() else None
            except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, a huge integer, deep nesting
                if torn:
                    log.warning("%s:%d: the last line is cut short (an interrupted write); left out", p, n)
                    return
                if isinstance(exc, UnicodeDecodeError):
                    reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                elif isinstance(exc, json.JSONDecodeError):
                    reason = f"not JSON ({exc.msg} at column {exc.colno})"
                elif isinstance(exc, RecursionError):
                    reason = "not usable JSON (nested too deeply)"
                else:
                    reason = f"not usable JSON ({str(exc)[:120]})"
                raise JsonlError(p, n, None, reason) from None
            if obj is None:
                continue
            if not isinstance(obj, dict):
                raise JsonlError(p, n, None, f"expected a JSON object, got {type(obj).__name__}")
            yield n, obj


def read_jsonl(path: str | os.PathLike[str], model: type[M]) -> list[M]:
    """Every line of a JSONL file validated as `model`, errors naming file, line and field."""
    out = []
    for n, obj in iter_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            raise JsonlError(path, n, *describe_validation(exc)) from None
    return out


def repair_jsonl_tail(path: str | os.PathLike[str]) -> None:
    """Make a JSONL file end at a line end, so that the next appended line starts clean: a
    torn final line (no newline, not JSON) is cut off with a warning; a whole one that only
    lacks its newline gets it. A missing file is left missing."""
    p = Path(path)
    try:
        f = p.open("r+b")
    except FileNotFoundError:
        return
    with f:
        end = f.seek(0, os.SEEK_END)
        tail, start = b"", end
        # Walk back to the last newline in blocks, so a long ledger is not read whole.
        while start > 0 and b"\n" not in tail:
            step = min(1 << 16, start)
            start -= step
            f.seek(start)
            tail = f.read(step) + tail
        if not tail or tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n") + 1
        last = tail[cut:]
        try:
            json.loads(last.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            line = tail[:cut].count(b"\n") + _count_lines(f, start) + 1
            log.warning("%s:%d: cut off a torn last line (%d bytes) before appending", p, line, len(last))
            f.truncate(start + cut)
        else:
            f.seek(0, os.SEEK_END)
            f.write(b"\n")


def _count_lines(f: Any, end: int) -> int:
    """Newlines in the first `end` bytes of an open binary file."""
    f.seek(0)
    count, left = 0, end
    while left > 0:
        block = f.read(min(1 << 20, left))
        count += block.count(b"\n")
        left -= len(block)
    return count


class JsonlAppender:
    """Appends one model per line to a JSONL ledger; each line reaches the file whole or not
    at all, and lines that were on disk before stay there.

    Opening repairs a torn tail (`repair_jsonl_tail`). A line is one unbuffered `write`; if the
    disk fills (or any write fails) midway, the file is cut back to where the line began and
    the appender refuses further lines with an `InputError` naming the file. The cut assumes
    one writer per file: hold `exclusive_folder` on its folder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._error: str | None = None
        try:
            repair_jsonl_tail(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write ({exc.strerror or exc})") from None

    def append(self, model: BaseModel) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: appended to after close()")
        if self._error is not None:
            raise InputError(self._error)
        data = memoryview((model.model_dump_json() + "\n").encode())
        start = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            while data:
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            with contextlib.suppress(OSError):  # if even this fails, the next reader skips the torn line
                os.ftruncate(self._fd, start)
            self._error = (
                f"{self.path}: cannot write ({exc.strerror or exc}); the {self.path.name} lines already "
                "written are kept: fix the cause (e.g. free disk space) and run the same command again"
            )
            raise InputError(self._error) from None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1  # a descriptor number is reused: never write through it again

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
