"""No silent wrong results and no half-made run folders: rankings nobody could read, resumes
asked to change a run, in-memory references, bad --out and --seed, missing extras, damaged
checkpoints, two writers at once, and URIs that hold secrets."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import agentpref
from agentpref import backends, personalization
from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.assessors.vlm.options import Completion, ModelOptions
from agentpref.cli.main import main
from agentpref.errors import BackendError, InputError
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.io import exclusive_folder

SMALL = ["-n", "2", "--iterations", "2", "--size", "64x64"]


def _invoke(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


class Babbler(ReasoningAssessor):
    """A model judge whose every answer is unreadable."""

    name = "vllm:babbler"

    def __init__(self) -> None:
        super().__init__(ModelOptions(parse_retries=0))

    async def _complete(self, request, sampling):
        return Completion("I think both are nice.")


@pytest.fixture
def babbler(monkeypatch):
    judge = Babbler()
    for module in (backends, personalization):  # both imported before: none binds the stand-in for good
        monkeypatch.setattr(module, "shared_assessor", lambda uri: judge)
    monkeypatch.setattr(backends, "load_assessor", lambda uri=None, **options: judge)
    return judge


# --- a ranking no comparison of which could be read -------------------------------------------


def test_rank_with_every_answer_unreadable_exits_3_saying_why(babbler, example_refs):
    images = sorted((example_refs / "likes").iterdir())[:3]
    result = _invoke("rank", "--refs", example_refs, *images)
    assert result.exit_code == 3, result.output
    assert "unreadable" in result.stderr and "vllm:babbler" in result.stderr
    assert "0.0/25" not in result.stdout  # no ranking printed as if it were one
    as_json = _invoke("rank", "--refs", example_refs, *images, "--json")
    assert as_json.exit_code == 3
    error = json.loads(as_json.stdout)
    assert "unreadable" in error["error"] and error["exit_code"] == 3
    assert error["judgments"] and all(j["failed"] and j["raw_text"] for j in error["judgments"])


def test_generate_crowns_no_best_when_no_comparison_was_readable(babbler, example_refs, tmp_path):
    out = tmp_path / "run"
    result = _invoke("generate", "--refs", example_refs, "--prompt", "a fox", *SMALL, "--out", out)
    assert result.exit_code == 3, result.output
    assert "iteration 1 was not assessed" in result.stderr and "--resume" in result.stderr
    record = json.loads((out / "summary.json").read_text())
    assert record["best"] is None and not record["finished"] and not record["assessments"]
    assert "unreadable" in record["stop_reason"]
    assert all(j["failed"] for j in record["iterations"][0]["ranking_judgments"])


# --- --resume with other settings than the run's ----------------------------------------------


class FailsOnSecondRound(PainterGenerator):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def generate(self, *args, **kwargs):
        self.calls += 1  # a round is one call
        if self.calls == 2:
            raise BackendError("generator died")
        return super().generate(*args, **kwargs)


@pytest.fixture
def unfinished(example_refs, tmp_path) -> Path:
    """A run stopped in its second round: the first round's two candidates made."""
    out = tmp_path / "run"
    with pytest.raises(BackendError):
        agentpref.personalize(
            example_refs,
            "a fox",
            n=2,
            iterations=2,
            target=5,
            out=out,
            size=(64, 64),
            generator=FailsOnSecondRound(),
        )
    return out


def test_resume_with_other_settings_lists_each_that_differs(unfinished, example_refs, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    Image.new("RGB", (32, 32), (200, 0, 0)).save(other / "red.png")
    result = _invoke(
        "generate", "--resume", "--out", unfinished, "--prompt", "a cat", "-n", "3", "--iterations", "2",
        "--refs", other, "--generator", "diffusers:x", "--seed", "7",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "prompt: the run's 'a fox', given 'a cat'" in message and "n: the run's 2, given 3" in message
    assert (
        "generator: the run's 'painter', given 'diffusers:x'" in message
        and "seed: the run's 0, given 7" in message
    )
    assert "refs: the run's '6 liked + 6 disliked" in message and "given '1 liked + 0 disliked" in message
    assert "iterations" not in message  # equal to the run's
    assert "cannot change in a run" in message
    forced = _invoke("generate", "--resume", "--out", unfinished, "--prompt", "a cat", "--force")
    assert forced.exit_code == 2 and "prompt cannot change in a run" in forced.stderr


def test_resume_force_takes_new_counts_for_the_rounds_to_come(unfinished):
    refused = _invoke("generate", "--resume", "--out", unfinished, "-n", "3", "--target", "5")
    assert (
        refused.exit_code == 2 and "n: the run's 2, given 3" in refused.stderr and "--force" in refused.stderr
    )
    result = _invoke(
        "generate", "--resume", "--out", unfinished, "-n", "3", "--target", "5", "--force", "--json"
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["n"] == 3 and record["target"] == 5 and record["finished"]
    made = [f"it01-c0{j}" for j in range(2)] + [f"it02-c0{j}" for j in range(3)]  # n=3 from round 2 on
    assert [c["id"] for c in record["candidates"]] == made


def test_resume_with_the_runs_own_settings_goes_on(unfinished, example_refs):
    result = _invoke(
        "generate", "--resume", "--out", unfinished, "--refs", example_refs, "--prompt", "a fox", "-n", "2",
        "--generator", "painter", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["finished"]


def test_sdk_resume_compares_and_forces_the_same_way(unfinished):
    with pytest.raises(InputError, match="iterations: the run's 2, given 3"):
        agentpref.resume(unfinished, iterations=3)
    record = agentpref.resume(unfinished, iterations=3, force=True).record
    assert record.max_iterations == 3 and len(record.iterations) == 3


# --- in-memory references ---------------------------------------------------------------------


def test_in_memory_references_are_used_and_kept_in_the_run_folder(example_refs, tmp_path):
    likes = sorted((example_refs / "likes").iterdir())
    dislikes = sorted((example_refs / "dislikes").iterdir())
    given_likes = [likes[0].read_bytes(), Image.open(likes[1]), likes[2], likes[3]]
    given_dislikes = [dislikes[0], io.BytesIO(dislikes[1].read_bytes()).getvalue()]
    result = agentpref.personalize(
        given_likes, "a fox", dislikes=given_dislikes, n=1, iterations=1, out=tmp_path / "run", size=(64, 64)
    )
    references = result.record.references
    assert [r.liked for r in references] == [True] * 4 + [False] * 2  # 4 + 2 given, 4 + 2 used
    kept = [Path(r.path) for r in references if Path(r.path).parent == (tmp_path / "run" / "references")]
    assert len(kept) == 3 and all(p.is_file() for p in kept)
    html = (tmp_path / "run" / "report.html").read_text()
    assert html.count('<img src="data:image/jpeg') >= 6  # every reference's thumbnail in the report


# --- --out, --seed and extras: said before anything is read or written --------------------------


def test_out_that_is_a_file_is_bad_input_naming_it(example_refs, tmp_path):
    file = tmp_path / "taken.txt"
    file.write_text("mine")
    result = _invoke("generate", "--refs", example_refs, "--prompt", "x", "--out", file)
    assert result.exit_code == 2 and "taken.txt" in result.stderr and "is a file" in result.stderr
    with pytest.raises(InputError, match=r"taken\.txt: is a file"):
        agentpref.personalize(example_refs, "x", out=file)
    with pytest.raises(InputError, match=r"taken\.txt: is a file"):
        agentpref.personalize(example_refs, "x", out=file / "run")
    assert file.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_in_a_read_only_folder_is_bad_input_naming_it(example_refs, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = _invoke("generate", "--refs", example_refs, "--prompt", "x", "--out", locked / "run")
    assert result.exit_code == 2 and "locked" in result.stderr and "cannot write" in result.stderr


def test_a_seed_out_of_range_is_refused_before_the_folder_is_made(example_refs, tmp_path):
    out = tmp_path / "run"
    for seed in (str(2**64), "-1"):
        result = _invoke("generate", "--refs", example_refs, "--prompt", "x", "--seed", seed, "--out", out)
        assert result.exit_code == 2 and "--seed" in result.stderr
    with pytest.raises(ValueError, match="seed"):
        agentpref.personalize(example_refs, "x", seed=2**64, out=out)
    assert not out.exists()
    ok = _invoke("generate", "--refs", example_refs, "--prompt", "x", "--seed", str(2**63 - 1), "--out", out,
                 "-n", "1", "--iterations", "1", "--size", "64x64")  # fmt: skip
    assert ok.exit_code == 0, ok.output


def test_a_start_that_failed_before_its_first_checkpoint_leaves_a_new_folder(example_refs, tmp_path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    out = tmp_path / "run"
    out.mkdir()
    with sqlite3.connect(out / "checkpoints.sqlite") as conn:
        SqliteSaver(conn).setup()  # what a start that died before its first checkpoint leaves
    result = agentpref.personalize(example_refs, "x", n=1, iterations=1, out=out, size=(64, 64))
    assert result.record.finished


def test_a_missing_extra_is_named_before_any_reference_is_read(monkeypatch, example_refs, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    (example_refs / "likes" / "broken.png").write_text("not an image")
    out = tmp_path / "run"
    result = _invoke(
        "generate", "--refs", example_refs, "--prompt", "x", "--generator", "diffusers:x", "--out", out
    )
    assert result.exit_code == 2
    assert "pip install 'agentpref[diffusers]'" in result.stderr
    assert "broken.png" not in result.stderr and not out.exists()  # no reference read, no folder made


# --- damaged checkpoints and a second writer ----------------------------------------------------


def test_a_damaged_checkpoints_file_is_bad_input_naming_it(unfinished):
    checkpoints = unfinished / "checkpoints.sqlite"
    with sqlite3.connect(checkpoints) as conn:
        conn.execute("UPDATE checkpoints SET checkpoint = x'c1c1c1c1'")
    result = _invoke("generate", "--resume", "--out", unfinished)
    assert result.exit_code == 2, result.output
    assert str(checkpoints) in result.stderr and "cannot be resumed" in result.stderr
    assert "summary.json" in result.stderr and "intact" in result.stderr

    checkpoints.write_bytes(b"this is not a database" * 100)
    result = _invoke("generate", "--resume", "--out", unfinished)
    assert result.exit_code == 2 and "cannot be resumed" in result.stderr
    fresh = _invoke("generate", "--refs", unfinished.parent / "refs", "--prompt", "x", "--out", unfinished)
    assert fresh.exit_code == 2 and "cannot be read" in fresh.stderr  # neither overwritten nor a traceback


def test_a_second_writer_to_a_run_folder_exits_2_at_once(unfinished, example_refs, tmp_path):
    with exclusive_folder(unfinished, "run"):  # another process holding the run
        result = _invoke("generate", "--resume", "--out", unfinished)
        assert result.exit_code == 2 and "in use by another agentpref process" in result.stderr
    events = [json.loads(line)["event"] for line in (unfinished / "events.jsonl").read_text().splitlines()]
    assert events.count("generated") == 2  # the first round's two; nothing while it was held
    busy = tmp_path / "busy"
    with (
        exclusive_folder(busy, "run"),
        pytest.raises(InputError, match="in use by another agentpref process"),
    ):
        agentpref.personalize(example_refs, "x", out=busy, n=1, iterations=1, size=(64, 64))


# --- secrets in backend URIs ----------------------------------------------------------------------


class SecretPainter(PainterGenerator):
    name = "painter:?hf_token=SECRET-TOKEN"


def test_backend_uris_are_written_redacted_and_a_redacted_one_must_be_given_again(example_refs, tmp_path):
    from agentpref.assessors.features.assessor import FeaturesAssessor

    class SecretJudge(FeaturesAssessor):
        name = "openai://user:PASSWORD@judge.example/v1?model=m&api_key=SECRET-KEY"

    out = tmp_path / "run"
    with pytest.raises(BackendError):
        agentpref.personalize(
            example_refs, "x", n=2, iterations=2, target=5, out=out, size=(64, 64), assessor=SecretJudge(),
            generator=type("Dies", (FailsOnSecondRound,), {"name": SecretPainter.name})(),
        )  # fmt: skip
    for name in (
        "summary.json",
        "report.html",
        "checkpoints.sqlite",
        "judgments.jsonl",
        "images/it01-c00.json",
    ):
        data = (out / name).read_bytes()
        assert b"SECRET" not in data and b"PASSWORD" not in data, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["assessor"] == "openai://judge.example/v1?model=m&api_key=***"
    with pytest.raises(InputError, match=r"without its secrets .*give it again"):
        agentpref.resume(out)
    with pytest.raises(InputError, match="assessor: the run's"):
        agentpref.resume(out, assessor="features", generator=SecretPainter())
    record = agentpref.resume(out, assessor=SecretJudge(), generator=SecretPainter()).record
    assert record.finished  # its second round compared two bests: judgments name the assessor, redacted
    for name in ("checkpoints.sqlite", "judgments.jsonl", "summary.json"):
        assert b"SECRET" not in (out / name).read_bytes() and b"PASSWORD" not in (out / name).read_bytes(), (
            name
        )
