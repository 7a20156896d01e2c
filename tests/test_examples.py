"""The example reference folders a new user runs first: present, valid, reproducible, distinct."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SIZE = (384, 384)


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_examples", EXAMPLES / "make_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    return _load_script()


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory, script: ModuleType) -> Path:
    out = tmp_path_factory.mktemp("examples")
    script.main(out)
    return out


def _committed(folder: str) -> list[Path]:
    return sorted((EXAMPLES / folder).glob("*.png"))


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


def _saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation: (max - min) / max, 0 for black."""
    hi, lo = rgb.max(axis=-1), rgb.min(axis=-1)
    return float(np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-9), 0.0).mean())


def _edge_density(rgb: np.ndarray) -> float:
    """Fraction of pixels whose Sobel gradient magnitude (unnormalised kernel) on 0..1 luma exceeds 0.1."""
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    p = np.pad(gray, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return float((np.hypot(gx, gy) > 0.1).mean())


@pytest.mark.parametrize("folder", ["likes", "dislikes"])
def test_committed_images_are_six_valid_pngs_with_prompt_metadata(folder: str) -> None:
    paths = _committed(folder)
    assert len(paths) == 6, f"examples/{folder} should hold 6 PNGs, found {[p.name for p in paths]}"
    for path in paths:
        with Image.open(path) as im:
            im.verify()  # checks chunk CRCs and structure
        with Image.open(path) as im:
            assert im.format == "PNG", path
            assert im.size == SIZE, path
            im.load()
            params = im.text.get("parameters")
        assert params, f"{path} has no A1111 'parameters' text chunk"
        _prompt, negative, settings = params.split("\n")
        assert negative.startswith("Negative prompt: ")
        assert "Steps: " in settings and "Seed: " in settings


def test_prompts_name_the_style_of_each_set() -> None:
    def prompts(folder: str) -> list[str]:
        out = []
        for path in _committed(folder):
            with Image.open(path) as im:
                im.load()
                out.append(im.text["parameters"].split("\n")[0].lower())
        return out

    assert all("watercolor" in p for p in prompts("likes"))
    assert all(any(w in p for w in ("pop art", "digital art", "maximalist")) for p in prompts("dislikes"))


def test_committed_images_stay_small() -> None:
    total = sum(p.stat().st_size for folder in ("likes", "dislikes") for p in _committed(folder))
    assert total < 1_500_000, f"example images take {total} bytes"


# CPUs differ in the last bits of vectorised sin, cos and arctan2, so a pixel whose coordinate
# lands within a few ulps of a shape's edge can take the other colour (2 of 147,456 pixels of
# 04_op_checker on one machine). Such flips are a handful per image; any change a person could
# see (a moved line, another colour, another seed) changes hundreds or thousands of pixels.
FLIPPED_PIXELS_ALLOWED = 16


def test_regeneration_matches_committed_images(regenerated: Path) -> None:
    for folder in ("likes", "dislikes"):
        names = [p.name for p in _committed(folder)]
        assert sorted(p.name for p in (regenerated / folder).glob("*.png")) == names
        for name in names:
            committed, fresh = _pixels(EXAMPLES / folder / name), _pixels(regenerated / folder / name)
            assert committed.shape == fresh.shape, f"{folder}/{name} changed size"
            flipped = int((committed != fresh).any(axis=-1).sum())
            assert flipped <= FLIPPED_PIXELS_ALLOWED, f"{folder}/{name}: {flipped} pixels changed"
            with Image.open(EXAMPLES / folder / name) as a, Image.open(regenerated / folder / name) as b:
                a.load()
                b.load()
                assert a.text == b.text, f"{folder}/{name} metadata changed"


def test_the_comparison_catches_a_real_change(regenerated: Path) -> None:
    """A one-pixel shift of a picture is a change the check above must not let through."""
    for folder in ("likes", "dislikes"):
        for path in _committed(folder):
            pixels = _pixels(path)
            shifted = np.roll(pixels, 1, axis=1)
            assert int((pixels != shifted).any(axis=-1).sum()) > FLIPPED_PIXELS_ALLOWED, path.name


def test_regeneration_is_byte_identical_on_one_machine(
    regenerated: Path, script: ModuleType, tmp_path: Path
) -> None:
    written = script.main(tmp_path)
    assert len(written) == 12
    for path in written:
        rel = path.relative_to(tmp_path)
        assert path.read_bytes() == (regenerated / rel).read_bytes(), f"{rel} differs between two runs"


def test_liked_set_is_less_saturated_and_less_detailed() -> None:
    likes = [_pixels(p) for p in _committed("likes")]
    dislikes = [_pixels(p) for p in _committed("dislikes")]
    sat_likes, sat_dislikes = (
        np.mean([_saturation(a) for a in likes]),
        np.mean([_saturation(a) for a in dislikes]),
    )
    edge_likes, edge_dislikes = (
        np.mean([_edge_density(a) for a in likes]),
        np.mean([_edge_density(a) for a in dislikes]),
    )
    # Clear margins, not just an ordering: an assessor has to be able to see the difference.
    assert sat_likes < 0.35 < 0.7 < sat_dislikes, (sat_likes, sat_dislikes)
    assert edge_likes < 0.08 < 0.2 < edge_dislikes, (edge_likes, edge_dislikes)
    # And every single liked image is calmer than every disliked one.
    assert max(_saturation(a) for a in likes) < min(_saturation(a) for a in dislikes)
    assert max(_edge_density(a) for a in likes) < min(_edge_density(a) for a in dislikes)


def test_images_within_a_set_are_not_near_duplicates() -> None:
    for folder in ("likes", "dislikes"):
        images = [_pixels(p) for p in _committed(folder)]
        for i in range(len(images)):
            for j in range(i + 1, len(images)):
                diff = float(np.abs(images[i] - images[j]).mean())
                assert diff > 0.03, f"{folder} images {i} and {j} differ by only {diff:.3f}"


def test_sdk_quickstart_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("sdk_quickstart", EXAMPLES / "sdk_quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = module.main(tmp_path / "run")
    assert report.is_file()
    printed = capsys.readouterr().out
    assert "<visual preference profile>" in printed and "winner:" in printed
