"""The campaign's parts: a case, what it expects, the folder it runs in, and how an outcome is classified.

A case is data: an id, an area, what it tries, how its files are made (`setup`), the command
(`argv` for the CLI, `python` for an SDK snippet; `$name` placeholders filled from the case's
folder) and what the right outcome is (`Expect`). Each case runs in a fresh temporary folder:
`work/` is the command's working directory and the only root it may read from or write to;
`outside/` holds canary files with a token unique to the case. `hooks/sitecustomize.py` logs
every `open` of a watched path in the child, so reading outside the root is seen even when
nothing is sent anywhere.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
VENV_BIN = Path("/work/venv/bin")
AGENTPREF = str(VENV_BIN / "agentpref") if (VENV_BIN / "agentpref").exists() else shutil.which("agentpref")
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
HOOKS = Path(__file__).resolve().parent / "hooks"
SOURCE: list[str] = []
"""Folders put before the installed agentpref on the children's PYTHONPATH (run.py --source)."""
TRACEBACK = "Traceback (most recent call last)"
CLASSES = ("clear", "unclear", "traceback", "hang", "silent wrong", "escaped")

# The SDK snippet runs under the same contract as the CLI: agentpref's own errors (and pydantic's,
# which the CLI also reports as bad input) become a message and an exit code; anything else is a
# traceback.
_SDK_WRAPPER = """
import sys
from pydantic import ValidationError
from agentpref.errors import AgentprefError
try:
    exec(compile(sys.argv[1], "<case>", "exec"), {"__name__": "__main__"})
except AgentprefError as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(err.exit_code)
except ValidationError as err:
    print(f"error: {err}", file=sys.stderr)
    sys.exit(2)
"""


@dataclass(frozen=True)
class Expect:
    """The right outcome. An exit code in `codes` is expected; then for a non-zero code every one
    of `names` must appear in stderr ("a|b": either), for 0 every one of `warns` must, and `check`
    (given the case and its outcome) returns None when the result is right, else what is wrong.
    `within`: the command must end within this many seconds (deadline cases)."""

    codes: tuple[int, ...] = (2,)
    names: tuple[str, ...] = ()
    warns: tuple[str, ...] = ()
    check: Callable[[Ctx, Outcome], str | None] | None = None
    within: float | None = None


def fails(*names: str, code: int | tuple[int, ...] = 2, within: float | None = None) -> Expect:
    """Refused: exit `code` (2 bad input, 3 backend) with a message naming every one of `names`."""
    return Expect(codes=code if isinstance(code, tuple) else (code,), names=names, within=within)


def succeeds(
    check: Callable[[Ctx, Outcome], str | None] | None = None,
    warns: Sequence[str] = (),
    within: float | None = None,
) -> Expect:
    """Exit 0, stderr naming every one of `warns`, and `check` passing."""
    return Expect(codes=(0,), warns=tuple(warns), check=check, within=within)


def either(
    check: Callable[[Ctx, Outcome], str | None] | None, *names: str, code: int = 2, warns: Sequence[str] = ()
) -> Expect:
    """Both are right: exit 0 with `check` passing, or exit `code` naming `names`."""
    return Expect(codes=(0, code), names=names, warns=tuple(warns), check=check)


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    description: str
    expect: Expect
    argv: Sequence[str] | Callable[[Ctx], Sequence[str]] | None = None
    """`agentpref` arguments ($placeholders filled), or a function of the case's folder giving them."""
    python: str | None = None
    """An SDK snippet, run with `python -c` ($placeholders filled)."""
    setup: Callable[[Ctx], None] | None = None
    timeout: float = 20.0
    fake: str | None = None
    """Fake OpenAI-compatible server mode started for the case (`$uri` is its assessor URI)."""
    fake_knobs: Mapping[str, Any] = field(default_factory=dict)
    uri_query: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    hide: tuple[str, ...] = ()
    """Modules the child cannot find (a core install without them)."""
    watch: tuple[str, ...] = ()
    """More paths whose opening counts as data read outside the root."""
    fsize: int | None = None
    """RLIMIT_FSIZE of the child in bytes (a full disk)."""
    twin: bool = False
    """Run the command twice at once (lock cases); `check` sees both outcomes."""


@dataclass
class Outcome:
    rc: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    twin: Outcome | None = None
    ended: float = 0.0
    """time.monotonic() when the command ended."""

    @property
    def first_line(self) -> str:
        return next((line for line in self.stderr.splitlines() if line.strip()), "")


class Ctx:
    """A case's folder: `work/` (the root, the command's cwd), `outside/` (canaries), a token."""

    def __init__(self, case: Case, base: Path) -> None:
        self.case = case
        self.dir = base
        self.root = base / "work"
        self.outside = base / "outside"
        self.marker = base / "MARKER"
        self.log = base / "opened-outside.log"
        self.token = "CANARY" + secrets.token_hex(8)
        self.fake: Any = None
        self.extra: dict[str, str] = {}
        self.root.mkdir(parents=True)
        self.outside.mkdir()
        (self.outside / "canary.txt").write_text(f"secret {self.token}\n")
        # A valid image whose text chunk holds the token: usable by anything that reads it.
        from files import png_with_text

        (self.outside / "canary.png").write_bytes(
            png_with_text((EXAMPLES / "likes" / "01_quiet_lake_dusk.png").read_bytes(), "Comment", self.token)
        )

    # -- placeholders -------------------------------------------------------------------------
    def vars(self) -> dict[str, str]:
        values = {
            "root": str(self.root),
            "outside": str(self.outside),
            "canary": str(self.outside / "canary.png"),
            "canary_txt": str(self.outside / "canary.txt"),
            "token": self.token,
            "marker": str(self.marker),
            "ex": str(EXAMPLES),
            "likes": str(EXAMPLES / "likes"),
            "dislikes": str(EXAMPLES / "dislikes"),
            "good": str(EXAMPLES / "likes" / "01_quiet_lake_dusk.png"),
            "good2": str(EXAMPLES / "dislikes" / "01_pop_city.png"),
            "python": PYTHON,
        }
        if self.fake is not None:
            values["uri"] = self.fake.uri(**self.case.uri_query)
            values["openai_uri"] = self.fake.uri("openai", **self.case.uri_query)
            values["fake_url"] = self.fake.url
        return {**values, **self.extra}

    def fill(self, text: str) -> str:
        return Template(text).safe_substitute(self.vars())

    # -- files --------------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write(self, rel: str, data: bytes | str) -> Path:
        p = self.path(rel)
        if isinstance(data, str):
            p.write_text(data, encoding="utf-8")
        else:
            p.write_bytes(data)
        return p

    def copy_example(self, rel: str, which: str = "likes/01_quiet_lake_dusk.png") -> Path:
        p = self.path(rel)
        shutil.copyfile(EXAMPLES / which, p)
        return p

    def refs(self, rel: str = "refs", likes: int = 2, dislikes: int = 2) -> Path:
        """`rel/likes` and `rel/dislikes` holding the first example images."""
        for side, n in (("likes", likes), ("dislikes", dislikes)):
            (self.root / rel / side).mkdir(parents=True, exist_ok=True)
            for src in sorted((EXAMPLES / side).glob("*.png"))[:n]:
                shutil.copyfile(src, self.root / rel / side / src.name)
        return self.root / rel

    # -- running ------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTPREF_", "OPENAI_", "VLLM_"))}
        env.update(
            {
                "PYTHONPATH": os.pathsep.join([*SOURCE, str(HOOKS)]),
                "CAMPAIGN_WATCH": os.pathsep.join([str(self.outside), str(self.marker), *self.case.watch]),
                "CAMPAIGN_LOG": str(self.log),
                "CAMPAIGN_HIDE": ",".join(self.case.hide),
                "HF_HUB_OFFLINE": "1",  # no model download, ever
                "TRANSFORMERS_OFFLINE": "1",
                "COLUMNS": "4000",  # rich wraps at 80 columns off a terminal, which would split names
                "HOME": str(self.dir / "home"),
                "XDG_CACHE_HOME": str(self.dir / "home" / ".cache"),
                "MPLCONFIGDIR": str(self.dir / "home" / ".mpl"),
                "PYTHONHASHSEED": "random",
            }
        )
        env.update({k: self.fill(v) for k, v in self.case.env.items()})
        return env

    def command(self, argv: Sequence[str] | None = None, python: str | None = None) -> list[str]:
        if python is not None:
            return [PYTHON, "-c", _SDK_WRAPPER, self.fill(python)]
        assert argv is not None
        return [AGENTPREF, *(self.fill(a) for a in argv)]

    def run(
        self,
        argv: Sequence[str] | None = None,
        *,
        python: str | None = None,
        timeout: float = 60.0,
        fsize: int | None = None,
    ) -> Outcome:
        """Run one command in the root (setup steps use it too)."""
        return _run(self.command(argv, python), self.root, self.env(), timeout, fsize)

    def start(self, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start a command without waiting (setup steps that kill it midway)."""
        return subprocess.Popen(
            self.command(argv),
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def _limit_fsize(limit: int | None) -> Callable[[], None] | None:
    if limit is None:
        return None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float, fsize: int | None = None) -> Outcome:
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_limit_fsize(fsize),
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the case's own process group only
        out, err = proc.communicate()
        timed_out = True
    seconds = time.monotonic() - start
    return Outcome(
        None if timed_out else proc.returncode,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        seconds,
        timed_out,
        ended=start + seconds,
    )


# -- classification ---------------------------------------------------------------------------


def _named(stderr: str, names: Sequence[str], ctx: Ctx) -> list[str]:
    """The names (each "a|b" for either) that stderr does not mention."""
    return [n for n in names if not any(ctx.fill(alt) in stderr for alt in n.split("|"))]


def _files_under(root: Path) -> list[Path]:
    found = []
    for folder, _, files in os.walk(root):
        for name in files:
            p = Path(folder) / name
            with contextlib.suppress(OSError):
                if p.is_file() and not p.is_symlink() and p.stat().st_size < 200 * 1024 * 1024:
                    found.append(p)
    return found


def escaped(ctx: Ctx, outcome: Outcome) -> str | None:
    """Why the case escaped its bounds, or None: a watched file opened, code run, the token leaked."""
    if ctx.log.exists() and (opened := ctx.log.read_text(errors="replace").split("\n")[0]):
        return f"read outside the root: {opened}"
    if ctx.marker.exists():
        return "code from data ran (marker file created)"
    token = ctx.token
    for o in (outcome, outcome.twin):
        if o is not None and (token in o.stdout or token in o.stderr):
            return "the canary token (secret) was printed"
    for p in _files_under(ctx.root):
        with contextlib.suppress(OSError):
            if token.encode() in p.read_bytes():
                return f"the canary token (secret) was written to {p.relative_to(ctx.root)}"
    if ctx.fake is not None and (ctx.fake.received(token.encode())):
        return "the canary token (secret) reached the server"
    return None


def classify(ctx: Ctx, outcome: Outcome) -> tuple[str, str]:
    """(column, why) for one case's outcome."""
    expect = ctx.case.expect
    if why := escaped(ctx, outcome):
        return "escaped", why
    runs = [outcome] + ([outcome.twin] if outcome.twin else [])
    if any(o.timed_out for o in runs):
        return "hang", f"no end within {ctx.case.timeout:.0f} s"
    if expect.within is not None:
        # A deadline counts from the first request a fake server saw (start-up is not the client's wait).
        began = getattr(ctx.fake, "first_request_at", None)
        took = outcome.ended - began if began is not None else outcome.seconds
        if took > expect.within:
            since = "after the first request" if began is not None else "in all"
            return "hang", f"took {took:.1f} s {since}, deadline {expect.within:.1f} s"
    for o in runs:
        if TRACEBACK in o.stderr or o.rc not in (0, 2, 3):
            last = [ln for ln in o.stderr.splitlines() if ln.strip()]
            return "traceback", f"exit {o.rc}: {last[-1][:160] if last else ''}"
    rc = outcome.rc
    if rc == 0:
        if 0 not in expect.codes:
            return "silent wrong", "exit 0 where it must fail"
        if expect.check is not None and (wrong := expect.check(ctx, outcome)):
            return "silent wrong", wrong
        if missing := _named(outcome.stderr, expect.warns, ctx):
            return "unclear", f"exit 0 but no warning naming {', '.join(missing)}"
        return "clear", ""
    if rc not in expect.codes:
        wanted = "success" if expect.codes == (0,) else "exit " + "/".join(map(str, expect.codes))
        return "unclear", f"exit {rc}, expected {wanted}: {outcome.first_line[:160]}"
    if missing := _named(outcome.stderr, expect.names, ctx):
        return "unclear", f"exit {rc} without naming {', '.join(missing)}: {outcome.first_line[:160]}"
    if expect.check is not None and outcome.twin is not None and (wrong := expect.check(ctx, outcome)):
        return "silent wrong", wrong
    return "clear", ""


def run_case(case: Case, tmp: Path) -> dict[str, Any]:
    """Set up, run and classify one case in its own folder under `tmp`; the record --json prints."""
    base = Path(tempfile.mkdtemp(prefix=re.sub(r"[^\w-]", "_", case.id)[:40] + "-", dir=tmp))
    stack = contextlib.ExitStack()
    command = ""
    try:
        ctx = Ctx(case, base)
        if case.fake is not None:
            from agentpref.testing.fake_openai import serve_fake

            ctx.fake = stack.enter_context(serve_fake(case.fake, **case.fake_knobs))
        if case.setup is not None:
            case.setup(ctx)
        argv = case.argv(ctx) if callable(case.argv) else case.argv
        cmd = ctx.command(argv, case.python)
        command = " ".join(cmd[1:] if case.python is None else ["python -c", cmd[-1]])
        if case.twin:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                futures = [
                    pool.submit(_run, cmd, ctx.root, ctx.env(), case.timeout, case.fsize) for _ in range(2)
                ]
                first, second = (f.result() for f in futures)
            # Report the one that went on as the outcome, the other as its twin.
            outcome, outcome.twin = (first, second) if first.rc == 0 or second.rc != 0 else (second, first)
        else:
            outcome = _run(cmd, ctx.root, ctx.env(), case.timeout, case.fsize)
        column, why = classify(ctx, outcome)
        record = {
            "exit_code": outcome.rc,
            "seconds": round(outcome.seconds, 2),
            "first_stderr_line": outcome.first_line[:300],
        }
    except Exception as exc:  # a broken case is reported, never silently dropped
        column, why = "harness error", f"{type(exc).__name__}: {exc}"
        record = {"exit_code": None, "seconds": 0.0, "first_stderr_line": ""}
    finally:
        stack.close()
        shutil.rmtree(base, ignore_errors=True)
    return {
        "id": case.id,
        "area": case.area,
        "description": case.description,
        "command": command,
        **record,
        "class": column,
        "why": why,
    }
