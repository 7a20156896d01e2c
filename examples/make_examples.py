"""Draw the example reference folders: examples/likes/ and examples/dislikes/.

Two sets with an obviously different taste, so any assessor (even the measurement-based
`features` one) has something real to find:

- likes: calm landscapes and seascapes, cool muted palette (teal, navy, slate, sage,
  cream), soft watercolor-like washes with few hard edges;
- dislikes: busy pop-art scenes in hot saturated colours (crimson, orange, magenta,
  lemon yellow) built from many small hard-edged shapes.

Each PNG carries an A1111-style `parameters` text chunk (prompt, negative prompt,
settings) so assessors that read metadata see the intended style and medium.

Everything is drawn with numpy (PIL only writes the PNG) from fixed seeds: running this
twice gives byte-identical files. Shapes are rasterised in numpy rather than with
ImageDraw so that pixels do not depend on Pillow's drawing code between versions.

    python examples/make_examples.py            # rewrites examples/likes, examples/dislikes
    python examples/make_examples.py --out DIR  # writes DIR/likes, DIR/dislikes
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

SIZE = 384
HERE = Path(__file__).resolve().parent

Array = np.ndarray
RGB = tuple[int, int, int]

# Cool, muted palette of the liked set.
CREAM: RGB = (238, 230, 210)
MIST: RGB = (206, 214, 212)
TEAL: RGB = (92, 138, 140)
DEEP_TEAL: RGB = (62, 104, 110)
NAVY: RGB = (58, 70, 96)
SLATE: RGB = (104, 116, 130)
PALE_SLATE: RGB = (160, 170, 180)
SAGE: RGB = (150, 168, 140)
DARK_SAGE: RGB = (108, 128, 108)
DUSK: RGB = (176, 170, 184)

# Hot, saturated palette of the disliked set.
CRIMSON: RGB = (220, 20, 60)
ORANGE: RGB = (255, 128, 0)
MAGENTA: RGB = (236, 0, 140)
LEMON: RGB = (255, 240, 20)
SCARLET: RGB = (255, 48, 24)
HOT_PINK: RGB = (255, 64, 160)
INK: RGB = (30, 10, 20)
HOT = (CRIMSON, ORANGE, MAGENTA, LEMON, SCARLET, HOT_PINK)

LIKE_NEGATIVE = "neon, oversaturated, cluttered, busy pattern, hard edges, harsh contrast"
DISLIKE_NEGATIVE = "muted, pastel, empty, minimalist, blurry, soft focus"


# ---------------------------------------------------------------- numpy painting helpers


def _grid() -> tuple[Array, Array]:
    """Pixel-centre coordinates in 0..1: (y, x), each SIZE x SIZE."""
    axis = (np.arange(SIZE) + 0.5) / SIZE
    return np.meshgrid(axis, axis, indexing="ij")


def _color(rgb: RGB) -> Array:
    return np.asarray(rgb, dtype=np.float64) / 255.0


def _blur(a: Array, sigma: float) -> Array:
    """Separable Gaussian blur with edge padding (fixed summation order, so reproducible)."""
    radius = max(1, int(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(a, pad, mode="edge")
        out = np.zeros_like(a)
        for i, w in enumerate(taps):
            out += w * np.take(padded, np.arange(i, i + a.shape[axis]), axis=axis)
        a = out
    return a


def _smooth_noise(rng: np.random.Generator, cells: int, sigma: float) -> Array:
    """Low-frequency noise in -1..1: the uneven pigment of a wash."""
    coarse = rng.random((cells, cells))
    step = -(-SIZE // cells)
    field_ = np.kron(coarse, np.ones((step, step)))[:SIZE, :SIZE]
    field_ = _blur(field_, sigma)
    lo, hi = field_.min(), field_.max()
    return 2 * (field_ - lo) / (hi - lo + 1e-9) - 1


def _ridge(rng: np.random.Generator, base: float, amp: float, waves: int = 3) -> Array:
    """A hill or shore line: height (0..1 from the top) for every column."""
    x = (np.arange(SIZE) + 0.5) / SIZE
    y = np.full(SIZE, base)
    for k in range(1, waves + 1):
        y += amp / k * np.sin(2 * np.pi * (k * x * rng.uniform(0.6, 1.2) + rng.random()))
    return y


def _wash(canvas: Array, mask: Array, rgb: RGB, rng: np.random.Generator, opacity: float = 0.9) -> Array:
    """Lay a transparent wash over `mask` with soft edges, uneven pigment and darker rims."""
    soft = _blur(mask.astype(np.float64), 4.0)
    pigment = 1 + 0.12 * _smooth_noise(rng, 6, 24)
    # Watercolour pools pigment where a wash dries at its edge: a faint darker rim.
    rim = np.clip(1 - np.abs(soft - 0.5) * 2, 0, 1) ** 2 * 0.25
    alpha = np.clip(soft * opacity * pigment + rim * soft, 0, 1)[..., None]
    return canvas * (1 - alpha) + _color(rgb) * alpha


# ---------------------------------------------------------------- liked: calm watercolours


@dataclass(frozen=True)
class Landscape:
    """One calm composition; the painter turns it into soft washes."""

    sky: tuple[RGB, RGB]  # top, horizon
    horizon: float  # 0..1 from the top
    ridges: tuple[tuple[float, float, RGB], ...] = ()  # (base height, amplitude, colour), back to front
    water: RGB | None = None
    orb: tuple[float, float, float, RGB] | None = None  # sun/moon: (x, y, radius, colour)
    island: tuple[float, float, RGB] | None = None  # (x centre, half width, colour) on the horizon
    mist: float = 0.0  # strength of the fog band at the horizon


def paint_landscape(spec: Landscape, rng: np.random.Generator) -> Array:
    yy, xx = _grid()
    top, low = _color(spec.sky[0]), _color(spec.sky[1])
    t = np.clip(yy / max(spec.horizon, 1e-3), 0, 1)[..., None]
    canvas = top * (1 - t) + low * t
    canvas = canvas * (1 + 0.05 * _smooth_noise(rng, 5, 30)[..., None])
    if spec.orb is not None:
        ox, oy, r, rgb = spec.orb
        glow = np.exp(-(((xx - ox) ** 2 + (yy - oy) ** 2) / (2 * (r * 2.5) ** 2)))[..., None] * 0.25
        canvas = canvas * (1 - glow) + _color(rgb) * glow
        canvas = _wash(canvas, (xx - ox) ** 2 + (yy - oy) ** 2 < r**2, rgb, rng, 0.85)
    if spec.island is not None:
        cx, half, rgb = spec.island
        bump = spec.horizon - 0.06 * np.clip(1 - ((xx - cx) / half) ** 2, 0, None) ** 0.5
        canvas = _wash(canvas, (yy > bump) & (yy < spec.horizon + 0.01), rgb, rng, 0.8)
    for base, amp, rgb in spec.ridges:
        line = _ridge(rng, base, amp)[None, :]
        canvas = _wash(canvas, yy > line, rgb, rng, 0.8)
    if spec.water is not None:
        water = yy > spec.horizon
        canvas = _wash(canvas, water, spec.water, rng, 0.75)
        # Soft reflections: light streaks of varying length, centred under the sun/moon.
        rows = _smooth_noise(rng, 48, 2)
        lit = rows[:, :1] > 0.45
        reach = 0.04 + 0.2 * (rows[:, -1:] + 1) / 2 * (yy[:, :1] - spec.horizon + 0.2)
        centre = spec.orb[0] if spec.orb is not None else 0.5
        streaks = lit & water & (np.abs(xx - centre) < reach)
        canvas = _wash(canvas, streaks, CREAM, rng, 0.22)
    if spec.mist > 0:
        band = np.exp(-(((yy - spec.horizon) / 0.05) ** 2))[..., None] * spec.mist
        canvas = canvas * (1 - band) + _color(MIST) * band
    return _blur(canvas, 1.2)


# ---------------------------------------------------------------- disliked: busy pop art


def _fill(canvas: Array, mask: Array, rgb: RGB) -> None:
    canvas[mask] = _color(rgb)


def sunburst(
    canvas: Array, cx: float, cy: float, rays: int, colors: Sequence[RGB], limit: float = 9.0
) -> None:
    yy, xx = _grid()
    inside = np.hypot(yy - cy, xx - cx) < limit
    sector = np.floor((np.arctan2(yy - cy, xx - cx) + np.pi) / (2 * np.pi) * rays).astype(int)
    for i, rgb in enumerate(colors):
        _fill(canvas, inside & (sector % len(colors) == i), rgb)


def rings(
    canvas: Array, cx: float, cy: float, width: float, colors: Sequence[RGB], limit: float = 9.0
) -> None:
    yy, xx = _grid()
    d = np.hypot(yy - cy, xx - cx)
    band = np.floor(d / width).astype(int)
    for i, rgb in enumerate(colors):
        _fill(canvas, (band % len(colors) == i) & (d < limit), rgb)


def halftone(canvas: Array, region: Array, spacing: float, rgb: RGB, grow: float = 0.0) -> None:
    """Ben-Day dots over `region`; `grow` makes the dots swell towards the bottom."""
    yy, xx = _grid()
    fx = (xx / spacing) % 1 - 0.5
    fy = (yy / spacing) % 1 - 0.5
    radius = 0.28 + grow * yy
    _fill(canvas, region & (fx**2 + fy**2 < radius**2), rgb)


def checker(canvas: Array, region: Array, cell: float, angle: float, colors: tuple[RGB, RGB]) -> None:
    yy, xx = _grid()
    u = (xx * np.cos(angle) + yy * np.sin(angle)) / cell
    v = (-xx * np.sin(angle) + yy * np.cos(angle)) / cell
    parity = (np.floor(u) + np.floor(v)).astype(int) % 2
    _fill(canvas, region & (parity == 0), colors[0])
    _fill(canvas, region & (parity == 1), colors[1])


def zigzag(canvas: Array, region: Array, period: float, height: float, colors: Sequence[RGB]) -> None:
    yy, xx = _grid()
    tri = np.abs((xx / period) % 1 - 0.5) * 2 * height
    band = np.floor((yy + tri) / height).astype(int)
    for i, rgb in enumerate(colors):
        _fill(canvas, region & (band % len(colors) == i), rgb)


def confetti(canvas: Array, rng: np.random.Generator, count: int, scale: tuple[float, float]) -> None:
    """Many small hard-edged triangles, squares and discs in hot colours with ink outlines."""
    yy, xx = _grid()
    for _ in range(count):
        cx, cy = rng.random(2)
        r = rng.uniform(*scale)
        rgb = HOT[int(rng.integers(len(HOT)))]
        kind = int(rng.integers(3))
        y0, y1 = max(0, int((cy - r * 1.3) * SIZE)), min(SIZE, int((cy + r * 1.3) * SIZE) + 1)
        x0, x1 = max(0, int((cx - r * 1.3) * SIZE)), min(SIZE, int((cx + r * 1.3) * SIZE) + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        py, px = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        if kind == 0:  # disc
            dist = np.hypot(py, px) / r
        elif kind == 1:  # rotated square
            a = rng.uniform(0, np.pi)
            u, v = px * np.cos(a) + py * np.sin(a), -px * np.sin(a) + py * np.cos(a)
            dist = np.maximum(np.abs(u), np.abs(v)) / r
        else:  # triangle: distance to the nearest of three half-planes
            a = rng.uniform(0, 2 * np.pi)
            normals = [a + k * 2 * np.pi / 3 for k in range(3)]
            dist = np.max([px * np.cos(n) + py * np.sin(n) for n in normals], axis=0) / (r * 0.5)
        patch = canvas[y0:y1, x0:x1]
        patch[dist < 1.12] = _color(INK)
        patch[dist < 1.0] = _color(rgb)


def skyline(canvas: Array, rng: np.random.Generator, ground: float, count: int) -> None:
    """A row of blocky buildings with grids of lit windows."""
    yy, xx = _grid()
    edges = np.sort(rng.random(count - 1))
    edges = np.concatenate([[0.0], edges, [1.0]])
    for left, right in itertools.pairwise(edges):
        top = ground - rng.uniform(0.15, 0.45)
        body = (xx >= left) & (xx < right) & (yy >= top) & (yy < ground)
        _fill(canvas, body, HOT[int(rng.integers(len(HOT)))])
        wx, wy = (xx - left) * SIZE % 9, (yy - top) * SIZE % 11
        windows = body & (wx > 3) & (wx < 7) & (wy > 3) & (wy < 8) & ((xx - left) * SIZE > 3)
        _fill(canvas, windows, LEMON if rng.random() < 0.5 else INK)
        _fill(canvas, body & (np.abs(xx - left) * SIZE < 1.5), INK)


def _pop_city(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    sunburst(canvas, 0.5, 0.55, 36, (LEMON, ORANGE, CRIMSON))
    yy, _ = _grid()
    skyline(canvas, rng, 0.78, 14)
    zigzag(canvas, yy >= 0.78, 0.05, 0.03, (MAGENTA, LEMON, CRIMSON))
    confetti(canvas, rng, 70, (0.008, 0.025))
    return canvas


def _benday_portrait(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    yy, _ = _grid()
    _fill(canvas, np.ones_like(yy, dtype=bool), LEMON)
    halftone(canvas, np.ones_like(yy, dtype=bool), 0.03, MAGENTA, grow=0.12)
    rings(canvas, 0.5, 0.5, 0.035, (CRIMSON, ORANGE, INK, HOT_PINK), limit=0.3)
    checker(canvas, (yy > 0.86) | (yy < 0.08), 0.04, 0.0, (INK, SCARLET))
    confetti(canvas, rng, 90, (0.01, 0.03))
    return canvas


def _maximal_sea(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    yy, _ = _grid()
    rings(canvas, 0.75, 0.22, 0.025, (ORANGE, LEMON, CRIMSON))
    zigzag(canvas, yy > 0.45, 0.06, 0.035, (MAGENTA, CRIMSON, ORANGE, HOT_PINK))
    halftone(canvas, yy > 0.45, 0.025, LEMON, grow=0.0)
    confetti(canvas, rng, 120, (0.006, 0.02))
    return canvas


def _op_checker(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    yy, xx = _grid()
    checker(canvas, np.ones_like(yy, dtype=bool), 0.045, 0.35, (CRIMSON, LEMON))
    sunburst(canvas, 0.3, 0.7, 24, (MAGENTA, ORANGE), limit=0.24)
    _fill(canvas, np.abs(np.hypot(yy - 0.7, xx - 0.3) - 0.245) * SIZE < 3, INK)
    outside = np.hypot(yy - 0.7, xx - 0.3) > 0.25
    checker(canvas, outside & (xx > 0.6) & (yy < 0.55), 0.03, -0.5, (HOT_PINK, ORANGE))
    confetti(canvas, rng, 110, (0.008, 0.028))
    return canvas


def _tile_mosaic(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    yy, xx = _grid()
    cells = 24
    idx = rng.integers(len(HOT), size=(cells, cells))
    ci, cj = np.minimum((yy * cells).astype(int), cells - 1), np.minimum((xx * cells).astype(int), cells - 1)
    canvas[:] = np.asarray(HOT, dtype=np.float64)[idx[ci, cj]] / 255.0
    grout = ((yy * cells) % 1 < 0.12) | ((xx * cells) % 1 < 0.12)
    _fill(canvas, grout, INK)
    rings(canvas, 0.62, 0.38, 0.02, (LEMON, MAGENTA, ORANGE), limit=0.2)
    confetti(canvas, rng, 60, (0.01, 0.03))
    return canvas


def _carnival_hills(rng: np.random.Generator) -> Array:
    canvas = np.zeros((SIZE, SIZE, 3))
    yy, _ = _grid()
    sunburst(canvas, 0.2, 0.15, 48, (ORANGE, LEMON, HOT_PINK))
    for base, colors in ((0.45, (CRIMSON, MAGENTA)), (0.6, (ORANGE, SCARLET)), (0.78, (MAGENTA, LEMON))):
        line = _ridge(rng, base, 0.06)[None, :]
        checker(canvas, yy > line, 0.035, rng.uniform(-0.6, 0.6), colors)
        _fill(canvas, np.abs(yy - line) * SIZE < 1.5, INK)
    confetti(canvas, rng, 100, (0.006, 0.022))
    return canvas


# ---------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Picture:
    folder: str
    name: str
    seed: int
    prompt: str
    paint: Callable[[np.random.Generator], Array]
    negative: str


def _landscape(spec: Landscape) -> Callable[[np.random.Generator], Array]:
    return lambda rng: paint_landscape(spec, rng)


def _like(name: str, seed: int, prompt: str, spec: Landscape) -> Picture:
    return Picture("likes", name, seed, prompt, _landscape(spec), LIKE_NEGATIVE)


def _dislike(name: str, seed: int, prompt: str, paint: Callable[[np.random.Generator], Array]) -> Picture:
    return Picture("dislikes", name, seed, prompt, paint, DISLIKE_NEGATIVE)


# One row per picture; a table reads better unwrapped.
# fmt: off
PICTURES: tuple[Picture, ...] = (
    _like("01_quiet_lake_dusk", 1,
          "watercolor painting of a quiet lake at dusk, impressionism, soft light, muted teal and slate",
          Landscape(sky=(NAVY, DUSK), horizon=0.55, ridges=((0.52, 0.03, SLATE),), water=DEEP_TEAL,
                    orb=(0.7, 0.25, 0.05, CREAM), mist=0.35)),
    _like("02_misty_sea_morning", 2,
          "minimalist watercolor seascape, misty morning sea, pale sun, soft washes, calm, cool colors",
          Landscape(sky=(PALE_SLATE, CREAM), horizon=0.68, water=TEAL, orb=(0.3, 0.45, 0.07, CREAM),
                    mist=0.5)),
    _like("03_sage_hills", 3,
          "watercolor landscape of rolling sage green hills, impressionism, soft light, muted colors",
          Landscape(sky=(SLATE, CREAM), horizon=0.35,
                    ridges=((0.38, 0.05, PALE_SLATE), (0.55, 0.06, SAGE), (0.75, 0.05, DARK_SAGE)))),
    _like("04_coastline_cove", 4,
          "impressionist watercolor of a quiet coastline cove, teal water, sage headland, gentle light",
          Landscape(sky=(PALE_SLATE, MIST), horizon=0.45, ridges=((0.5, 0.12, SAGE),), water=TEAL,
                    island=(0.82, 0.08, SLATE), mist=0.2)),
    _like("05_slate_mountains_fog", 5,
          "minimalist watercolor of slate blue mountains above a foggy lake, soft wet-on-wet washes",
          Landscape(sky=(NAVY, PALE_SLATE), horizon=0.62, ridges=((0.3, 0.1, SLATE), (0.45, 0.07, NAVY)),
                    water=SLATE, mist=0.6)),
    _like("06_moonlit_island", 6,
          "minimalist watercolor seascape, a small island under a high moon, navy and cream, serene",
          Landscape(sky=(NAVY, SLATE), horizon=0.6, water=NAVY, orb=(0.45, 0.18, 0.045, CREAM),
                    island=(0.25, 0.1, DEEP_TEAL), mist=0.15)),
    _dislike("01_pop_city", 11,
             "pop art city skyline, sunburst sky, bold hot colors, dense pattern, digital art, maximalist",
             _pop_city),
    _dislike("02_benday_target", 12,
             "pop art ben-day dots and concentric target, saturated magenta and lemon yellow, comic print",
             _benday_portrait),
    _dislike("03_maximalist_sea", 13,
             "maximalist digital art seascape, zigzag waves, neon crimson and orange, busy confetti shapes",
             _maximal_sea),
    _dislike("04_op_checker", 14,
             "op art and pop art checkerboard with sunburst, crimson and yellow, hard edges, high detail",
             _op_checker),
    _dislike("05_tile_mosaic", 15,
             "maximalist geometric mosaic, hot saturated colors, many small tiles, digital art, vivid",
             _tile_mosaic),
    _dislike("06_carnival_hills", 16,
             "pop art carnival landscape, checkered hills, sunburst, magenta orange crimson, digital art",
             _carnival_hills),
)
# fmt: on


def parameters_text(picture: Picture) -> str:
    """The A1111 `parameters` chunk: prompt, negative prompt, then the settings line."""
    return (
        f"{picture.prompt}\nNegative prompt: {picture.negative}\n"
        f"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: {picture.seed}, Size: {SIZE}x{SIZE}"
    )


def render(picture: Picture) -> Image.Image:
    pixels = picture.paint(np.random.default_rng(picture.seed))
    return Image.fromarray(np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8), "RGB")


def main(out_dir: str | Path | None = None) -> list[Path]:
    """Write every picture under `out_dir` (default: this folder) in likes/ and dislikes/."""
    root = Path(out_dir) if out_dir is not None else HERE
    written = []
    for picture in PICTURES:
        folder = root / picture.folder
        folder.mkdir(parents=True, exist_ok=True)
        info = PngInfo()
        info.add_text("parameters", parameters_text(picture))
        path = folder / f"{picture.name}.png"
        render(picture).save(path, format="PNG", pnginfo=info, optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="folder to write likes/ and dislikes/ into")
    for path in main(parser.parse_args().out):
        print(f"{path}  {path.stat().st_size // 1024} KB")
