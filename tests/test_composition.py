"""Composition statistics: where boundaries run, read the same whatever the colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from agentpref.images.composition import FLAT_BOUNDARIES, layout

SIDE = 256


def _two_colour(mask: np.ndarray, a: tuple[int, int, int], b: tuple[int, int, int]) -> Image.Image:
    out = np.where(mask[..., None], np.array(a, dtype=np.uint8), np.array(b, dtype=np.uint8))
    return Image.fromarray(out.astype(np.uint8))


def _grid() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    return yy - (SIDE - 1) / 2, xx - (SIDE - 1) / 2


def test_horizontal_bands_and_vertical_stripes_read_as_such() -> None:
    yy, xx = _grid()
    bands = layout(_two_colour((yy // 32).astype(int) % 2 == 0, (200, 60, 40), (30, 40, 120)))
    stripes = layout(_two_colour((xx // 32).astype(int) % 2 == 0, (200, 60, 40), (30, 40, 120)))
    assert bands["boundary_horizontal"] > 0.95 and stripes["boundary_horizontal"] < 0.05
    # Both run straight along the axes, across the whole picture.
    for stats in (bands, stripes):
        assert stats["boundary_axis"] > 0.95 and stats["boundary_span"] > 0.9


def test_rings_and_rays_are_told_apart() -> None:
    yy, xx = _grid()
    rings = layout(_two_colour((np.hypot(xx, yy) // 16).astype(int) % 2 == 0, (240, 220, 60), (20, 20, 20)))
    rays = layout(
        _two_colour((np.arctan2(yy, xx) // (np.pi / 8)).astype(int) % 2 == 0, (240, 220, 60), (20, 20, 20))
    )
    assert rings["boundary_radial"] > 0.8 and rays["boundary_radial"] < 0.2
    assert rings["boundary_polar"] > 0.7 and rays["boundary_polar"] > 0.7  # both centred patterns


def test_a_central_figure_is_central_and_symmetric() -> None:
    yy, xx = _grid()
    figure = layout(_two_colour(np.hypot(xx / 0.6, yy) < 60, (230, 190, 170), (40, 60, 50)))
    corner = layout(_two_colour(np.hypot(xx + 80, yy + 80) < 40, (230, 190, 170), (40, 60, 50)))
    assert figure["boundary_centre"] > 0.9 and corner["boundary_centre"] < 0.1
    assert figure["boundary_symmetry"] > 0.95 > corner["boundary_symmetry"]


@pytest.mark.parametrize(
    "colours",
    [((255, 255, 255), (0, 0, 0)), ((250, 200, 40), (230, 190, 60)), ((20, 40, 160), (200, 30, 90))],
)
def test_boundary_statistics_ignore_which_colours_meet(
    colours: tuple[tuple[int, int, int], tuple[int, int, int]],
) -> None:
    """A palette change must not change the composition the judge reads (it did, with the
    colour statistics alone: a colour term changed in the loop moved the Art Styles score)."""
    rng = np.random.default_rng(3)
    yy, xx = _grid()
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    for _ in range(12):  # a few shapes: discs and rectangles
        cy, cx = rng.uniform(-100, 100, 2)
        r = rng.uniform(10, 50)
        mask ^= (
            np.hypot(yy - cy, xx - cx) < r if rng.random() < 0.5 else (abs(yy - cy) < r) & (abs(xx - cx) < r)
        )
    reference = layout(_two_colour(mask, (200, 60, 40), (30, 40, 120)))
    recoloured = layout(_two_colour(mask, *colours))
    for name in FLAT_BOUNDARIES:
        assert recoloured[name] == pytest.approx(reference[name], abs=0.02), name


def test_one_flat_colour_has_no_preferred_direction() -> None:
    stats = layout(Image.new("RGB", (SIDE, SIDE // 2), (90, 120, 30)))
    assert {k: stats[k] for k in FLAT_BOUNDARIES} == FLAT_BOUNDARIES
