"""The painter's treatments: what an Artistic Medium's `treatment` hint does to a flat drawing.

Each treatment turns the composition (uint8 RGB) into float RGB in 0..1 with the marks the
features assessor's texture statistics look for: flat (hard edges, no grain), watercolor
(soft bleeding edges, pooled pigment, paper grain), impasto (thick strokes with relief
shading), pixel (nearest-neighbour blocks), hatching (parallel line strokes on paper),
airbrush (smooth gradients, faint spray), photographic (soft focus, light falloff, film
grain), ink (bold dark outlines, flat fills) and mosaic (tiles with grout lines). The
grain itself (`surface`) is laid on after the colours are toned.
All are vectorised numpy or PIL filters: no per-pixel Python loops.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from agentpref.generators.painter.compose import smooth_noise
from agentpref.images.pixels import ANALYSIS_SIDE

PAPER = np.array([0.96, 0.95, 0.91], dtype=np.float32)


def _img(a: np.ndarray) -> Image.Image:
    if a.dtype != np.uint8:
        a = np.clip(a * 255 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)


def _f(img: Image.Image) -> np.ndarray:
    a = np.asarray(img, dtype=np.float32) / 255.0
    return a[..., None] if a.ndim == 2 else a


def blur(a: np.ndarray, radius: float) -> np.ndarray:
    return _f(_img(a).filter(ImageFilter.GaussianBlur(radius))) if radius > 0 else a


def _scale(h: int, w: int) -> float:
    """Size factor relative to the 512 px canvas the treatments are tuned at."""
    return max(h, w) / 512.0


def _flat(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    return base.astype(np.float32) / 255.0


def _watercolor(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    pigment = base.astype(np.float32) / 255.0
    # Washes always bleed (a floor on the blur), however detailed the drawing.
    soft = blur(pigment, (2.8 - 1.4 * c) * k)
    # Pigment pools at the edge of every wash, however close its neighbour's colour: a dark
    # rim along each boundary (this is also what gives a pale watercolor its edges).
    ring = np.clip(np.abs(pigment - blur(pigment, 1.5 * k)).sum(-1, keepdims=True) * 10, 0, 1)
    ring = blur(ring, 0.8 * k)
    bloom = 1.0 + 0.15 * smooth_noise(h, w, int(40 * k), rng)[..., None]
    # The paper shows where the wash runs thin: soft-edged gaps of bare paper.
    gaps = np.clip((smooth_noise(h, w, int(70 * k), rng) - 0.45) * 4, 0, 1)[..., None]
    density = np.clip(0.85 * bloom * (1 - gaps), 0, 1)
    wash = PAPER * (1 - density * (1 - soft))
    return np.clip(wash * (1 - 0.45 * ring), 0, 1)


def _impasto(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    canvas = _img(blur(base.astype(np.float32) / 255.0, 2 * k))
    height = Image.new("L", (w, h), 128)
    dc, dh = ImageDraw.Draw(canvas), ImageDraw.Draw(height)
    n = int((500 + 1500 * c) * k * k)
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    flow = smooth_noise(h, w, int(120 * k), rng) * np.pi
    length = (40 - 26 * c) * k
    width = max(2, int((18 - 11 * c) * k))
    px = np.clip(xs.astype(int), 0, w - 1)
    py = np.clip(ys.astype(int), 0, h - 1)
    ang = flow[py, px] + rng.normal(0, 0.25, n)
    jitter = rng.normal(0, 10, (n, 3))
    for i in range(n):
        col = tuple(int(np.clip(v, 0, 255)) for v in base[py[i], px[i]] + jitter[i])
        dx, dy = np.cos(ang[i]) * length / 2, np.sin(ang[i]) * length / 2
        seg = [(xs[i] - dx, ys[i] - dy), (xs[i] + dx, ys[i] + dy)]
        dc.line(seg, fill=col, width=width)
        dh.line(seg, fill=int(rng.integers(60, 255)), width=width)
    hmap = np.asarray(height.filter(ImageFilter.GaussianBlur(1.2 * k)), dtype=np.float32) / 255.0
    # Relief: light from the upper left on the paint's height field.
    relief = np.zeros_like(hmap)
    relief[1:-1, 1:-1] = (hmap[:-2, :-2] - hmap[2:, 2:]) * (0.6 + 2.4 * c)
    return np.clip(_f(canvas) * (1 + relief[..., None]), 0, 1)


def _pixel(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    block = max(2, round((36 - 30 * c) * _scale(h, w)))
    small = Image.fromarray(base).resize(
        (max(1, -(-w // block)), max(1, -(-h // block))), Image.Resampling.BOX
    )
    # Few colours, as in sprites: quantise the small image to a 16-colour palette.
    small = small.quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert(
        "RGB"
    )
    big = small.resize((small.width * block, small.height * block), Image.Resampling.NEAREST)
    return _f(big)[:h, :w]


def _hatching(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    col = base.astype(np.float32) / 255.0
    tone = 1.0 - col @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    tone = np.clip(0.15 + 0.85 * tone + 0.1 * smooth_noise(h, w, int(60 * k), rng), 0, 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    spacing = (24 - 19 * c) * k
    ink = np.zeros((h, w), dtype=bool)
    a0 = rng.uniform(0.5, 1.1)
    # Low detail: only the darkest ~20% is hatched; high detail: nearly everything.
    t0 = float(np.quantile(tone[::8, ::8], 0.8 - 0.75 * c))
    layers = ((a0, t0), (a0 + np.pi / 2, t0 + 0.3), (a0 + np.pi / 4, t0 + 0.5))
    for layer, (angle, threshold) in enumerate(layers):
        u = xx * np.cos(angle) + yy * np.sin(angle) + 3 * smooth_noise(h, w, int(50 * k), rng) * (layer + 1)
        lines = np.mod(u, spacing) < max(1.5, 1.6 * k)
        ink |= lines & (tone > threshold)
    stroke = np.clip(col * 0.5, 0, 1)
    paper = PAPER * (1 + 0.02 * smooth_noise(h, w, 3, rng)[..., None])
    return np.where(ink[..., None], stroke, paper).astype(np.float32)


def _airbrush(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    a = blur(base.astype(np.float32) / 255.0, (9 - 7.5 * c) * k)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 + 0.12 * ((w - xx) / w - 0.5) + 0.12 * ((h - yy) / h - 0.5)
    return np.clip(a * light[..., None], 0, 1)


def _photographic(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    a = blur(base.astype(np.float32) / 255.0, (2.6 - 2.0 * c) * k)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx / w - 0.5, yy / h - 0.5)
    vignette = 1.0 - 0.35 * r**2
    light = 1.0 + 0.15 * smooth_noise(h, w, int(160 * k), rng)
    return np.clip(a * (vignette * light)[..., None], 0, 1)


def _ink(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    col = base.astype(np.float32) / 255.0
    # Flat fills lightened toward paper, with bold dark outlines at every colour boundary.
    fill = PAPER * 0.45 + col * 0.55
    diff = np.zeros((h, w), dtype=bool)
    diff[:, 1:] |= np.abs(np.diff(col, axis=1)).sum(-1) > 0.15
    diff[1:, :] |= np.abs(np.diff(col, axis=0)).sum(-1) > 0.15
    # Outlines thin out as detail grows, or dense drawings would drown in solid ink.
    width = max(1, round((7 - 6 * c) * k)) | 1
    outline = (
        np.asarray(Image.fromarray(diff.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(width))) > 0
    )
    inkc = np.array([0.07, 0.06, 0.06], dtype=np.float32)
    return np.where(outline[..., None], inkc, fill).astype(np.float32)


def _mosaic(base: np.ndarray, c: float, rng: np.random.Generator) -> np.ndarray:
    h, w, _ = base.shape
    k = _scale(h, w)
    # Tiles are found on a half-resolution grid (Voronoi cells of jittered seeds) and
    # blown up: tile edges stay crisp and the cost is a quarter.
    hh, hw = (h + 1) // 2, (w + 1) // 2
    cell = max(3.0, (30 - 26 * c) * k)
    gh, gw = int(np.ceil(hh / cell)) + 1, int(np.ceil(hw / cell)) + 1
    sy = (np.arange(gh)[:, None] + rng.uniform(0.1, 0.9, (gh, gw))) * cell
    sx = (np.arange(gw)[None, :] + rng.uniform(0.1, 0.9, (gh, gw))) * cell
    yy, xx = np.mgrid[0:hh, 0:hw].astype(np.float32)
    gy, gx = (yy // cell).astype(np.int32), (xx // cell).astype(np.int32)
    best = np.full((hh, hw), np.inf, dtype=np.float32)
    owner = np.zeros((hh, hw), dtype=np.int32)
    for oy in (-1, 0, 1):  # the nearest seed lies in this or a neighbouring grid cell
        for ox in (-1, 0, 1):
            cy, cx = np.clip(gy + oy, 0, gh - 1), np.clip(gx + ox, 0, gw - 1)
            d = (sy[cy, cx] - yy) ** 2 + (sx[cy, cx] - xx) ** 2
            closer = d < best
            owner = np.where(closer, cy * gw + cx, owner)
            best = np.minimum(d, best)
    owner = np.repeat(np.repeat(owner, 2, axis=0), 2, axis=1)[:h, :w]
    seed_y = np.clip((sy * 2).astype(int), 0, h - 1).ravel()
    seed_x = np.clip((sx * 2).astype(int), 0, w - 1).ravel()
    tile = base[seed_y, seed_x].astype(np.float32) / 255.0
    tile = np.clip(tile * rng.uniform(0.92, 1.08, (len(tile), 1)), 0, 1)
    out = tile[owner]
    edge = np.zeros((h, w), dtype=bool)
    edge[:, 1:] |= owner[:, 1:] != owner[:, :-1]
    edge[1:, :] |= owner[1:, :] != owner[:-1, :]
    width = max(1, round(1.5 * k)) * 2 + 1
    joints = np.asarray(Image.fromarray(edge.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(width))) > 0
    # Low detail: grout close to the tile colour (few hard edges); high detail: crisp grout.
    grout = 0.25 + 0.75 * c
    grouted = out * (1 - grout) + np.float32(0.8) * PAPER * grout
    return np.where(joints[..., None], grouted, out).astype(np.float32)


TREATMENTS: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "flat": _flat,
    "watercolor": _watercolor,
    "impasto": _impasto,
    "pixel": _pixel,
    "hatching": _hatching,
    "airbrush": _airbrush,
    "photographic": _photographic,
    "ink": _ink,
    "mosaic": _mosaic,
}


def treat(treatment: str, base: np.ndarray, complexity: float, rng: np.random.Generator) -> np.ndarray:
    """Apply one treatment: uint8 (h, w, 3) -> float32 (h, w, 3) in 0..1."""
    return TREATMENTS[treatment](base, float(np.clip(complexity, 0, 1)), rng)


# Surface grain per treatment: (std of grey-level noise at the 256 px analysis scale).
# It is laid on after saturation and lightness are set, so a dark or vivid picture keeps
# its medium's surface: film grain, paper tooth, the faint spray of an airbrush. Flat
# media (flat, ink, pixel, mosaic) have none, which is what tells them apart.
GRAIN: dict[str, float] = {
    "airbrush": 0.006,
    "watercolor": 0.02,
    "photographic": 0.04,
    "hatching": 0.012,
    "impasto": 0.015,
}


def surface(treatment: str, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The medium's surface grain on a finished float image (grey noise, one sample per
    analysis pixel, so its measured amplitude does not depend on the canvas size)."""
    sigma = GRAIN.get(treatment, 0.0)
    if sigma <= 0:
        return rgb
    h, w, _ = rgb.shape
    step = max(1, round(max(h, w) / ANALYSIS_SIDE))
    noise = rng.standard_normal((-(-h // step), -(-w // step))).astype(np.float32) * sigma
    noise = np.repeat(np.repeat(noise, step, axis=0), step, axis=1)[:h, :w]
    return np.clip(rgb + noise[..., None], 0.0, 1.0)
