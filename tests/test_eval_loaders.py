"""Evaluation loaders: fixtures shaped like each external format, images made here, malformed files."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from PIL import Image

from agentpref.errors import InputError
from agentpref.evaluation.loaders import (
    load_eval_data,
    load_pickapic_split,
    load_preferimg_bench,
    load_synthetic,
    load_user_folders,
    split_from_name,
)
from agentpref.profile import Profile
from agentpref.samples import PairSample

COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 220, 220), (220, 40, 220)]


def png(color: tuple[int, int, int], fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buf, fmt)
    return buf.getvalue()


def write_images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        (folder / name).write_bytes(png(COLORS[i % len(COLORS)]))


# --- PreferImg-Bench --------------------------------------------------------------------------------

ATTRS_LIKE = {
    "Art Styles": "Pixel Art",
    "Color": "Pink, Jungle Green",
    "Artistic Medium": "Digital Painting",
    "Saturation": "Muted",
    "Detail": "Fine",
}
ATTRS_DISLIKE = {
    "Art Styles": "Romanticism",
    "Color": "Charcoal Gray",
    "ArtisticMedium": "Silkscreen",
    "Saturation": "Intense",
    "Detail": "Smooth",
}


def bench_record(n: int, answer_turn: str) -> dict:
    return {
        "conversations": [
            {
                "from": "human",
                "value": "First, given the following user's historical preferred images. <image>",
            },
            {"from": "gpt", "value": answer_turn},
        ],
        "imageA": f"u{n}/cand_a.png",
        "imageB": f"u{n}/cand_b.png",
        "prefered_images": [f"u{n}/like_{k}.png" for k in range(3)],
        "non_prefered_images": [f"u{n}/dislike_{k}.png" for k in range(3)],
        "prefer_attributes": ATTRS_LIKE,
        "non_prefer_attributes": ATTRS_DISLIKE,
        "user_id": 1000 + n,
        "reference_prompt_list": ["a cat", "a castle", "a boat"],
    }


@pytest.fixture
def bench(tmp_path: Path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    for n in range(3):
        write_images(images / f"u{n}", [f"like_{k}.png" for k in range(3)])
        write_images(images / f"u{n}", [f"dislike_{k}.png" for k in range(3)] + ["cand_a.png", "cand_b.png"])
    records = [
        bench_record(
            0, "<visual preference profile>...</visual preference profile>\n<answer>Image B</answer>"
        ),
        bench_record(1, "<think>Total: A 20, B 11</think>\n<answer> Image A </answer>"),
        # the layout their eval script reads: the answer alone in conversations[0]
        {**bench_record(2, ""), "conversations": [{"from": "gpt", "value": "Image B"}]},
    ]
    data = tmp_path / "bench"
    data.mkdir()
    (data / "SP_OD.json").write_text(json.dumps(records, indent=1))
    return data / "SP_OD.json", images


def test_preferimg_bench_loads_labels_profiles_and_paths(bench: tuple[Path, Path]) -> None:
    path, images = bench
    samples = load_preferimg_bench(path, images)
    assert [s.winner for s in samples] == ["B", "A", "B"]
    assert {s.split for s in samples} == {"SP_OD"}
    first = samples[0]
    assert first.user_id == "1000"
    assert first.refs_liked == [str(images / f"u0/like_{k}.png") for k in range(3)]
    assert first.image_b == str(images / "u0/cand_b.png")
    assert first.reference_prompts == ["a cat", "a castle", "a boat"]
    assert first.profile is not None
    assert first.profile.likes.color == ["Pink", "Jungle Green"]
    assert first.profile.dislikes.artistic_medium == ["Silkscreen"]  # "ArtisticMedium" spelling accepted
    refs = first.load_references()  # images are read only now, and they are the files on disk
    assert len(refs.likes) == 3 and refs.likes[0].data == (images / "u0/like_0.png").read_bytes()
    _, b = first.load_candidates()
    assert b.path == images / "u0/cand_b.png"


def test_preferimg_bench_split_from_name_or_given(bench: tuple[Path, Path]) -> None:
    path, images = bench
    assert split_from_name("test_MP_ID.json") == "MP_ID"
    assert split_from_name("pickapic.json") == "PICKAPIC"
    assert split_from_name("records.json") is None
    assert {s.split for s in load_preferimg_bench(path, images, split="MINE")} == {"MINE"}


@pytest.mark.parametrize(
    ("mutate", "index", "field"),
    [
        (lambda r: r.pop("imageB"), 1, "imageB"),
        (lambda r: r.update(prefered_images="u1/like_0.png"), 1, "prefered_images"),
        (lambda r: r["conversations"][1].update(value="I like both"), 1, "conversations[1].value"),
        (lambda r: r.update(prefer_attributes={"Mood": "calm"}), 1, "prefer_attributes"),
        (lambda r: r["prefered_images"].__setitem__(2, "u1/gone.png"), 1, "prefered_images[2]"),
    ],
)
def test_malformed_preferimg_bench_names_file_record_and_field(
    bench: tuple[Path, Path], mutate, index: int, field: str
) -> None:
    path, images = bench
    records = json.loads(path.read_text())
    mutate(records[index])
    path.write_text(json.dumps(records))
    with pytest.raises(InputError) as err:
        load_preferimg_bench(path, images)
    message = str(err.value)
    assert str(path) in message and f"record {index}" in message and repr(field) in message


def test_preferimg_bench_not_an_array(tmp_path: Path) -> None:
    path = tmp_path / "SP_ID.json"
    path.write_text('{"imageA": "x.png"}')
    with pytest.raises(InputError, match="expected a JSON array"):
        load_preferimg_bench(path, tmp_path)
    path.write_text("[{]")
    with pytest.raises(InputError, match=r"SP_ID\.json: not JSON"):
        load_preferimg_bench(path, tmp_path)


# --- Pick-a-Pic per-user split ----------------------------------------------------------------------


def pickapic_frame(n_refs: int = 4):
    import pandas as pd

    likes = [png(COLORS[k % 6]) for k in range(n_refs)]
    dislikes = [png(COLORS[(k + 3) % 6], "JPEG") for k in range(n_refs)]
    rows = []
    for i, label0 in enumerate([1.0, 0.0, 0.5, 1]):
        rows.append(
            {
                "user_id": 7 + i // 2,
                "reference_list": likes,
                "reference_list_bad": dislikes,
                "reference_prompt_list": [f"ref prompt {k}" for k in range(n_refs)],
                "image0": png((i * 40, 10, 10)),
                "image1": png((10, i * 40, 10)),
                "prompt": f"query prompt {i}",
                "label0": label0,
            }
        )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".pkl", ".parquet"])
def test_pickapic_split_loads_bytes_into_a_hash_cache_once(tmp_path: Path, suffix: str) -> None:
    frame = pickapic_frame()
    path = tmp_path / f"bench_test_w_bad{suffix}"
    if suffix == ".pkl":
        with path.open("wb") as f:  # how learn-user-pref ships it: pickle.dump of a DataFrame
            pickle.dump(frame, f)
    else:
        frame.to_parquet(path)
    samples = load_pickapic_split(path)
    assert [s.winner for s in samples] == ["A", "B", "A"]  # the tie (label0 = 0.5) is skipped
    assert [s.sample_id for s in samples] == ["PICKAPIC-00000", "PICKAPIC-00001", "PICKAPIC-00003"]
    assert [s.user_id for s in samples] == ["7", "7", "8"]
    s = samples[0]
    assert s.prompt == "query prompt 0" and s.reference_prompts[3] == "ref prompt 3"
    assert Path(s.image_a).read_bytes() == frame.loc[0, "image0"]
    assert Path(s.refs_disliked[0]).suffix == ".jpg" and Path(s.refs_liked[0]).suffix == ".png"
    cache = tmp_path / "bench_test_w_bad.images"
    files = sorted(cache.iterdir())
    # shared references are stored once: 4 liked + 4 disliked + 2 candidates per kept row... deduped
    assert len(files) == len(
        {*s.refs_liked, *s.refs_disliked} | {x.image_a for x in samples} | {x.image_b for x in samples}
    )
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = load_pickapic_split(path)
    assert again == samples and {p: p.stat().st_mtime_ns for p in sorted(cache.iterdir())} == stamps


def test_pickapic_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    frame = pickapic_frame(2)
    write_images(tmp_path / "img", ["l0.png", "l1.png", "d0.png", "d1.png", "q0.png", "q1.png"])
    for col, value in [
        ("reference_list", ["img/l0.png", "img/l1.png"]),
        ("reference_list_bad", ["img/d0.png", "img/d1.png"]),
    ]:
        frame[col] = [value] * len(frame)
    frame["image0"], frame["image1"] = "img/q0.png", "img/q1.png"
    path = tmp_path / "split.pkl"
    frame.to_pickle(path)
    samples = load_pickapic_split(path)
    assert samples[0].refs_liked == [str(tmp_path / "img/l0.png"), str(tmp_path / "img/l1.png")]
    assert not (tmp_path / "split.images").exists()


@pytest.mark.parametrize(
    ("column", "value", "field"),
    [
        ("label0", 2.0, "label0"),
        ("image0", b"not an image at all", "image0"),
        ("prompt", None, "prompt"),
        ("reference_prompt_list", "one string", "reference_prompt_list"),
    ],
)
def test_malformed_pickapic_names_file_row_and_field(tmp_path: Path, column: str, value, field: str) -> None:
    frame = pickapic_frame(2)
    frame[column] = frame[column].astype(object)
    frame.at[1, column] = value
    path = tmp_path / "split.pkl"
    frame.to_pickle(path)
    with pytest.raises(InputError) as err:
        load_pickapic_split(path)
    message = str(err.value)
    assert str(path) in message and "record 1" in message and repr(field) in message


def test_pickapic_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "split.pkl"
    pickapic_frame(2).drop(columns=["label0"]).to_pickle(path)
    with pytest.raises(InputError, match=r"split\.pkl: field 'label0': missing column"):
        load_pickapic_split(path)
    path.write_bytes(b"garbage")
    with pytest.raises(InputError, match="cannot read as a pickled DataFrame"):
        load_pickapic_split(path)


# --- a person's own folders -------------------------------------------------------------------------


def make_user(root: Path, name: str, manifest: dict) -> Path:
    folder = root / name
    write_images(folder / "liked", ["l1.png", "l2.jpg"])
    write_images(folder / "disliked", ["d1.png"])
    write_images(folder / "queries", ["q1.png", "q2.png", "q3.png"])
    (folder / "liked" / "notes.txt").write_text("not an image")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_user_folders_load_every_user(tmp_path: Path) -> None:
    make_user(tmp_path, "ana", {"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}]})
    make_user(
        tmp_path,
        "ben",
        {
            "pairs": [{"a": "q1.png", "b": "q3.png", "winner": "B", "prompt": "a lighthouse"}],
            "split": "holdout",
            "profile": {"likes": {"color": ["Teal"]}},
        },
    )
    samples = load_user_folders(tmp_path)
    assert [(s.user_id, s.winner, s.split) for s in samples] == [
        ("ana", "A", "user"),
        ("ben", "B", "holdout"),
    ]
    ana, ben = samples
    assert ana.refs_liked == [str(tmp_path / "ana/liked/l1.png"), str(tmp_path / "ana/liked/l2.jpg")]
    assert ana.refs_disliked == [str(tmp_path / "ana/disliked/d1.png")]
    assert ben.image_b == str(tmp_path / "ben/queries/q3.png") and ben.prompt == "a lighthouse"
    assert ben.profile is not None and ben.profile.likes == Profile(color=["Teal"])
    assert load_user_folders(tmp_path / "ana") == [ana]  # a single user folder works too


@pytest.mark.parametrize(
    ("manifest", "field", "reason"),
    [
        ({"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "c"}]}, "pairs[0].winner", "Input should be"),
        ({"pairs": [{"a": "q1.png", "b": "q9.png", "winner": "a"}]}, "pairs[0].b", "image not found"),
        ({"pairs": []}, "pairs", "at least 1"),
        ({"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}], "pair": 1}, "pair", "Extra inputs"),
    ],
)
def test_malformed_user_manifest_names_file_and_field(
    tmp_path: Path, manifest: dict, field: str, reason: str
) -> None:
    make_user(tmp_path, "ana", manifest)
    with pytest.raises(InputError) as err:
        load_user_folders(tmp_path)
    message = str(err.value)
    assert str(tmp_path / "ana/manifest.json") in message and repr(field) in message and reason in message


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b'{"pairs": [', "not JSON"), ('{"pairs": "café"}'.encode("latin-1"), "not UTF-8")],
)
def test_an_unreadable_user_manifest_names_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    folder = make_user(tmp_path, "ana", {})
    (folder / "manifest.json").write_bytes(content)
    with pytest.raises(InputError, match=rf"ana/manifest\.json: {reason}"):
        load_user_folders(tmp_path)


def test_user_folder_without_liked_images(tmp_path: Path) -> None:
    folder = make_user(tmp_path, "ana", {"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}]})
    for p in (folder / "liked").iterdir():
        p.unlink()
    with pytest.raises(InputError, match="no liked images"):
        load_user_folders(tmp_path)


# --- train/'s synthetic sets ------------------------------------------------------------------------


def make_synthetic(root: Path, n: int = 4) -> Path:
    from agentpref.samples import PairSample, write_samples

    write_images(root / "images", ["l0.png", "l1.png", "d0.png", "d1.png", "a.png", "b.png"])
    samples = [
        PairSample(
            sample_id=f"u{i}-p0",
            user_id=f"u{i}",
            split=["SP_ID", "MP_OD"][i % 2],
            seen=i % 2 == 0,
            prompt="a fox",
            reference_prompts=["p0", "p1"],
            refs_liked=["images/l0.png", "images/l1.png"],
            refs_disliked=["images/d0.png", "images/d1.png"],
            image_a="images/a.png",
            image_b="images/b.png",
            answer=["Image A", "Image B"][i % 2],
            likes=Profile(color=["Teal"]),
            dislikes=Profile(color=["Crimson"]),
        )
        for i in range(n)
    ]
    write_samples(root / "samples-00000.jsonl", samples)
    (root / "manifest.json").write_text(json.dumps({"shards": [{"file": "samples-00000.jsonl"}]}))
    return root


def test_synthetic_set_loads_with_paths_under_the_folder(tmp_path: Path) -> None:
    root = make_synthetic(tmp_path / "ds")
    samples = load_synthetic(root)
    assert [(s.split, s.winner) for s in samples] == [
        ("SP_ID", "A"),
        ("MP_OD", "B"),
        ("SP_ID", "A"),
        ("MP_OD", "B"),
    ]
    assert samples[0].refs_liked[0] == str(root / "images/l0.png") and samples[0].prompt == "a fox"
    assert samples[1].profile is not None and samples[1].profile.dislikes.color == ["Crimson"]


def test_malformed_synthetic_names_file_line_and_field(tmp_path: Path) -> None:
    root = make_synthetic(tmp_path / "ds")
    shard = root / "samples-00000.jsonl"
    lines = shard.read_text().splitlines()
    lines[2] = lines[2].replace('"Image A"', '"Image C"')
    shard.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        load_synthetic(root)
    assert f"{shard}:3" in str(err.value) and "'answer'" in str(err.value)


# --- dispatch and the sample type -------------------------------------------------------------------


def test_load_eval_data_tells_the_formats_apart(tmp_path: Path, bench: tuple[Path, Path]) -> None:
    path, images = bench
    assert len(load_eval_data(path, image_root=images)) == 3
    assert len(load_eval_data(path.parent, image_root=images)) == 3  # a folder of split files
    make_user(tmp_path / "people", "ana", {"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}]})
    assert [s.user_id for s in load_eval_data(tmp_path / "people")] == ["ana"]
    root = make_synthetic(tmp_path / "ds")
    assert [s.split for s in load_eval_data(root, splits=["mp_od"])] == ["MP_OD", "MP_OD"]
    with pytest.raises(InputError, match=r"no split SP_OD in the data \(it has: MP_OD, SP_ID\)"):
        load_eval_data(root, splits=["SP_OD"])
    pickled = tmp_path / "split.pkl"
    pickapic_frame(2).to_pickle(pickled)
    assert {s.split for s in load_eval_data(pickled)} == {"PICKAPIC"}
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="cannot tell what data this is"):
        load_eval_data(tmp_path / "empty")
    with pytest.raises(InputError, match="no such file or folder"):
        load_eval_data(tmp_path / "missing")


def test_a_pair_showing_one_image_twice_is_left_out_with_a_warning(tmp_path: Path, caplog) -> None:
    frame = pickapic_frame(2)
    frame.at[1, "image1"] = frame.at[1, "image0"]  # the same bytes: one cached file for both sides
    frame.to_pickle(tmp_path / "split.pkl")
    with caplog.at_level("WARNING"):
        samples = load_eval_data(tmp_path / "split.pkl")
    assert len(samples) == 2 and "1 pair(s) show one image twice" in caplog.text  # row 2 is a tie


@pytest.mark.parametrize("kind", ["preferimg-bench", "pickapic", "user-folders"])
def test_each_external_format_evaluates_end_to_end(
    tmp_path: Path, bench: tuple[Path, Path], kind: str
) -> None:
    pytest.importorskip("matplotlib")
    from click.testing import CliRunner

    from agentpref.cli.main import main

    if kind == "preferimg-bench":
        data, images = bench
        extra, n = ["--image-root", str(images)], 3
    elif kind == "pickapic":
        data, extra, n = tmp_path / "bench_test_w_bad.pkl", [], 3  # 4 rows, one of them a tie
        pickapic_frame().to_pickle(data)
    else:
        data, extra, n = tmp_path / "people", [], 3
        make_user(data, "ana", {"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}]})
        make_user(data, "ben", {"pairs": [{"a": "q1.png", "b": "q3.png", "winner": "b"}] * 2})
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        main,
        [
            "eval",
            str(data),
            *extra,
            "--assessor",
            "features",
            "--assessor",
            "random",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["samples"] == n and report["assessors"] == ["features", "random"]
    for row in report["rows"]:
        assert row["n"] == n and row["accuracy"]["total"] == n and row["position_consistency"]["total"] == n
    assert (out / "report.html").is_file() and all(Path(p).is_file() for p in report["plots"])
    if kind == "pickapic":  # user 7 has two plain pairs: a group of 1 liked vs 2 disliked images
        assert {k: v["total"] for k, v in report["rows"][0]["top_k"].items()} == {"2": 1}


def test_eval_sample_swap_and_reference_count() -> None:
    s = PairSample(
        sample_id="x",
        split="SP_ID",
        user_id="u",
        refs_liked=["l1", "l2", "l3"],
        refs_disliked=["d1", "d2"],
        image_a="a",
        image_b="b",
        answer="Image A",
        reference_prompts=["p1", "p2", "p3"],
    )
    assert s.swapped().swapped().model_dump() == {**s.model_dump(), "sample_id": "x~swap~swap"}
    two = s.with_references(2)
    assert (two.refs_liked, two.refs_disliked, two.reference_prompts, two.n_references) == (
        ["l1", "l2"],
        ["d1", "d2"],
        ["p1", "p2"],
        2,
    )
    assert s.n_references == 2
    with pytest.raises(InputError):
        s.with_references(0)


# --- JSON data files read whole ---------------------------------------------------------------------


def test_json_nested_too_deeply_names_the_file(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    bench_file = tmp_path / "SP_ID.json"
    bench_file.write_text(deep)
    with pytest.raises(InputError, match=r"SP_ID\.json: JSON nested too deeply"):
        load_eval_data(bench_file)
    folder = make_user(tmp_path / "people", "ana", {})
    (folder / "manifest.json").write_text('{"pairs": ' + deep + "}")
    with pytest.raises(InputError, match=r"ana/manifest\.json: JSON nested too deeply"):
        load_eval_data(tmp_path / "people")
    (folder / "manifest.json").write_text(
        deep
    )  # the data-set probe reads it too, then the user reader names it
    with pytest.raises(InputError, match=r"ana/manifest\.json: JSON nested too deeply"):
        load_eval_data(folder)


def test_a_json_integer_too_long_to_convert_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "SP_ID.json"
    path.write_text("[" + "7" * 5000 + "]")
    with pytest.raises(InputError, match=r"SP_ID\.json: not JSON \(Exceeds the limit"):
        load_eval_data(path)


def test_json_over_the_size_cap_names_the_file(tmp_path: Path, bench: tuple[Path, Path], monkeypatch) -> None:
    import agentpref.samples

    path, images = bench
    monkeypatch.setattr(agentpref.samples, "MAX_JSON_BYTES", 1000)
    with pytest.raises(InputError, match=r"SP_OD\.json: .* MB, over the .* MB limit of a JSON file"):
        load_eval_data(path, image_root=images)


def test_a_broken_data_set_manifest_names_the_file(tmp_path: Path) -> None:
    from agentpref.samples import load_samples

    root = make_synthetic(tmp_path / "ds")
    (root / "manifest.json").write_text('{"shards": [')
    with pytest.raises(InputError, match=r"ds/manifest\.json: not JSON"):
        load_samples(root)
    (root / "manifest.json").write_text('{"shards": [{"name": "x"}]}')
    with pytest.raises(InputError, match=r"ds/manifest\.json: field 'shards\[0\]\.file': Field required"):
        load_samples(root)


def test_preferimg_bench_answers_read_as_preferthinker_jsonl_reads_them(tmp_path: Path) -> None:
    """One reading of the format: the bare answers the JSONL reader takes are the ones this loader takes."""
    write_images(tmp_path, ["a.png", "b.png", "l.png"])
    answers = ["Image A", " image b. ", "A", "<answer>Image B</answer>"]
    records = [
        {**bench_record(0, text), "imageA": "a.png", "imageB": "b.png", "prefered_images": ["l.png"],
         "non_prefered_images": []}
        for text in answers
    ]  # fmt: skip
    path = tmp_path / "SP_ID.json"
    path.write_text(json.dumps(records))
    assert [s.winner for s in load_preferimg_bench(path)] == ["A", "B", "A", "B"]
