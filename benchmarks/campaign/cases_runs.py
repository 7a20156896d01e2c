"""Run and eval folders after accidents: corrupt or torn files, deleted images, two writers at
once, a full disk. Each must resume to the right result, or refuse naming the file, and never
be left neither new nor resumable."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

from cases_cli import _eval_data
from harness import Case, Ctx, Outcome, either, fails, succeeds

AREA = "runs"
GEN = (
    "generate",
    "--refs",
    "refs",
    "--prompt",
    "a lake",
    "-n",
    "2",
    "--iterations",
    "3",
    "--size",
    "64x64",
    "--target",
    "5",
    "--out",
    "run",
)
RESUME = ("generate", "--resume", "--out", "run")
EVAL = (
    "eval",
    "data",
    "--assessor",
    "features",
    "--assessor",
    "random",
    "--no-refs-sweep",
    "--top-k-groups",
    "0",
    "--out",
    "out",
)
JUDGMENTS = 6  # what a clean run of EVAL writes: 3 pairs, swapped for random only (features cannot change)


def _finished(ctx: Ctx) -> None:
    ctx.refs()
    if (done := ctx.run(GEN)).rc != 0:
        raise RuntimeError(f"setup run failed: {done.stderr[-300:]}")


def _killed(ctx: Ctx) -> None:
    """A run killed (SIGKILL) once its first candidate image exists."""
    ctx.refs()
    proc = ctx.start(GEN)
    first = ctx.root / "run" / "images" / "it01-c00.png"
    deadline = time.monotonic() + 30
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _then(first: Callable[[Ctx], None], *steps: Callable[[Ctx], object]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        first(ctx)
        for step in steps:
            step(ctx)

    return setup


def _complete(ctx: Ctx, o: Outcome) -> str | None:
    summary = json.loads((ctx.root / "run" / "summary.json").read_text())
    names = sorted(p.name for p in (ctx.root / "run" / "images").glob("*.png"))
    if len(names) != len(set(names)) or not names:
        return f"images: {names}"
    return None if summary.get("best") or summary.get("candidates") else "summary without a result"


def _samples_ok(n: int = JUDGMENTS) -> Callable[[Ctx, Outcome], str | None]:
    def check(ctx: Ctx, o: Outcome) -> str | None:
        lines = [ln for ln in (ctx.root / "out" / "samples.jsonl").read_text().splitlines() if ln.strip()]
        ids = [json.loads(ln).get("sample_id", ln) for ln in lines if ln.startswith("{")]
        keys = [ln[:200] for ln in lines]
        if len(set(keys)) != len(keys):
            return f"duplicate judgment lines ({len(keys) - len(set(keys))})"
        if not (ctx.root / "out" / "results.json").is_file():
            return "no results.json"
        return None if len(lines) == n or len(ids) == n else f"{len(lines)} judgment lines, expected {n}"

    return check


def _mangle(rel: str, how: str) -> Callable[[Ctx], None]:
    def step(ctx: Ctx) -> None:
        p = ctx.root / rel
        if how == "garbage":
            p.write_bytes(os.urandom(4096))
        elif how == "half":
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
        elif how == "empty":
            p.write_bytes(b"")
        elif how == "delete":
            p.unlink()
        elif how == "torn":
            with p.open("ab") as f:
                f.write(b'{"kind": "torn", "va')
        elif how == "not-utf8":
            with p.open("ab") as f:
                f.write(b'\n{"x": "caf\xe9"}\n')

    return step


def _eval_done(ctx: Ctx) -> None:
    _eval_data(ctx)
    if (done := ctx.run(EVAL)).rc != 0:
        raise RuntimeError(f"setup eval failed: {done.stderr[-300:]}")


def _twin_ok(ctx: Ctx, o: Outcome) -> str | None:
    other = o.twin
    assert other is not None
    if o.rc == 0 and other.rc == 0:
        return "two writers ran at once in the same folder, both exit 0"
    return None


def _disk_full(ctx: Ctx) -> None:
    """An eval stopped by a full disk (RLIMIT_FSIZE) once samples.jsonl holds a few judgments."""
    _eval_data(ctx)
    ctx.run(EVAL, fsize=1500)


CASES: list[Case] = [
    Case(
        "runs-resume-finished",
        AREA,
        "--resume a finished run: nothing to do, result kept (control)",
        succeeds(_complete),
        argv=RESUME,
        setup=_finished,
        timeout=40,
    ),
    Case(
        "runs-resume-killed",
        AREA,
        "--resume a run killed after its first image: completes, no image twice",
        succeeds(_complete),
        argv=RESUME,
        setup=_killed,
        timeout=40,
    ),
    *[
        Case(
            f"runs-sqlite-{how}",
            AREA,
            f"checkpoints.sqlite {what}, then --resume: refused naming it, or a run that completes",
            # A killed run's checkpoints live in checkpoints.sqlite-wal until SQLite folds them in; SQLite
            # reads a page from the WAL first, so a damaged main file can still resume whole. Any page it
            # cannot read is "malformed", which the resume names (the other outcome here).
            either(_complete, "checkpoints.sqlite"),
            argv=RESUME,
            setup=_then(_killed, _mangle("run/checkpoints.sqlite", how)),
            timeout=40,
        )
        for how, what in (
            ("garbage", "overwritten with random bytes"),
            ("half", "cut in half"),
            ("empty", "emptied to 0 bytes"),
        )
    ],
    Case(
        "runs-sqlite-deleted",
        AREA,
        "checkpoints.sqlite deleted, then --resume: refused naming it",
        fails("checkpoints.sqlite|run"),
        argv=RESUME,
        setup=_then(_killed, _mangle("run/checkpoints.sqlite", "delete")),
        timeout=40,
    ),
    *[
        Case(
            f"runs-summary-{how}",
            AREA,
            f"summary.json {what}, then --resume: completes or names it",
            either(_complete, "summary.json"),
            argv=RESUME,
            setup=_then(_killed, _mangle("run/summary.json", how)),
            timeout=40,
        )
        for how, what in (
            ("garbage", "overwritten with random bytes"),
            ("half", "cut in half"),
            ("delete", "deleted"),
        )
    ],
    Case(
        "runs-events-torn",
        AREA,
        "events.jsonl ends in a torn line, then --resume: completes",
        succeeds(_complete),
        argv=RESUME,
        setup=_then(_killed, _mangle("run/events.jsonl", "torn")),
        timeout=40,
    ),
    Case(
        "runs-judgments-torn",
        AREA,
        "judgments.jsonl ends in a torn line, then --resume: completes",
        succeeds(_complete),
        argv=RESUME,
        setup=_then(_killed, _mangle("run/judgments.jsonl", "torn")),
        timeout=40,
    ),
    Case(
        "runs-images-deleted",
        AREA,
        "the run's images/ folder deleted, then --resume: completes or names it",
        either(_complete, "images"),
        argv=RESUME,
        setup=_then(_killed, lambda c: __import__("shutil").rmtree(c.root / "run" / "images")),
        timeout=40,
    ),
    Case(
        "runs-refs-deleted",
        AREA,
        "the reference folder deleted after the run started, then --resume",
        either(_complete, "refs"),
        argv=RESUME,
        setup=_then(_killed, lambda c: __import__("shutil").rmtree(c.root / "refs")),
        timeout=40,
    ),
    Case(
        "runs-two-resumes",
        AREA,
        "two --resume of one run at once: the second refused naming the lock",
        either(_twin_ok, "run", code=2),
        argv=RESUME,
        setup=_killed,
        twin=True,
        timeout=40,
    ),
    Case(
        "runs-two-generates",
        AREA,
        "two generate into one new --out at once: the second refused",
        either(_twin_ok, "run", code=2),
        argv=GEN,
        setup=lambda c: c.refs(),
        twin=True,
        timeout=40,
    ),
    Case(
        "runs-eval-rerun",
        AREA,
        "a second eval into the same --out: asks nothing again (control)",
        succeeds(_samples_ok()),
        argv=EVAL,
        setup=_eval_done,
    ),
    Case(
        "runs-eval-twice-at-once",
        AREA,
        "two evals into one --out at once: the second refused, no duplicate lines",
        either(_twin_ok, "out", code=2),
        argv=EVAL,
        setup=_eval_data,
        twin=True,
        timeout=40,
    ),
    Case(
        "runs-eval-samples-torn",
        AREA,
        "samples.jsonl ends in a torn line: skipped with a warning, rerun completes",
        succeeds(_samples_ok(), warns=("samples.jsonl",)),
        argv=EVAL,
        setup=_then(_eval_done, _mangle("out/samples.jsonl", "torn")),
    ),
    Case(
        "runs-eval-samples-not-utf8",
        AREA,
        "samples.jsonl holds a non-UTF-8 line: named",
        either(_samples_ok(), "samples.jsonl", warns=("samples.jsonl",)),
        argv=EVAL,
        setup=_then(_eval_done, _mangle("out/samples.jsonl", "not-utf8")),
    ),
    Case(
        "runs-eval-samples-garbage",
        AREA,
        "samples.jsonl overwritten with random bytes: named",
        either(_samples_ok(), "samples.jsonl", warns=("samples.jsonl",)),
        argv=EVAL,
        setup=_then(_eval_done, _mangle("out/samples.jsonl", "garbage")),
    ),
    Case(
        "runs-eval-results-garbage",
        AREA,
        "results.json corrupt: the rerun rewrites it",
        succeeds(_samples_ok()),
        argv=EVAL,
        setup=_then(_eval_done, _mangle("out/results.json", "garbage")),
    ),
    Case(
        "runs-eval-disk-full-rerun",
        AREA,
        "disk full during eval (RLIMIT_FSIZE 1500 B), then a rerun completes",
        succeeds(_samples_ok()),
        argv=EVAL,
        setup=_disk_full,
    ),
    Case(
        "runs-eval-disk-full",
        AREA,
        "eval on a disk that fills up: exit 2 naming the file it could not write",
        fails("samples.jsonl|out"),
        argv=EVAL,
        setup=_eval_data,
        fsize=1500,
    ),
    Case(
        "runs-gen-disk-full",
        AREA,
        "generate on a disk that fills up (RLIMIT_FSIZE 20 KB): exit 2 naming the file",
        fails("run"),
        argv=GEN,
        setup=lambda c: c.refs(),
        fsize=20_000,
        timeout=40,
    ),
    Case(
        "runs-gen-disk-full-rerun",
        AREA,
        "after a full disk stopped generate, --resume completes, or (nothing saved) says to start again",
        either(_complete, "without --resume"),
        argv=RESUME,
        setup=lambda c: (c.refs(), c.run(GEN, fsize=20_000)),
        timeout=40,
    ),
]
