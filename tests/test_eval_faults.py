"""`agentpref eval` under faults: a full disk, SIGKILL, a second eval into the same folder, a
missing plot extra, a plot that fails, labels that look like math, bad options.

The judge is the random one behind a counter (`Counting`), so every test can say exactly how
many requests a (re)run sent: a finished judgment is never asked for twice.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentpref.assessors.random import RandomAssessor
from agentpref.cli.main import main
from agentpref.evaluation.loaders import load_eval_data

# One request per sample: no swapped pass, no reference sweep, no top-k extras.
SIMPLE = ("--no-swap", "--no-refs-sweep", "--top-k-groups", "0")


class Counting:
    """The random judge, adding a line to `log` for every request it answers, `delay` s each."""

    name = "counting"

    def __init__(self, log: Path, delay: float = 0.0) -> None:
        self.log, self.delay, self.inner = log, delay, RandomAssessor(seed=0)

    async def acompare(self, refs: Any, a: Any, b: Any) -> Any:
        await asyncio.sleep(self.delay)
        with self.log.open("a") as f:
            f.write("request\n")
        return self.inner.compare(refs, a, b)


def _requests(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agentpref.backends import load_generator
    from agentpref.train.dataset_build import build_dataset
    from agentpref.train.users import sample_users

    root = tmp_path_factory.mktemp("faults") / "data"
    build_dataset(
        root, sample_users(6, seed=3), load_generator("painter"), refs_per_side=2, pairs_per_user=3,
        size=(32, 32), seed=3,
    )  # fmt: skip
    return root


@pytest.fixture
def n(data: Path) -> int:
    return len(load_eval_data(data))


def _eval(monkeypatch: pytest.MonkeyPatch, data: Path, out: Path, log: Path, *extra: str) -> Result:
    monkeypatch.setattr("agentpref.backends.load_assessor", lambda uri, **_: Counting(log))
    return CliRunner().invoke(main, ["eval", str(data), "--assessor", "counting", "--out", str(out), *extra])


def _ledger(out: Path) -> list[dict[str, Any]]:
    raw = (out / "samples.jsonl").read_bytes()
    assert not raw or raw.endswith(b"\n")  # whole lines only
    return [json.loads(line) for line in raw.splitlines()]


def _assert_complete_once(out: Path, data: Path) -> None:
    ids = [r["sample_id"] for r in _ledger(out)]
    assert len(ids) == len(set(ids))  # no judgment twice
    assert set(ids) == {s.sample_id for s in load_eval_data(data)}  # and none missing


# -- a real process: SIGKILL, the lock, a disk that fills up ------------------------------------

SCRIPT = textwrap.dedent(f"""
    import sys
    from pathlib import Path
    sys.path.insert(0, {str(Path(__file__).parent)!r})
    import agentpref.backends
    from test_eval_faults import Counting
    log, delay = Path(sys.argv[1]), float(sys.argv[2])
    agentpref.backends.load_assessor = lambda uri, **_: Counting(log, delay)
    from agentpref.cli.main import main
    main(["eval", *sys.argv[3:]], prog_name="agentpref")
""")


def _spawn(tmp_path: Path, log: Path, delay: float, args: list[str], **popen: Any) -> subprocess.Popen[str]:
    script = tmp_path / "eval_script.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(log), str(delay), *args], env=env, text=True, **popen
    )


@pytest.mark.slow
def test_sigkill_mid_eval_loses_and_repeats_nothing_and_a_second_eval_is_refused_at_once(
    data, n, tmp_path, monkeypatch
):
    out, first_log = tmp_path / "eval", tmp_path / "first.log"
    args = [
        str(data),
        "--assessor",
        "counting",
        "--out",
        str(out),
        "--no-plots",
        "--concurrency",
        "2",
        *SIMPLE,
    ]
    proc = _spawn(tmp_path, first_log, 0.3, args)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "samples.jsonl").exists() and len(_ledger(out)) >= 3:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the eval finished before it could be killed"

        # A second eval into the same folder, while the first runs: refused at once, nothing asked.
        second_log = tmp_path / "second.log"
        start = time.monotonic()
        second = _eval(monkeypatch, data, out, second_log, "--no-plots", *SIMPLE)
        assert second.exit_code == 2 and time.monotonic() - start < 5
        assert f"{out} is in use by another agentpref process (eval)" in " ".join(second.stderr.split())
        assert _requests(second_log) == 0
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    kept = len(_ledger(out))
    assert 3 <= kept < n
    assert _requests(first_log) - kept <= 2  # at most the two in flight were lost
    rerun_log = tmp_path / "rerun.log"
    rerun = _eval(monkeypatch, data, out, rerun_log, "--no-plots", *SIMPLE)  # the dead one's lock is gone
    assert rerun.exit_code == 0, rerun.output
    assert _requests(rerun_log) == n - kept  # every finished judgment kept, none asked again
    _assert_complete_once(out, data)


def _no_larger_than(limit: int) -> None:
    # As a full disk: writes past `limit` bytes fail (EFBIG) instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow
def test_a_disk_that_fills_mid_eval_ends_in_a_clear_error_and_a_rerun_completes(
    data, n, tmp_path, monkeypatch
):
    out, log = tmp_path / "eval", tmp_path / "first.log"
    args = [str(data), "--assessor", "counting", "--out", str(out), "--no-plots", *SIMPLE]
    proc = _spawn(tmp_path, log, 0.0, args, stderr=subprocess.PIPE, preexec_fn=lambda: _no_larger_than(1500))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    assert f"{out / 'samples.jsonl'}: cannot write (File too large)" in " ".join(stderr.split())
    assert "Traceback" not in stderr
    kept = len(_ledger(out))  # the line that did not fit was cut back: only whole lines remain
    assert 0 < kept < n and (out / "samples.jsonl").stat().st_size <= 1500

    rerun_log = tmp_path / "rerun.log"
    rerun = _eval(monkeypatch, data, out, rerun_log, "--no-plots", *SIMPLE)
    assert rerun.exit_code == 0, rerun.output
    assert _requests(rerun_log) == n - kept
    _assert_complete_once(out, data)


# -- in-process faults --------------------------------------------------------------------------


def test_no_space_left_mid_line_then_a_rerun_asks_only_what_is_missing(data, n, tmp_path, monkeypatch):
    out, log = tmp_path / "eval", tmp_path / "first.log"
    import agentpref.io

    real_write, lines = os.write, []

    def fill_up_after_four(fd: int, chunk: bytes) -> int:
        if len(lines) < 4:
            lines.append(chunk)
            return real_write(fd, chunk)
        if chunk[:1] == b"{":  # half of the fifth line reaches the disk, then it is full
            return real_write(fd, bytes(chunk[: len(chunk) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(agentpref.io.os, "write", fill_up_after_four)
    full = _eval(monkeypatch, data, out, log, "--no-plots", "--concurrency", "1", *SIMPLE)
    monkeypatch.setattr(agentpref.io.os, "write", real_write)
    assert full.exit_code == 2
    message = " ".join(full.stderr.split())
    assert f"{out / 'samples.jsonl'}: cannot write (No space left on device)" in message
    assert "run the same command again" in message
    assert len(_ledger(out)) == 4

    rerun_log = tmp_path / "rerun.log"
    assert _eval(monkeypatch, data, out, rerun_log, "--no-plots", *SIMPLE).exit_code == 0
    assert _requests(rerun_log) == n - 4
    _assert_complete_once(out, data)


def test_a_torn_last_line_is_asked_again_and_cut_off_with_a_warning(data, n, tmp_path, monkeypatch, caplog):
    out = tmp_path / "eval"
    assert _eval(monkeypatch, data, out, tmp_path / "a.log", "--no-plots", *SIMPLE).exit_code == 0
    ledger = out / "samples.jsonl"
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:5]) + lines[5][:100])  # as a write cut short by a kill
    rerun_log = tmp_path / "b.log"
    with caplog.at_level(logging.WARNING, logger="agentpref.io"):
        rerun = _eval(monkeypatch, data, out, rerun_log, "--no-plots", *SIMPLE)
    assert rerun.exit_code == 0, rerun.output
    assert f"{ledger}:6: the last line is cut short" in caplog.text
    assert _requests(rerun_log) == n - 5
    _assert_complete_once(out, data)


def test_a_corrupt_line_inside_the_ledger_is_named_with_the_way_out(data, tmp_path, monkeypatch):
    out = tmp_path / "eval"
    assert _eval(monkeypatch, data, out, tmp_path / "a.log", "--no-plots", *SIMPLE).exit_code == 0
    ledger = out / "samples.jsonl"
    lines = ledger.read_text().splitlines(keepends=True)
    ledger.write_text("".join([*lines[:2], '{"sample_id": \n', *lines[2:]]))
    log = tmp_path / "b.log"
    result = _eval(monkeypatch, data, out, log, "--no-plots", *SIMPLE)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and f"{ledger}:3: not JSON" in message
    assert "delete that line to ask it again" in message and _requests(log) == 0


def test_without_matplotlib_eval_stops_before_the_first_judgment(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on the core install
    log = tmp_path / "a.log"
    result = _eval(monkeypatch, data, tmp_path / "eval", log, *SIMPLE)
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "pip install 'agentpref[eval]'" in message and "--no-plots" in message
    assert _requests(log) == 0
    result = _eval(monkeypatch, data, tmp_path / "eval", log, "--no-plots", "--json", *SIMPLE)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["plots"] == [] and Path(payload["report"]).exists()
    assert not list((tmp_path / "eval").glob("*.png"))


def test_a_plot_that_fails_keeps_every_result(data, n, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from agentpref.evaluation import plots

    def broken(*_: Any) -> Path:
        raise RuntimeError("no fonts")

    monkeypatch.setattr(plots, "plot_refs", broken)
    out = tmp_path / "eval"
    result = _eval(monkeypatch, data, out, tmp_path / "a.log", "--json", *SIMPLE)
    assert result.exit_code == 0, result.output
    assert "warning: no plots (accuracy_vs_refs.png: RuntimeError: no fonts)" in result.stderr
    saved = json.loads((out / "results.json").read_text())
    assert saved["plot_error"] == "accuracy_vs_refs.png: RuntimeError: no fonts"
    assert saved["plots"] == [str(out / "accuracy.png")] and (out / "accuracy.png").exists()
    pooled = next(r for r in saved["rows"] if r["split"] == "ALL")
    assert pooled["n"] == n and (out / "report.html").exists()


def test_split_and_assessor_names_are_drawn_as_text_never_as_math_or_latex(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    from agentpref.evaluation.metrics import SampleResult, summarize
    from agentpref.evaluation.plots import plot_accuracy, plot_refs

    name = r"$\undefinedcmd$"
    results = [
        SampleResult(
            sample_id=f"s{i}@{k}" if k else f"s{i}",
            split=f"{name}{i % 2}",
            assessor=f"random:?x={name}",
            label="A",
            winner="AB"[i % 2],
            n_refs=k or 2,
            sweep=bool(k),
        )
        for i in range(6)
        for k in (0, 1)
    ]
    summary = summarize(results, ())
    with matplotlib.rc_context({"text.usetex": True}):  # a user's rc: still no LaTeX run on data
        for plot, file in ((plot_accuracy, "a.png"), (plot_refs, "b.png")):
            assert plot(summary, tmp_path / file).stat().st_size > 1000


# -- options and output folders -----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_limit_must_be_positive(data, tmp_path, monkeypatch, limit):
    log = tmp_path / "a.log"
    result = _eval(monkeypatch, data, tmp_path / "eval", log, "--limit", limit, "--no-plots", *SIMPLE)
    assert result.exit_code == 2 and "--limit" in result.stderr and _requests(log) == 0


def test_limit_takes_that_many_samples(data, tmp_path, monkeypatch):
    log = tmp_path / "a.log"
    result = _eval(monkeypatch, data, tmp_path / "eval", log, "--limit", "2", "--no-plots", *SIMPLE)
    assert result.exit_code == 0 and _requests(log) == 2


def test_an_out_that_is_a_file_is_named_not_a_traceback(data, tmp_path, monkeypatch):
    target = tmp_path / "taken"
    target.write_text("mine")
    result = _eval(monkeypatch, data, target, tmp_path / "a.log", "--no-plots", *SIMPLE)
    assert result.exit_code == 2 and f"{target}: is a file" in " ".join(result.stderr.split())
    for args in (
        ["train", "run", "--out", str(target), "--teacher", "random"],
        ["train", "import", str(target), "--images", str(tmp_path), "--out", str(target)],
    ):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and f"{target}: is a file" in " ".join(result.stderr.split()), args
    assert target.read_text() == "mine"


def test_eval_files_get_the_usual_mode(data, tmp_path, monkeypatch):
    old = os.umask(0o022)
    try:
        assert (
            _eval(monkeypatch, data, tmp_path / "eval", tmp_path / "a.log", "--no-plots", *SIMPLE).exit_code
            == 0
        )
    finally:
        os.umask(old)
    for name in ("samples.jsonl", "results.json", "report.html"):
        assert (tmp_path / "eval" / name).stat().st_mode & 0o777 == 0o644, name
