"""Roots: an image path that a data file names must stay inside its root, in every format.

Each format gets an absolute path and a `..` path to a real image outside the root (so a
loader that read it would succeed): the record is refused naming file, record and field,
no sample ever holds that path, the message is the same whether the outside file exists,
and `allow_outside_root=True` accepts it.
"""

from __future__ import annotations

import io
import json
import os
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
)
from agentpref.images.references import load_references
from agentpref.paths import RefusedPathError, inside_root
from agentpref.samples import PairSample, load_samples, write_samples


def save_png(path: Path, color: tuple[int, int, int] = (200, 30, 30)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A readable image outside every root the tests use."""
    return save_png(tmp_path / "outside" / "secret.png", (1, 2, 3))


def escapes(secret: Path, root: Path) -> dict[str, str]:
    """The outside image as an absolute path, and as a path relative to `root` ("../../outside/...")."""
    return {"absolute": str(secret), "dotdot": os.path.relpath(secret, root)}


def assert_refused(err: pytest.ExceptionInfo, file: Path, record: str | None, field: str) -> str:
    message = str(err.value)
    assert message.startswith(str(file)), message
    assert (record is None or record in message) and repr(field) in message, message
    assert "is outside" in message and "--allow-outside-root" in message, message
    return message


def never_holds(samples: list[PairSample], secret: Path) -> bool:
    return all(Path(p).resolve() != secret.resolve() for s in samples for p in s.image_paths())


# --- the function every loader uses -----------------------------------------------------------------


def test_inside_root_resolves_and_refuses_the_same_way_whether_the_target_exists(tmp_path: Path) -> None:
    root = tmp_path / "root"
    save_png(root / "a" / "x.png")
    assert inside_root("a/../a/x.png", root, where="f") == (root / "a/x.png").resolve()
    save_png(tmp_path / "secret.png")
    messages = []
    for name in ("secret.png", "missing.png"):  # one exists outside, one does not
        with pytest.raises(RefusedPathError) as err:
            inside_root(f"../{name}", root, where="data.json: record 0: field 'imageA'")
        messages.append(str(err.value).replace(name, "NAME"))
    assert messages[0] == messages[1]
    with pytest.raises(RefusedPathError, match="not a usable path"):
        inside_root("a\x00.png", root, where="f")
    assert inside_root("/etc/passwd", root, where="f", allow_outside=True) == Path("/etc/passwd").resolve()


# --- PreferImg-Bench JSON ---------------------------------------------------------------------------


def bench(root: Path, image_a: str, liked_1: str = "like_1.png") -> Path:
    for name in ("like_0.png", "like_1.png", "dislike_0.png", "a.png", "b.png"):
        save_png(root / "images" / name)
    record = {
        "conversations": [{"from": "human", "value": "<image>"}, {"from": "gpt", "value": "Image A"}],
        "imageA": image_a,
        "imageB": "b.png",
        "prefered_images": ["like_0.png", liked_1],
        "non_prefered_images": ["dislike_0.png"],
    }
    path = root / "SP_ID.json"
    path.write_text(json.dumps([record, {**record, "imageA": "a.png", "prefered_images": ["like_0.png"]}]))
    return path


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
@pytest.mark.parametrize("field", ["imageA", "prefered_images[1]"])
def test_preferimg_bench_refuses_paths_out_of_the_image_root(
    tmp_path: Path, secret: Path, kind: str, field: str
) -> None:
    images = tmp_path / "data" / "images"
    value = escapes(secret, images)[kind]
    path = bench(
        tmp_path / "data",
        value if field == "imageA" else "a.png",
        value if field != "imageA" else "like_1.png",
    )
    with pytest.raises(InputError) as err:
        load_preferimg_bench(path, images)
    assert_refused(err, path, "record 0", field)
    with pytest.raises(InputError) as err:
        load_eval_data(path, image_root=images)
    assert_refused(err, path, "record 0", field)
    samples = load_eval_data(path, image_root=images, allow_outside_root=True)
    assert not never_holds(samples, secret)


def test_preferimg_bench_root_defaults_to_the_file_folder(tmp_path: Path, secret: Path) -> None:
    path = bench(tmp_path / "data", "images/a.png")
    path.write_text(path.read_text().replace('"b.png"', '"../outside/secret.png"'))
    with pytest.raises(InputError) as err:
        load_preferimg_bench(path, check_images=False)
    assert_refused(err, path, "record 0", "imageB")


# --- a person's own folders with manifest.json ------------------------------------------------------


def user(root: Path, a: str) -> Path:
    folder = root / "ana"
    save_png(folder / "liked" / "l1.png")
    save_png(folder / "queries" / "q1.png", (9, 9, 9))
    save_png(folder / "queries" / "q2.png", (99, 9, 9))
    (folder / "manifest.json").write_text(
        json.dumps(
            {"pairs": [{"a": "q2.png", "b": "q1.png", "winner": "a"}, {"a": a, "b": "q1.png", "winner": "b"}]}
        )
    )
    return folder


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_user_manifest_refuses_paths_out_of_the_folder(tmp_path: Path, secret: Path, kind: str) -> None:
    people = tmp_path / "people"
    folder = user(people, escapes(secret, people / "ana" / "queries")[kind])
    with pytest.raises(InputError) as err:
        load_user_folders(people)
    assert_refused(err, folder / "manifest.json", None, "pairs[1].a")
    with pytest.raises(InputError):
        load_eval_data(people)
    assert not never_holds(load_eval_data(people, allow_outside_root=True), secret)


def test_user_folder_refuses_a_liked_link_out_of_the_folder(tmp_path: Path, secret: Path) -> None:
    people = tmp_path / "people"
    folder = user(people, "q2.png")
    (folder / "manifest.json").write_text(
        json.dumps({"pairs": [{"a": "q2.png", "b": "q1.png", "winner": "a"}]})
    )
    link = folder / "liked" / "l2.png"
    link.symlink_to(secret)
    with pytest.raises(InputError) as err:
        load_eval_data(people)
    assert str(err.value).startswith(str(link)) and "symbolic link" in str(err.value)
    assert not never_holds(load_eval_data(people, allow_outside_root=True), secret)
    link.unlink()
    link.symlink_to(folder / "queries" / "q1.png")  # a link that stays inside is fine
    assert [len(s.refs_liked) for s in load_eval_data(people)] == [2]


# --- Pick-a-Pic parquet -----------------------------------------------------------------------------


def pickapic(root: Path, image0: str) -> Path:
    import pandas as pd

    for name in ("l.png", "d.png", "q0.png", "q1.png"):
        save_png(root / "img" / name, (len(name) * 20, 5, 5))
    rows = [
        {
            "user_id": "u",
            "reference_list": ["img/l.png"],
            "reference_list_bad": ["img/d.png"],
            "reference_prompt_list": ["p"],
            "image0": image0,
            "image1": "img/q1.png",
            "prompt": "x",
            "label0": 1.0,
        }
    ]
    path = root / "split.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_pickapic_parquet_refuses_paths_out_of_the_root(tmp_path: Path, secret: Path, kind: str) -> None:
    pytest.importorskip("pyarrow")
    data = tmp_path / "data"
    path = pickapic(data, escapes(secret, data)[kind])
    with pytest.raises(InputError) as err:
        load_pickapic_split(path)
    assert_refused(err, path, "record 0", "image0")
    with pytest.raises(InputError) as err:
        load_eval_data(path)
    assert_refused(err, path, "record 0", "image0")
    assert not never_holds(load_eval_data(path, allow_outside_root=True), secret)


def test_pickapic_paths_follow_the_image_root(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = pickapic(tmp_path / "data", "img/q0.png")
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (tmp_path / "data" / "img").rename(moved / "img")
    samples = load_eval_data(path, image_root=moved)
    assert samples[0].image_a == str((moved / "img/q0.png").resolve())


# --- train/'s synthetic data sets -------------------------------------------------------------------


def synthetic(root: Path, image_a: str, shard: str = "samples-00000.jsonl") -> Path:
    for name in ("l.png", "d.png", "a.png", "b.png"):
        save_png(root / "images" / name, (len(name) * 30, 1, 1))
    sample = PairSample(
        sample_id="u-0",
        user_id="u",
        refs_liked=["images/l.png"],
        refs_disliked=["images/d.png"],
        image_a=image_a,
        image_b="images/b.png",
        answer="Image A",
    )
    write_samples(root / "samples-00000.jsonl", [sample])
    (root / "manifest.json").write_text(json.dumps({"shards": [{"file": shard}]}))
    return root


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_synthetic_set_refuses_paths_out_of_its_folder(tmp_path: Path, secret: Path, kind: str) -> None:
    root = synthetic(tmp_path / "ds", escapes(secret, tmp_path / "ds")[kind])
    with pytest.raises(InputError) as err:
        load_synthetic(root)
    assert_refused(err, root / "samples-00000.jsonl", "record 0", "image_a")  # the shard is named
    with pytest.raises(InputError):
        load_eval_data(root)
    assert not never_holds(load_eval_data(root, allow_outside_root=True), secret)


def test_synthetic_manifest_shards_stay_in_the_folder(tmp_path: Path) -> None:
    root = synthetic(tmp_path / "ds", "images/a.png", shard="../other/samples-00000.jsonl")
    with pytest.raises(InputError) as err:
        load_samples(root)
    assert_refused(err, root / "manifest.json", None, "shards[0].file")


# --- reference folders ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["absolute", "dotdot"])
def test_reference_folder_skips_a_link_out_of_the_folder(tmp_path: Path, secret: Path, kind: str) -> None:
    refs = tmp_path / "refs"
    save_png(refs / "liked" / "a.png", (10, 20, 30))
    save_png(refs / "disliked" / "d.png", (30, 20, 10))
    link = refs / "liked" / "b.png"
    link.symlink_to(secret if kind == "absolute" else Path("../../outside/secret.png"))
    (refs / "disliked" / "e.png").symlink_to(save_png(secret.with_name("other.png"), (4, 5, 6)))
    loaded = load_references(refs)
    assert [r.label for r in loaded.likes] == ["a.png"] and [r.label for r in loaded.dislikes] == ["d.png"]
    reasons = {e.source: e.reason for e in loaded.skipped}
    assert set(reasons) == {str(link), str(refs / "disliked" / "e.png")}
    assert "symbolic link" in reasons[str(link)] and "--allow-outside-root" in reasons[str(link)]
    trusted = load_references(refs, allow_outside_root=True)
    assert [r.label for r in trusted.likes] == ["a.png", "b.png"] and len(trusted.dislikes) == 2


def test_a_separate_dislikes_folder_is_its_own_root(tmp_path: Path, secret: Path) -> None:
    save_png(tmp_path / "likes" / "a.png")
    (tmp_path / "dislikes").mkdir()
    (tmp_path / "dislikes" / "x.png").symlink_to(secret)
    loaded = load_references(tmp_path / "likes", tmp_path / "dislikes")
    assert loaded.dislikes == [] and [e.source for e in loaded.skipped] == [
        str(tmp_path / "dislikes" / "x.png")
    ]


def test_only_refused_liked_images_say_so(tmp_path: Path, secret: Path) -> None:
    (tmp_path / "likes").mkdir()
    (tmp_path / "likes" / "x.png").symlink_to(secret)
    with pytest.raises(InputError, match=r"no usable liked image; skipped:\n  - .*x\.png: .*symbolic link"):
        load_references(tmp_path / "likes")


# --- end to end: nothing outside the root reaches a model server ------------------------------------


def _sent_images(fake: object) -> list[Image.Image]:
    import base64
    import re

    found = re.compile(rb"data:[\w/+.-]*;base64,([A-Za-z0-9+/=]+)")
    return [
        Image.open(io.BytesIO(base64.b64decode(m))).convert("RGB")
        for body in fake.requests  # type: ignore[attr-defined]
        for m in found.findall(body)
    ]


def _is_secret(image: Image.Image) -> bool:
    """The secret is uniformly (1, 2, 3); re-encoding may move a channel by a step or two."""
    low, high = zip(*image.getextrema(), strict=True)
    return (
        max(high) <= 8
        and min(low) >= 0
        and max(abs(a - b) for a, b in zip(high, (1, 2, 3), strict=True)) <= 3
    )


def test_no_image_outside_the_root_reaches_the_server(tmp_path: Path, secret: Path) -> None:
    from click.testing import CliRunner

    from agentpref.cli.main import main
    from agentpref.testing.fake_openai import serve_fake

    data = bench(tmp_path / "data", os.path.relpath(secret, tmp_path / "data" / "images"))
    refs = tmp_path / "refs"
    save_png(refs / "likes" / "l.png", (200, 30, 30))
    save_png(refs / "dislikes" / "d.png", (30, 30, 200))
    (refs / "likes" / "linked.png").symlink_to(secret)
    a, b = save_png(tmp_path / "a.png", (90, 90, 90)), save_png(tmp_path / "b.png", (160, 160, 160))
    with serve_fake("ok") as fake:
        uri = fake.uri(timeout=5, retries=0)
        runner = CliRunner()
        evaluated = runner.invoke(
            main, ["eval", str(data), "--image-root", str(data.parent / "images"), "--assessor", uri,
                   "--out", str(tmp_path / "eval"), "--no-plots"],
        )  # fmt: skip
        assert evaluated.exit_code == 2 and "is outside" in evaluated.output, evaluated.output
        assert fake.requests == []  # refused while loading, before any request
        compared = runner.invoke(
            main, ["compare", "--refs", str(refs), str(a), str(b), "--assessor", uri, "--json"]
        )
        assert compared.exit_code == 0, compared.output
        sent = _sent_images(fake)
        assert sent and not any(_is_secret(image) for image in sent)
    assert _is_secret(Image.open(secret).convert("RGB"))  # the check itself can see the secret
