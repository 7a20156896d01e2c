"""No code from data: a Pick-a-Pic pickle is read with an unpickler that rebuilds only a DataFrame."""

from __future__ import annotations

import datetime
import io
import os
import pickle
import struct
from pathlib import Path

import pytest
from PIL import Image

from agentpref.errors import InputError
from agentpref.evaluation.loaders import load_eval_data, load_pickapic_split


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "PNG")
    return buffer.getvalue()


def split_frame(prompts: tuple[str, str] = ("a fox", "a boat")):
    import pandas as pd

    rows = [
        {
            "user_id": 7,
            "reference_list": [png((200, 10, 10)), png((10, 200, 10))],
            "reference_list_bad": [png((10, 10, 200))],
            "reference_prompt_list": ["p0", "p1"],
            "image0": png((i * 90, 50, 50)),
            "image1": png((50, i * 90, 50)),
            "prompt": prompt,
            "label0": float(i % 2),
        }
        for i, prompt in enumerate(prompts)
    ]
    return pd.DataFrame(rows)


class RunsAShellCommand:
    """What a crafted pickle holds: unpickling it calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["whole file", "inside a cell"])
def test_a_malicious_pickle_does_not_run(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "MARKER"
    evil = RunsAShellCommand(marker)
    path = tmp_path / "split.pkl"
    if where == "whole file":
        path.write_bytes(pickle.dumps(evil))
    else:  # a real split with one poisoned cell: the frame's own globals are allowed, this one is not
        frame = split_frame()
        frame["prompt"] = frame["prompt"].astype(object)
        frame.at[1, "prompt"] = evil
        path.write_bytes(pickle.dumps(frame))
    for load in (lambda: load_pickapic_split(path), lambda: load_eval_data(path)):
        with pytest.raises(InputError) as err:
            load()
        message = str(err.value)
        assert str(path) in message and f"{os.system.__module__}.system" in message
        assert "--trust-pickle" in message and "parquet" in message
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("how", ["pickle.dump", "to_pickle"])
def test_a_benign_split_loads_without_the_flag(tmp_path: Path, protocol: int, how: str) -> None:
    frame = split_frame()
    path = tmp_path / "split.pkl"
    if how == "pickle.dump":  # how learn-user-pref ships it
        path.write_bytes(pickle.dumps(frame, protocol=protocol))
    else:
        frame.to_pickle(path, protocol=protocol)
    samples = load_pickapic_split(path)
    assert [(s.winner, s.prompt) for s in samples] == [("B", "a fox"), ("A", "a boat")]
    assert Path(samples[0].image_a).read_bytes() == frame.at[0, "image0"]


def test_object_columns_as_older_pandas_wrote_them_load(tmp_path: Path) -> None:
    frame = split_frame()
    frame["prompt"] = frame["prompt"].astype(object)
    frame["user_id"] = frame["user_id"].astype(object)
    frame.index = [10, 11]  # an Index, not a RangeIndex
    path = tmp_path / "split.pickle"
    frame.to_pickle(path)
    assert [s.user_id for s in load_pickapic_split(path)] == ["7", "7"]


def test_an_unexpected_global_needs_trust_pickle(tmp_path: Path) -> None:
    frame = split_frame()
    frame.attrs["made"] = datetime.date(2024, 5, 1)  # harmless, but no split of this format holds it
    path = tmp_path / "split.pkl"
    frame.to_pickle(path)
    with pytest.raises(
        InputError, match=r"split\.pkl: refused to unpickle: .*datetime\.date.*--trust-pickle"
    ):
        load_eval_data(path)
    assert len(load_eval_data(path, trust_pickle=True)) == 2


def test_crafted_arrow_offsets_are_refused_before_use(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame = split_frame(("ab", "cd"))
    data = pickle.dumps(frame)
    offsets = struct.pack("<3q", 0, 2, 4)  # the prompt column's pyarrow string offsets
    assert data.count(offsets) == 1, "pandas no longer stores str columns as pyarrow arrays"
    path = tmp_path / "split.pkl"
    path.write_bytes(data.replace(offsets, struct.pack("<3q", 0, 2, 10**9)))
    with pytest.raises(InputError, match=r"split\.pkl: cannot read as a pickled DataFrame \(ArrowInvalid"):
        load_pickapic_split(path)
