"""The painter's compositions: one function per Art Style `family`, drawing flat shapes.

Each composition takes the canvas size, a weighted palette (sRGB 0-255), a complexity in
0..1 (how many and how small the shapes are: the main driver of edge density) and a numpy
Generator, and returns an RGB uint8 array. Treatments (painter_treat) turn this flat
drawing into watercolor, impasto, pixels, hatching and so on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]


class Palette:
    """Weighted colours; `pick` draws one by weight, `main` is the heaviest. `allowed` says
    whether a derived colour (a mark's lighter or darker shade) may be drawn: the
    generator refuses colours near what the person avoids."""

    def __init__(
        self,
        colors: list[RGB],
        weights: list[float],
        rng: np.random.Generator,
        allowed: Callable[[RGB], bool] = lambda c: True,
    ) -> None:
        self.colors = colors
        w = np.asarray(weights, dtype=np.float64)
        self.p = w / w.sum()
        self.cum = np.cumsum(self.p)
        self.rng = rng
        self.allowed = allowed

    @property
    def main(self) -> RGB:
        return self.colors[int(np.argmax(self.p))]

    def pick(self, avoid: RGB | None = None) -> RGB:
        """A colour drawn by weight, different from `avoid` when the palette has another."""
        for _ in range(4):
            c = self.colors[min(int(np.searchsorted(self.cum, self.rng.random())), len(self.colors) - 1)]
            if c != avoid or len(self.colors) == 1:
                return c
        return c


def shade(c: RGB, f: float) -> RGB:
    """Lighter (f > 0, toward white) or darker (f < 0, toward black) variant of a colour."""
    a = np.asarray(c, dtype=np.float64)
    out = a + (255 - a) * f if f > 0 else a * (1 + f)
    return (int(out[0]), int(out[1]), int(out[2]))


def _count(complexity: float, lo: int, hi: int, power: float = 2.2) -> int:
    return round(lo + (hi - lo) * complexity**power)


def _blob(
    cx: float, cy: float, r: float, rng: np.random.Generator, points: int = 64
) -> list[tuple[float, float]]:
    """A smooth closed organic outline: a circle with a few random low harmonics."""
    t = np.linspace(0, 2 * np.pi, points, endpoint=False)
    rad = np.ones_like(t)
    for k in (2, 3, 4):
        rad += rng.uniform(0.04, 0.22) / k * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    rx = r * rng.uniform(0.7, 1.3)
    return list(zip((cx + rx * rad * np.cos(t)).tolist(), (cy + r * rad * np.sin(t)).tolist(), strict=True))


def _geometric(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (w, h), pal.main)
    d = ImageDraw.Draw(img)
    n = _count(c, 2, 500)
    for i in range(n):
        size = max(w, h) * (0.55 * (1 - c) ** 2 + 0.04) * rng.uniform(0.4, 1.0) * (1 - 0.5 * i / max(n, 1))
        x, y = rng.uniform(-0.05, 1.05) * w, rng.uniform(-0.05, 1.05) * h
        col = pal.pick(avoid=pal.main if i < 2 else None)
        kind = rng.integers(0, 4)
        if kind == 0:
            d.rectangle([x - size / 2, y - size / 3, x + size / 2, y + size / 3], fill=col)
        elif kind == 1:
            d.ellipse([x - size / 2, y - size / 2, x + size / 2, y + size / 2], fill=col)
        elif kind == 2:
            a = rng.uniform(0, 2 * np.pi)
            pts = [
                (x + size * 0.6 * np.cos(a + k * 2.094), y + size * 0.6 * np.sin(a + k * 2.094))
                for k in range(3)
            ]
            d.polygon(pts, fill=col)
        else:  # a diagonal bar
            a = rng.choice([np.pi / 4, -np.pi / 4, np.pi / 6, -np.pi / 3])
            dx, dy = np.cos(a) * size, np.sin(a) * size
            d.line([(x - dx, y - dy), (x + dx, y + dy)], fill=col, width=max(2, int(size * 0.18)))
    return img


def _organic(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (w, h), pal.main)
    d = ImageDraw.Draw(img)
    n = _count(c, 2, 450)
    for i in range(n):
        r = max(w, h) * (0.32 * (1 - c) ** 2 + 0.022) * rng.uniform(0.5, 1.0) * (1 - 0.4 * i / max(n, 1))
        d.polygon(
            _blob(rng.uniform(0, w), rng.uniform(0, h), r, rng),
            fill=pal.pick(avoid=pal.main if i < 2 else None),
        )
    return img


def _landscape(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    sky_top, sky_low = shade(pal.main, 0.35), pal.main
    t = np.linspace(0, 1, h)[:, None, None]
    sky = (np.asarray(sky_top) * (1 - t) + np.asarray(sky_low) * t).astype(np.uint8)
    img = Image.fromarray(np.broadcast_to(sky, (h, w, 3)).copy())
    d = ImageDraw.Draw(img)
    if rng.random() < 0.6:
        r = rng.uniform(0.05, 0.12) * w
        x, y = rng.uniform(0.15, 0.85) * w, rng.uniform(0.12, 0.3) * h
        d.ellipse([x - r, y - r, x + r, y + r], fill=shade(pal.pick(avoid=pal.main), 0.3))
    layers = _count(c, 2, 9, power=1.0)
    xs = np.linspace(0, w, 96)
    for k in range(layers):
        base = h * (0.42 + 0.5 * k / layers)
        ys = base + sum(
            h
            * rng.uniform(0.01, 0.06)
            / (j + 1)
            * np.sin(xs / w * 2 * np.pi * rng.uniform(0.5, 2.5) * (j + 1) + rng.uniform(0, 6))
            for j in range(3)
        )
        poly = [(0.0, float(h)), *zip(xs.tolist(), ys.tolist(), strict=True), (float(w), float(h))]
        d.polygon(poly, fill=shade(pal.pick(), -0.08 * k))
    n = _count(c, 0, 320)
    for _ in range(n):  # trees, rocks, houses: small shapes below the horizon
        x, y = rng.uniform(0, w), rng.uniform(0.5, 1.0) * h
        s = max(w, h) * rng.uniform(0.008, 0.04) * (1.2 - c)
        col = pal.pick()
        if rng.random() < 0.5:
            d.polygon([(x, y - 2 * s), (x - s * 0.7, y), (x + s * 0.7, y)], fill=col)
        else:
            d.ellipse([x - s, y - s * 0.6, x + s, y + s * 0.6], fill=col)
    return img


def _radial(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> np.ndarray:
    cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - cx, yy - cy) / max(w, h)
    theta = np.arctan2(yy - cy, xx - cx)
    rings = _count(c, 2, 40, power=1.6)
    sectors = 0 if rng.random() < 0.35 else _count(c, 4, 64, power=1.6) // 2 * 2
    ring_ix = np.floor(r * rings * 1.6 + 0.3 * np.sin(theta * rng.integers(2, 6))).astype(np.int32)
    idx = ring_ix + (np.floor((theta + np.pi) / (2 * np.pi) * sectors).astype(np.int32) if sectors else 0)
    table = np.array([pal.pick() for _ in range(16)], dtype=np.uint8)
    table[0] = pal.main
    out = table[np.mod(idx, 16)]
    return out


def _cuts(parts: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted cut positions 0..length for `parts` cells: random or even, by a coin."""
    inner = (
        rng.uniform(0.05, 0.95, parts - 1) * length
        if rng.random() < 0.5
        else np.linspace(0, length, parts + 1)[1:-1]
    )
    return np.sort(np.concatenate([[0, length], inner]))


def _grid(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (w, h), pal.main)
    d = ImageDraw.Draw(img)
    cols, rows = _count(c, 2, 36, power=1.7), _count(c, 2, 36, power=1.7)
    xs, ys = _cuts(cols, w, rng), _cuts(rows, h, rng)
    line = shade(pal.colors[int(np.argmin([sum(x) for x in pal.colors]))], -0.6)
    gap = max(1, int(max(w, h) * 0.012 * (1 - c))) if rng.random() < 0.6 else 0
    for i in range(len(xs) - 1):
        for j in range(len(ys) - 1):
            col = pal.pick()
            x0, x1 = xs[i] + gap, max(xs[i] + gap, xs[i + 1] - gap)
            d.rectangle([x0, ys[j] + gap, x1, max(ys[j] + gap, ys[j + 1] - gap)], fill=col)
            if c > 0.45 and rng.random() < c:  # motifs inside cells
                cx, cy = (xs[i] + xs[i + 1]) / 2, (ys[j] + ys[j + 1]) / 2
                s = min(xs[i + 1] - xs[i], ys[j + 1] - ys[j]) * 0.3
                d.ellipse([cx - s, cy - s, cx + s, cy + s], fill=pal.pick(avoid=col))
    if gap:
        # The cell gaps show the ground; paint them a dark line colour, as in De Stijl.
        arr = np.asarray(img).copy()
        mask = np.zeros((h, w), dtype=bool)
        for x in xs[1:-1]:
            mask[:, max(0, int(x) - gap) : int(x) + gap] = True
        for y in ys[1:-1]:
            mask[max(0, int(y) - gap) : int(y) + gap, :] = True
        arr[mask] = line
        return Image.fromarray(arr)
    return img


def _portrait(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (w, h), pal.main)
    d = ImageDraw.Draw(img)
    n = _count(c, 0, 200)
    for _ in range(n):  # background pattern
        x, y, s = rng.uniform(0, w), rng.uniform(0, h), max(w, h) * rng.uniform(0.01, 0.06) * (1.2 - c)
        d.ellipse([x - s, y - s, x + s, y + s], fill=pal.pick(avoid=pal.main))
    skin, hair, cloth = pal.pick(avoid=pal.main), pal.pick(avoid=pal.main), pal.pick(avoid=pal.main)
    cx = w * rng.uniform(0.45, 0.55)
    d.ellipse([cx - 0.34 * w, 0.7 * h, cx + 0.34 * w, 1.35 * h], fill=cloth)  # shoulders
    d.rectangle([cx - 0.06 * w, 0.5 * h, cx + 0.06 * w, 0.75 * h], fill=skin)  # neck
    d.ellipse([cx - 0.2 * w, 0.12 * h, cx + 0.2 * w, 0.52 * h], fill=hair)  # hair
    d.ellipse([cx - 0.15 * w, 0.2 * h, cx + 0.15 * w, 0.6 * h], fill=skin)  # face
    if c > 0.25:
        eye = shade(hair, -0.4)
        for sx in (-1, 1):
            ex = cx + sx * 0.06 * w
            d.ellipse([ex - 0.025 * w, 0.36 * h, ex + 0.025 * w, 0.39 * h], fill=eye)
        d.ellipse([cx - 0.04 * w, 0.49 * h, cx + 0.04 * w, 0.51 * h], fill=shade(skin, -0.35))
    for _ in range(_count(c, 0, 120)):  # hair strands and garment pattern
        x0, y0 = cx + rng.uniform(-0.2, 0.2) * w, rng.uniform(0.12, 0.3) * h
        d.line(
            [(x0, y0), (x0 + rng.uniform(-0.05, 0.05) * w, y0 + rng.uniform(0.05, 0.2) * h)],
            fill=shade(hair, rng.uniform(-0.4, 0.3)),
            width=2,
        )
    return img


def _abstract(w: int, h: int, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    img = Image.new("RGB", (w, h), pal.main)
    d = ImageDraw.Draw(img)
    n = _count(c, 2, 220)
    for _ in range(n):  # gestural strokes: smooth random walks
        steps = int(rng.integers(6, 18))
        ang = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.35, steps))
        step = max(w, h) * rng.uniform(0.02, 0.06)
        x = rng.uniform(0, w) + np.cumsum(np.cos(ang) * step)
        y = rng.uniform(0, h) + np.cumsum(np.sin(ang) * step)
        width = max(2, int(max(w, h) * (0.07 * (1 - c) ** 1.5 + 0.006) * rng.uniform(0.5, 1.5)))
        d.line(
            list(zip(x.tolist(), y.tolist(), strict=True)),
            fill=pal.pick(avoid=pal.main),
            width=width,
            joint="curve",
        )
    for _ in range(_count(c, 0, 150)):  # splatter
        x, y, s = rng.uniform(0, w), rng.uniform(0, h), max(w, h) * rng.uniform(0.003, 0.015)
        d.ellipse([x - s, y - s, x + s, y + s], fill=pal.pick())
    return img


COMPOSERS: dict[str, Callable[[int, int, Palette, float, np.random.Generator], Image.Image | np.ndarray]] = {
    "geometric": _geometric,
    "organic": _organic,
    "landscape": _landscape,
    "radial": _radial,
    "grid": _grid,
    "portrait-like": _portrait,
    "abstract": _abstract,
}


def compose(
    family: str, size: tuple[int, int], pal: Palette, complexity: float, rng: np.random.Generator
) -> np.ndarray:
    """Draw the family's composition: an (h, w, 3) uint8 array."""
    w, h = size
    c = float(np.clip(complexity, 0.0, 1.0))
    out = COMPOSERS[family](w, h, pal, c, rng)
    img = out if isinstance(out, Image.Image) else Image.fromarray(out)
    if c > 0.45:
        img = _marks(img, pal, c, rng)
    return np.asarray(img, dtype=np.uint8)


def smooth_noise(h: int, w: int, scale: int, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean noise in -1..1 with features about `scale` px across (upsampled random field)."""
    sh, sw = max(2, h // max(scale, 1) + 2), max(2, w // max(scale, 1) + 2)
    small = Image.fromarray((rng.random((sh, sw)) * 255).astype(np.uint8))
    big = np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), dtype=np.float32) / 255.0
    return (big - 0.5) * 2


def _marks(img: Image.Image, pal: Palette, c: float, rng: np.random.Generator) -> Image.Image:
    """Fine detail over any composition: small speckles in lighter and darker palette colours,
    covering more of the canvas as c grows (vectorised: a thresholded fine noise field)."""
    w, h = img.size
    k = max(w, h) / 512.0
    cover = 0.55 * (c - 0.45) / 0.55
    fine = smooth_noise(h, w, max(2, round(5 * k)), rng)
    mask = fine > np.quantile(fine[::7, ::7], 1.0 - cover)
    # A shade near an avoided colour falls back to the palette colour it came from.
    shades = [(shade(col, f), col) for col in pal.colors for f in (0.5, -0.5)]
    table = np.array([s if pal.allowed(s) else col for s, col in shades], dtype=np.uint8)
    weights = np.repeat(pal.p, 2) / 2
    pick = np.searchsorted(np.cumsum(weights), (smooth_noise(h, w, int(30 * k), rng) + 1) / 2 * 0.999)
    arr = np.asarray(img).copy()
    arr[mask] = table[np.minimum(pick, len(table) - 1)[mask]]
    return Image.fromarray(arr)
