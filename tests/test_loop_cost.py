"""What the loop's cheap bookkeeping still guarantees (issue 13, point 5): a candidate's files
are on disk before the checkpoint that names it, a damaged one is made again rather than
reused, saving overlaps the next generator call, the run's record files lag at most one
round and their errors still surface, and the report's thumbnails stay true pictures."""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from langgraph.runtime import Runtime
from PIL import Image

import agentpref
from agentpref.errors import InputError
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.refs import ImageRef
from agentpref.images.store import ImageStore
from agentpref.loop import nodes
from agentpref.loop.state import Context
from agentpref.runs.folder import RunFolder


def _events(run: Path, kind: str) -> list[str]:
    return [e["id"] for e in RunFolder(run).events() if e["event"] == kind]


def _one_round(example_refs: Path, run: Path, generator: PainterGenerator, n: int = 2):
    return agentpref.personalize(
        example_refs, "a harbour", out=run, n=n, iterations=1, size=(64, 64), generator=generator, seed=7
    )


def _state(run: Path, result, n: int, **iteration: object) -> dict:
    """The state `generate` sees at the start of the first round of `result`'s run, in `run`."""
    first = result.record.iterations[0].model_copy(update=iteration)
    return {
        "run_dir": str(run),
        "iterations": [first],
        "candidates": [],
        "n": n,
        "seed": 7,
        "size": (64, 64),
        "profile": result.record.profile,
    }


def test_a_candidate_whose_image_a_crash_cut_short_is_made_again_not_reused(example_refs, tmp_path):
    """After a crash of the machine a lost step runs again: its candidates' files are reused
    only if the image still holds the content its metadata records."""
    painter = PainterGenerator()
    result = _one_round(example_refs, tmp_path / "run", painter)
    made = {c.id: c.sha256 for c in result.record.candidates}
    again = tmp_path / "again"
    shutil.copytree(tmp_path / "run" / "images", again / "images")
    damaged = again / "images" / "it01-c00.png"
    damaged.write_bytes(damaged.read_bytes()[:100])  # what an unsynced write can leave

    update = nodes.generate(_state(again, result, 2), Runtime(context=Context(generator=painter)))  # type: ignore[arg-type]

    assert _events(again, "damaged") == ["it01-c00"]
    assert _events(again, "reused") == ["it01-c01"] and _events(again, "generated") == ["it01-c00"]
    assert {c.id: c.sha256 for c in update["candidates"]} == made  # the same seed made it again
    assert ImageRef.from_path(damaged).sha256 == made["it01-c00"]


def test_saving_one_call_overlaps_the_next_generator_call(example_refs, tmp_path, monkeypatch):
    """A round made in two calls (the seeds do not follow one another) encodes and writes the
    first call's candidates while the generator makes the second's."""
    second_call = threading.Event()
    overlapped: list[bool] = []

    class TwoCalls(PainterGenerator):
        calls = 0

        def generate(self, *args, **kwargs):  # type: ignore[override]
            TwoCalls.calls += 1
            if TwoCalls.calls == 2:
                second_call.set()
            return super().generate(*args, **kwargs)

    real_keep = nodes._keep

    def keep(folder, store, current, index, *rest):
        if index == 0:  # the first call's candidate: is the second call under way meanwhile?
            overlapped.append(second_call.wait(timeout=10))
        return real_keep(folder, store, current, index, *rest)

    painter = PainterGenerator()
    result = _one_round(example_refs, tmp_path / "run", painter)
    monkeypatch.setattr(nodes, "_keep", keep)
    state = _state(tmp_path / "again", result, 2, seeds={0: 99})  # seeds 99, 7 + 1000 + 1: two calls
    update = nodes.generate(state, Runtime(context=Context(generator=TwoCalls())))  # type: ignore[arg-type]

    assert TwoCalls.calls == 2 and overlapped == [True]
    assert [c.id for c in update["candidates"]] == ["it01-c00", "it01-c01"]
    assert _events(tmp_path / "again", "generated") == ["it01-c00", "it01-c01"]  # in order


def test_a_failed_call_ends_the_round_only_once_earlier_saves_landed(example_refs, tmp_path):
    """A resume must find, and never race, the candidates of the calls before a failed one."""
    from agentpref.errors import BackendError

    class SecondCallFails(PainterGenerator):
        calls = 0

        def generate(self, *args, **kwargs):  # type: ignore[override]
            SecondCallFails.calls += 1
            if SecondCallFails.calls == 2:
                raise BackendError("generator died")
            return super().generate(*args, **kwargs)

    result = _one_round(example_refs, tmp_path / "run", PainterGenerator())
    again = tmp_path / "again"
    state = _state(again, result, 2, seeds={0: 99})
    with pytest.raises(BackendError, match="generator died"):
        nodes.generate(state, Runtime(context=Context(generator=SecondCallFails())))  # type: ignore[arg-type]
    assert _events(again, "generated") == ["it01-c00"]
    assert RunFolder(again).load_candidate("it01-c00") is not None


def test_candidate_files_are_synced_before_the_checkpoint_that_names_them(
    example_refs, tmp_path, monkeypatch
):
    """Checkpoints are not synced at every step, so a crash of the machine may lose the last
    steps; what they named must then still be on disk, whole."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    order: list[tuple[str, str]] = []  # ("synced", file name) and ("checkpoint", candidate id)
    lock = threading.Lock()
    real_fsync, real_put = os.fsync, SqliteSaver.put

    def fsync(fd: int) -> None:
        real_fsync(fd)
        name = Path(os.readlink(f"/proc/self/fd/{fd}")).name
        with lock:  # a temporary file ".it01-c00.png.<hex>.tmp" becomes it01-c00.png
            order.append(("synced", re.sub(r"^\.(.*)\.[0-9a-f]+\.tmp$", r"\1", name)))

    def put(self, config, checkpoint, metadata, new_versions):
        with lock:
            order.extend(("checkpoint", c.id) for c in checkpoint["channel_values"].get("candidates", []))
        return real_put(self, config, checkpoint, metadata, new_versions)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(SqliteSaver, "put", put)
    result = agentpref.personalize(
        example_refs, "a harbour", out=tmp_path / "run", n=2, iterations=2, target=5.0, size=(64, 64)
    )
    assert len(result.record.candidates) == 4
    for cid in (c.id for c in result.record.candidates):
        first_named = order.index(("checkpoint", cid))
        assert ("synced", f"{cid}.png") in order[:first_named], cid
        assert ("synced", f"{cid}.json") in order[:first_named], cid


def test_record_files_lag_at_most_one_round_and_their_errors_surface(example_refs, tmp_path, monkeypatch):
    """summary.json and the rest are written in the background: as each round is assessed they
    hold at least the round before; when the run ends, all of it; a write that fails stops
    the run with the file named."""
    lags: list[int] = []
    run = tmp_path / "run"

    def progress(kind: str, payload: dict) -> None:
        if kind == "node" and payload["node"] == "assess":
            assessed = payload["update"]["iterations"][0].iteration
            summary = json.loads((run / "summary.json").read_text())
            lags.append(assessed - sum(it["best_candidate"] is not None for it in summary["iterations"]))

    result = agentpref.personalize(
        example_refs, "x", out=run, n=1, iterations=3, target=5.0, size=(64, 64), on_progress=progress
    )
    assert len(lags) == 3 and all(0 <= lag <= 1 for lag in lags)
    assert json.loads((run / "summary.json").read_text()) == json.loads(result.record.model_dump_json())

    real = RunFolder.write_record
    writes = 0

    def full_disk_on_the_second(self, record, report):
        nonlocal writes
        writes += 1
        if writes == 2:  # the first round's, written in the background
            raise InputError(f"{self.root / 'summary.json'}: cannot write (No space left on device)")
        return real(self, record, report)

    monkeypatch.setattr(RunFolder, "write_record", full_disk_on_the_second)
    with pytest.raises(InputError, match=r"summary\.json: cannot write"):
        agentpref.personalize(example_refs, "x", out=tmp_path / "full", n=1, iterations=3, size=(64, 64))


def test_judgments_jsonl_lines_are_the_records_fields_after_their_kind(example_refs, tmp_path):
    result = agentpref.personalize(
        example_refs, "x", out=tmp_path / "run", n=2, iterations=2, target=5.0, size=(64, 64)
    )
    lines = [json.loads(line) for line in (tmp_path / "run" / "judgments.jsonl").read_text().splitlines()]
    record = result.record
    expected = [{"kind": "assessment", **a.model_dump(mode="json")} for a in record.assessments]
    expected += [
        {"kind": "judgment", "iteration": it.iteration, **it.judgment.model_dump(mode="json")}
        for it in record.iterations
        if it.judgment is not None
    ]
    assert len(expected) > len(record.assessments)  # a pairwise judgment is among them
    assert lines == expected
    assert all(next(iter(line)) == "kind" for line in lines)


@pytest.mark.parametrize(
    ("size", "long_side", "expected"),
    [((512, 512), 256, (256, 256)), ((513, 200), 256, (256, 100)), ((1000, 300), 128, (128, 38)),
     ((640, 480), 256, (256, 192)), ((100, 50), 256, (100, 50))],
)  # fmt: skip
def test_report_thumbnails_fit_exactly_and_average_what_they_drop(size, long_side, expected):
    """Thumbnails come from block averages (cheap), still antialiased: a one-pixel checkerboard
    becomes its mean grey, not a moire of whichever pixels a decimation kept."""
    import base64
    import io

    ys, xs = np.indices((size[1], size[0]))
    checker = np.where((xs + ys) % 2 == 0, 255, 0).astype(np.uint8)
    ref = ImageRef.from_pil(Image.fromarray(np.stack([checker] * 3, axis=-1)))
    url = ImageStore().thumbnail(ref, long_side)
    thumb = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert thumb.format == "JPEG" and thumb.size == expected
    if expected != size:
        grey = np.asarray(thumb.convert("L"), dtype=float)
        assert abs(grey.mean() - 127.5) < 6 and grey.std() < 12
