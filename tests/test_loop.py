"""The personalisation loop end to end on the embedded backends, and its crash safety."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import agentpref
from agentpref.errors import InputError
from agentpref.runs.folder import RunFolder


def test_personalize_runs_the_loop_and_leaves_a_complete_run_folder(example_refs, tmp_path):
    steps: list[str] = []
    result = agentpref.personalize(
        example_refs,
        "a lighthouse at dawn",
        n=2,
        iterations=2,
        target=5.0,
        out=tmp_path / "run",
        size=(96, 96),
        on_progress=lambda kind, p: steps.append(f"{kind}:{p.get('node', p.get('stage'))}"),
    )
    run = tmp_path / "run"
    for name in ("profile.json", "judgments.jsonl", "summary.json", "report.html", "events.jsonl"):
        assert (run / name).is_file(), name
    record = result.record
    assert record.finished and record.stop_reason.startswith("iteration limit")
    assert [c.id for c in record.candidates] == ["it01-c00", "it01-c01", "it02-c00", "it02-c01"]
    assert all((run / c.file).is_file() for c in record.candidates)
    assert len(record.assessments) == 4 and record.best in {c.id for c in record.candidates}
    assert result.best.path.is_file() and result.best.score == max(a.score for a in record.assessments)
    # Iteration 2 was refined from iteration 1's judgments, says how, and is explained pairwise.
    second = record.iterations[1]
    assert second.judgment is not None and not second.judgment.failed
    assert second.strategies[0].startswith("feedback: stressed ")
    best_first = record.candidate(record.iterations[0].best_candidate)
    # Term search: round 2 keeps the best's seed and changes one element per candidate, never
    # remaking a picture already made (same seed, prompts and draws).
    assert second.strategies[1].startswith("term search: 2 candidate(s) change one element of the best")
    assert second.variants.keys() == {0, 1} and best_first.id in second.strategies[1]
    made = set()
    for c in record.candidates:
        variant = record.iterations[c.iteration - 1].variants.get(c.index)
        made.add(
            (
                c.seed,
                c.prompt,
                c.negative_prompt,
                tuple(sorted((variant.variation if variant else {}).items())),
            )
        )
    assert len(made) == 4
    for index, variant in second.variants.items():
        candidate = record.candidate(f"it02-c{index:02d}")
        assert candidate.seed == best_first.seed and candidate.prompt == variant.prompt
        assert candidate.params.get("variation", {}) == {e.value: v for e, v in variant.variation.items()}
    lines = [json.loads(line) for line in (run / "judgments.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines].count("assessment") == 4
    assert steps.count("node:predict_profile") == 1 and steps.count("node:generate") == 2
    assert steps.count("progress:generate") == 4 and steps.count("progress:assess") == 2
    html = (run / "report.html").read_text()
    assert "Your visual preference profile" in html and record.profile.likes.color[0] in html


def test_target_reached_stops_early(example_refs, tmp_path):
    result = agentpref.personalize(
        example_refs, "x", n=1, iterations=5, target=0.0, out=tmp_path / "r", size=(64, 64)
    )
    assert len(result.record.iterations) == 1
    assert result.record.stop_reason.startswith("target reached")


def test_a_run_folder_is_never_overwritten(example_refs, tmp_path):
    agentpref.personalize(example_refs, "x", n=1, iterations=1, out=tmp_path / "r", size=(64, 64))
    with pytest.raises(InputError, match="already holds a run"):
        agentpref.personalize(example_refs, "x", n=1, iterations=1, out=tmp_path / "r", size=(64, 64))


def _generated(run: Path) -> list[str]:
    return [e["id"] for e in RunFolder(run).events() if e["event"] == "generated"]


@pytest.mark.slow
def test_sigkill_during_generation_then_resume_generates_every_candidate_exactly_once(example_refs, tmp_path):
    run = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "agentpref.cli",
        "generate",
        "--refs",
        str(example_refs),
        "--prompt",
        "a harbour",
        "-n",
        "6",
        "--iterations",
        "2",
        "--target",
        "5",
        "--size",
        "512x512",
        "--out",
        str(run),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_generated(run)) < 2 and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _generated(run)
    assert 2 <= len(before) < 12, f"the kill missed the generation phase ({len(before)} generated)"

    resumed = subprocess.run(
        [*cmd[:4], "--resume", "--out", str(run), "--json"], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    ids = [c["id"] for c in record["candidates"]]
    assert len(ids) == 12 and len(set(ids)) == 12
    generated = _generated(run)
    assert sorted(generated) == sorted(set(generated)), "a candidate was generated twice"
    assert generated[: len(before)] == before
    assert set(generated) | {e["id"] for e in RunFolder(run).events() if e["event"] == "reused"} == set(ids)
    assert record["finished"]


def test_langgraph_json_points_at_a_compiled_graph_with_the_loop_nodes():
    """What `langgraph dev` does: load the file named in langgraph.json and take `graph`."""
    import importlib.util

    root = Path(__file__).resolve().parent.parent
    config = json.loads((root / "langgraph.json").read_text())
    file, _, attr = config["graphs"]["personalize"].partition(":")
    spec = importlib.util.spec_from_file_location("personalize_from_file", root / file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as langgraph's loader does
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    graph = getattr(module, attr)
    assert {"predict_profile", "compose_prompt", "generate", "assess", "refine", "finish"} <= set(graph.nodes)


def test_a_failed_run_resumes_from_another_working_directory(example_refs, tmp_path, monkeypatch):
    """A generator failure mid-run keeps finished work; resuming elsewhere finishes in place."""
    from agentpref.errors import BackendError
    from agentpref.generators.painter.generator import PainterGenerator

    class FailsOnSecondRound(PainterGenerator):
        calls = 0

        def generate(self, *args, **kwargs):
            FailsOnSecondRound.calls += 1  # a round is one call
            if FailsOnSecondRound.calls == 2:
                raise BackendError("generator died")
            return super().generate(*args, **kwargs)

    monkeypatch.chdir(tmp_path)
    with pytest.raises(BackendError):
        agentpref.personalize(
            "refs/likes",
            "x",
            n=2,
            iterations=2,
            target=5,
            out="run",
            size=(64, 64),
            generator=FailsOnSecondRound(),
        )
    first_round = ["it01-c00", "it01-c01"]
    assert _generated(tmp_path / "run") == first_round
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    record = agentpref.resume(tmp_path / "run").record
    every = [*first_round, "it02-c00", "it02-c01"]
    assert record.finished and [c.id for c in record.candidates] == every
    assert _generated(tmp_path / "run") == every
    assert not (elsewhere / "run").exists()


def test_a_three_round_run_decodes_each_reference_once_and_no_candidate(example_refs, tmp_path, monkeypatch):
    """References are decoded when loaded and never again; candidates never: the loop keeps
    the pixels it encoded (judging and the report's thumbnails use them, no file is read back)."""
    from click.testing import CliRunner

    from agentpref.cli.main import main
    from agentpref.images import refs

    decoded: list[str] = []
    real = refs.decode_image

    def counting(data, source, max_pixels):
        decoded.append(Path(source).name)
        return real(data, source, max_pixels)

    monkeypatch.setattr(refs, "decode_image", counting)
    args = ["generate", "--refs", str(example_refs), "--prompt", "a harbour", "-n", "2", "--iterations", "3"]
    result = CliRunner().invoke(
        main, [*args, "--target", "5", "--size", "96x96", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    references = sorted(p.name for p in example_refs.rglob("*.png"))
    assert sorted(decoded) == references  # each once, and nothing else
    assert len(list((tmp_path / "run" / "images").glob("*.png"))) == 6


def test_a_round_goes_to_the_generator_in_one_call_and_resume_asks_only_for_the_missing(
    example_refs, tmp_path
):
    import shutil

    from langgraph.runtime import Runtime

    from agentpref.generators.painter.generator import PainterGenerator
    from agentpref.loop import nodes
    from agentpref.loop.state import Context

    calls: list[tuple[int, int]] = []  # (first seed, images asked)

    class Counting(PainterGenerator):
        def generate(self, prompt, negative_prompt=None, n=1, seed=None, **kwargs):  # type: ignore[override]
            calls.append((seed, n))
            return super().generate(prompt, negative_prompt, n=n, seed=seed, **kwargs)

    counting = Counting()
    run = tmp_path / "run"
    result = agentpref.personalize(
        example_refs, "a harbour", out=run, n=4, iterations=1, size=(64, 64), generator=counting, seed=7
    )
    assert calls == [(7 + 1000, 4)]  # one call for the round's four candidates
    made = {c.id: c.sha256 for c in result.record.candidates}

    # A round killed after candidates 0 and 2 were saved: only 1 and 3 are asked for, one call each.
    again = tmp_path / "again"
    (again / "images").mkdir(parents=True)
    for cid in ("it01-c00", "it01-c02"):
        for suffix in (".png", ".json"):
            shutil.copy(run / "images" / f"{cid}{suffix}", again / "images" / f"{cid}{suffix}")
    state = {
        "run_dir": str(again),
        "iterations": result.record.iterations[:1],
        "candidates": [],
        "n": 4,
        "seed": 7,
        "size": (64, 64),
        "profile": result.record.profile,
    }
    calls.clear()
    update = nodes.generate(state, Runtime(context=Context(generator=counting)))  # type: ignore[arg-type]
    assert calls == [(7 + 1000 + 1, 1), (7 + 1000 + 3, 1)]
    assert {c.id: c.sha256 for c in update["candidates"]} == made  # same seeds, same images
