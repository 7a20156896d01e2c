"""Image measurements: palette, saturation, lightness, detail, texture and layout.

Everything the `features` assessor knows about an image comes from here, and the
`painter` generator checks its own output with the same functions, so what the painter
means by "Muted" or "Fine" is exactly what the assessor measures. Quantities named in
`agentpref.vocabulary` (HSV saturation, HSV value, edge density) follow its definitions
to the letter; the rest (texture and layout statistics) are defined here.

All work happens on a copy resized to 256 px on the long side, so any input size costs
about the same (~20-30 ms). Results are cached per image content hash (`measure_ref`).

>>> from PIL import Image
>>> m = measure(Image.new("RGB", (64, 32), (0, 128, 128)))
>>> round(m.saturation_mean, 2), m.edge_density, m.palette[0].term
(1.0, 0.0, 'Teal')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from agentpref.lru import LRU
from agentpref.vocabulary import load_vocabulary, srgb_to_lab

if TYPE_CHECKING:
    from agentpref.images.refs import ImageRef

ANALYSIS_SIDE = 256
"""Long side (px) every measurement works at; the vocabulary's edge density is defined at this size."""
EDGE_THRESHOLD = 0.1
PALETTE_SIZE = 5
ORIENTATION_BINS = 12

# Texture and layout features: the features assessor recognises a medium and a composition
# from them (their prototypes are in agentpref.assessors.features.distances).
TEXTURE_FEATURES: tuple[str, ...] = (
    "flat_fraction",
    "grain",
    "soft_fraction",
    "orientation_entropy",
    "axis_fraction",
    "dominant_orientation",
    "blockiness",
    "dark_line_fraction",
    "hf_ratio",
    "paper_fraction",
)
LAYOUT_FEATURES: tuple[str, ...] = (
    "band_ratio",
    "radial_ratio",
    "center_contrast",
    "symmetry",
    "region_scale",
)


@dataclass(frozen=True)
class PaletteColor:
    """One dominant colour: mean sRGB of its pixels, CIELAB, share of the image, nearest term."""

    rgb: tuple[int, int, int]
    lab: tuple[float, float, float]
    weight: float
    term: str
    saturation: float


@dataclass(frozen=True)
class Measurements:
    """What `measure` found in one image. Plain numbers and names; `to_dict()` for JSON."""

    width: int
    height: int
    palette: tuple[PaletteColor, ...]
    saturation_mean: float
    saturation_std: float
    lightness_mean: float
    lightness_std: float
    edge_density: float
    hf_ratio: float
    texture: dict[str, float] = field(default_factory=dict)
    layout: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def model_dump(self) -> dict[str, Any]:
        """Same as `to_dict` (the name pydantic users reach for)."""
        return self.to_dict()

    def palette_lab(self) -> tuple[np.ndarray, np.ndarray]:
        """(k, 3) CIELAB centres and their (k,) weights summing to 1."""
        return np.array([p.lab for p in self.palette]), np.array([p.weight for p in self.palette])

    def color_terms(self, limit: int = 3, min_weight: float = 0.08) -> list[str]:
        """Nearest vocabulary colours of the main palette entries, heaviest first, without repeats."""
        names: dict[str, float] = {}
        for p in self.palette:
            if p.weight >= min_weight:
                names[p.term] = names.get(p.term, 0.0) + p.weight
        return [n for n, _ in sorted(names.items(), key=lambda kv: -kv[1])][:limit]


# -- pixel-level helpers (shared with the painter) ----------------------------------------


def analysis_copy(image: Image.Image, side: int = ANALYSIS_SIDE) -> Image.Image:
    """RGB copy resized (bilinear) so the long side is `side` px, as the vocabulary defines."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    w, h = rgb.size
    scale = side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == rgb.size:
        return rgb.copy()
    # reducing_gap keeps big inputs fast (a box pre-reduction, then bilinear) at no visible cost.
    return rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0 if scale < 0.34 else None)


def hsv_sv(rgb01: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """HSV saturation and value of an (..., 3) array in 0..1, as the vocabulary defines them."""
    mx = rgb01.max(axis=-1)
    mn = rgb01.min(axis=-1)
    s = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-12), 0.0)
    return s, mx


def sobel(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gx, gy of a 2-D array (edge-replicated), each kernel divided by 8."""
    p = np.pad(gray, 1, mode="edge")
    left, right = p[:, :-2], p[:, 2:]
    top, bottom = p[:-2, :], p[2:, :]
    gx = ((right[:-2] + 2 * right[1:-1] + right[2:]) - (left[:-2] + 2 * left[1:-1] + left[2:])) / 8.0
    gy = (
        (bottom[:, :-2] + 2 * bottom[:, 1:-1] + bottom[:, 2:]) - (top[:, :-2] + 2 * top[:, 1:-1] + top[:, 2:])
    ) / 8.0
    return gx, gy


def gray01(small: Image.Image) -> np.ndarray:
    return np.asarray(small.convert("L"), dtype=np.float32) / 255.0


def edge_density(image: Image.Image) -> float:
    """The vocabulary's edge density: fraction of Sobel magnitudes > 0.1 at 256 px long side."""
    gx, gy = sobel(gray01(analysis_copy(image)))
    return float(np.mean(np.hypot(gx, gy) > EDGE_THRESHOLD))


def _box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window (edge-replicated), via cumulative sums."""
    p = np.pad(a, r, mode="edge").astype(np.float64)
    c = np.cumsum(np.cumsum(p, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    n = 2 * r + 1
    s = c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]
    return (s / (n * n)).astype(np.float32)


# -- the parts of a measurement ------------------------------------------------------------


def _kmeans_palette(rgb: np.ndarray, k: int = PALETTE_SIZE) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Deterministic k-means in CIELAB -> [(mean sRGB 0-255, lab, weight)], heaviest first.

    Pixels are first binned to a 4-bit-per-channel colour histogram, so k-means runs on at
    most 4096 weighted points; initial centres are chosen by weighted farthest-point
    selection from the most common colour (no randomness).
    """
    q = (rgb >> 4).astype(np.int32)
    codes = (q[..., 0] << 8) | (q[..., 1] << 4) | q[..., 2]
    codes = codes.ravel()
    counts = np.bincount(codes, minlength=4096).astype(np.float64)
    sums = np.stack([np.bincount(codes, rgb[..., c].ravel(), minlength=4096) for c in range(3)], -1)
    used = np.nonzero(counts)[0]
    w = counts[used]
    mean_rgb = sums[used] / w[:, None]
    lab = srgb_to_lab(mean_rgb)
    # Farthest-point initialisation weighted by mass, so a few stray pixels never seed a cluster.
    centers = [lab[int(np.argmax(w))]]
    d2 = ((lab - centers[0]) ** 2).sum(1)
    for _ in range(min(k, len(used)) - 1):
        i = int(np.argmax(d2 * np.sqrt(w)))
        if d2[i] <= 1e-9:
            break
        centers.append(lab[i])
        d2 = np.minimum(d2, ((lab - lab[i]) ** 2).sum(1))
    c = np.array(centers)
    for _ in range(12):
        assign = np.argmin(((lab[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
        new = np.array(
            [
                np.average(lab[assign == j], axis=0, weights=w[assign == j]) if np.any(assign == j) else c[j]
                for j in range(len(c))
            ]
        )
        if np.allclose(new, c, atol=0.05):
            break
        c = new
    assign = np.argmin(((lab[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
    total = w.sum()
    out = []
    for j in range(len(c)):
        mask = assign == j
        if not np.any(mask):
            continue
        wj = w[mask]
        out.append((np.average(mean_rgb[mask], axis=0, weights=wj), c[j], float(wj.sum() / total)))
    return sorted(out, key=lambda t: -t[2])


def _palette(rgb: np.ndarray) -> tuple[PaletteColor, ...]:
    vocab = load_vocabulary()
    entries = []
    for mean_rgb, lab, weight in _kmeans_palette(rgb):
        s, _ = hsv_sv(mean_rgb / 255.0)
        rgb_int = tuple(round(x) for x in mean_rgb)
        entries.append(
            PaletteColor(
                rgb=(rgb_int[0], rgb_int[1], rgb_int[2]),
                lab=(round(float(lab[0]), 3), round(float(lab[1]), 3), round(float(lab[2]), 3)),
                weight=round(weight, 5),
                term=vocab.nearest_color(mean_rgb).name,
                saturation=round(float(s), 4),
            )
        )
    return tuple(entries)


def _hf_ratio(gray: np.ndarray) -> float:
    """Share of spectral power above a quarter of the sampling rate (Hann-windowed, DC removed)."""
    h, w = gray.shape
    win = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    g = (gray - gray.mean()) * win
    power = np.abs(np.fft.rfft2(g)) ** 2
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    radius = np.hypot(fy, fx)
    total = power.sum()
    return float(power[radius > 0.25].sum() / total) if total > 1e-12 else 0.0


def _comb_strength(profile: np.ndarray) -> float:
    """How periodic a 1-D edge profile is: the strongest non-DC spectral peak over the mean power."""
    p = profile - profile.mean()
    if p.std() < 1e-6 or len(p) < 16:
        return 0.0
    power = np.abs(np.fft.rfft(p * np.hanning(len(p)))) ** 2
    band = power[4 : len(power) - 1]  # periods from 2 px up to len/4 px
    return float(np.log1p(band.max() / max(power[1:].mean(), 1e-12)))


def _texture(
    rgb01: np.ndarray,
    gray: np.ndarray,
    mag: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    s: np.ndarray,
    v: np.ndarray,
    hf: float,
) -> dict[str, float]:
    strong = mag > EDGE_THRESHOLD
    weak = mag <= EDGE_THRESHOLD
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    # Bins centred on 0 deg, 15 deg, ...: bins 0 and 6 are the horizontal/vertical gradients.
    bins = np.floor((angle + np.pi / ORIENTATION_BINS / 2) / (np.pi / ORIENTATION_BINS)).astype(int)
    bins %= ORIENTATION_BINS
    hist = np.bincount(bins[strong], weights=mag[strong], minlength=ORIENTATION_BINS)
    if hist.sum() > 1e-9:
        share = hist / hist.sum()
        nz = share[share > 0]
        entropy = float(-(nz * np.log(nz)).sum() / np.log(ORIENTATION_BINS))
        axis = float(share[0] + share[ORIENTATION_BINS // 2])
        dominant = float(share.max())
    else:
        entropy, axis, dominant = 1.0, 0.0, 0.0
    # Grain: the noise floor away from edges (paper, film, brush relief, spray).
    lap = np.abs(gray - _box(gray, 1))
    grain = float(np.median(lap[weak])) if np.any(weak) else float(np.median(lap))
    # Dark thin lines (hatching, ink): pixels much darker than their 5x5 neighbourhood.
    dark_line = float(np.mean(gray < _box(gray, 2) - 0.08))
    dx = np.abs(np.diff(gray, axis=1)) > 0.03
    dy = np.abs(np.diff(gray, axis=0)) > 0.03
    blockiness = 0.5 * (_comb_strength(dx.mean(axis=0)) + _comb_strength(dy.mean(axis=1)))
    paper = float(np.mean((v > 0.88) & (s < 0.12)))
    return {
        "flat_fraction": float(np.mean(mag < 0.004)),
        "grain": grain,
        "soft_fraction": float(np.mean((mag > 0.01) & weak)),
        "orientation_entropy": entropy,
        "axis_fraction": axis,
        "dominant_orientation": dominant,
        "blockiness": blockiness,
        "dark_line_fraction": dark_line,
        "hf_ratio": hf,
        "paper_fraction": paper,
    }


def _layout(lab: np.ndarray, mag: np.ndarray) -> dict[str, float]:
    """Composition statistics: horizontal banding, radial structure, a central figure, symmetry."""
    h, w, _ = lab.shape
    rows = lab.mean(axis=1)
    cols = lab.mean(axis=0)
    vr, vc = float(rows.var(axis=0).sum()), float(cols.var(axis=0).sum())
    band = vr / (vr + vc) if vr + vc > 1e-6 else 0.5
    yy, xx = np.mgrid[0:h, 0:w]
    dy, dx = (yy - (h - 1) / 2) / (h / 2), (xx - (w - 1) / 2) / (w / 2)
    r = np.hypot(dx, dy)
    rbin = np.minimum((r / 1.0 * 8).astype(int), 8)
    abin = (np.mod(np.arctan2(dy, dx), 2 * np.pi) / (2 * np.pi) * 8).astype(int) % 8
    flat = lab.reshape(-1, 3)

    def between(bin_index: np.ndarray, n: int) -> float:
        idx = bin_index.ravel()
        cnt = np.bincount(idx, minlength=n).astype(np.float64)
        means = np.stack([np.bincount(idx, flat[:, c], minlength=n) for c in range(3)], -1)
        ok = cnt > 0
        m = means[ok] / cnt[ok, None]
        return float((((m - flat.mean(0)) ** 2).sum(1) * cnt[ok]).sum() / cnt.sum())

    var_r, var_a = between(rbin, 9), between(abin, 8)
    radial = var_r / (var_r + var_a) if var_r + var_a > 1e-6 else 0.5
    center = r < 0.45
    border = r > 0.85
    contrast = float(np.linalg.norm(flat[center.ravel()].mean(0) - flat[border.ravel()].mean(0))) / 100.0
    mirror = float(np.abs(lab - lab[:, ::-1]).mean()) / 50.0
    # Typical region size: edge pixels per image side; big flat regions -> small value.
    region = float(np.sqrt(np.mean(mag > EDGE_THRESHOLD)))
    return {
        "band_ratio": band,
        "radial_ratio": radial,
        "center_contrast": min(contrast, 1.5),
        "symmetry": max(0.0, 1.0 - mirror),
        "region_scale": region,
    }


def mean_saturation(image: Image.Image) -> float:
    """The vocabulary's saturation: mean HSV saturation at 256 px long side (`saturation_mean`)."""
    s, _ = hsv_sv(np.asarray(analysis_copy(image), dtype=np.float32) / 255.0)
    return float(s.mean())


def measure(image: Image.Image) -> Measurements:
    """Measure one picture (any size, any mode). Deterministic: same pixels, same numbers."""
    small = analysis_copy(image)
    rgb = np.asarray(small, dtype=np.uint8)
    rgb01 = rgb.astype(np.float32) / 255.0
    s, v = hsv_sv(rgb01)
    gray = gray01(small)
    gx, gy = sobel(gray)
    mag = np.hypot(gx, gy)
    hf = _hf_ratio(gray)
    # Layout works on a 64 px thumbnail: composition is coarse, and this keeps it cheap.
    thumb = np.asarray(
        small.resize((max(8, small.width // 4), max(8, small.height // 4)), Image.Resampling.BOX)
    )
    thumb_lab = srgb_to_lab(thumb.astype(np.float64))
    return Measurements(
        width=image.width,
        height=image.height,
        palette=_palette(rgb),
        saturation_mean=round(float(s.mean()), 5),
        saturation_std=round(float(s.std()), 5),
        lightness_mean=round(float(v.mean()), 5),
        lightness_std=round(float(v.std()), 5),
        edge_density=round(float(np.mean(mag > EDGE_THRESHOLD)), 5),
        hf_ratio=round(hf, 5),
        texture={k: round(x, 5) for k, x in _texture(rgb01, gray, mag, gx, gy, s, v, hf).items()},
        layout={k: round(x, 5) for k, x in _layout(thumb_lab, _thumb_mag(thumb)).items()},
    )


def _thumb_mag(thumb: np.ndarray) -> np.ndarray:
    gx, gy = sobel(thumb.astype(np.float32).mean(-1) / 255.0)
    return np.hypot(gx, gy)


# -- cache ----------------------------------------------------------------------------------


class MeasurementCache:
    """Measurements by image content hash (sha256), least recently used dropped first, thread-safe.

    `calls` counts real measurements (the misses) and `hits` the reuses, so callers and
    tests can see reuse.
    """

    def __init__(
        self, maxsize: int = 512, measure_fn: Callable[[Image.Image], Measurements] = measure
    ) -> None:
        self._measure = measure_fn
        self._items: LRU[str, Measurements] = LRU(maxsize)

    @property
    def calls(self) -> int:
        return self._items.misses

    @property
    def hits(self) -> int:
        return self._items.hits

    def get(self, ref: ImageRef) -> Measurements:
        found = self._items.get(ref.sha256)
        if found is None:
            found = self._measure(ref.image())
            self._items.put(ref.sha256, found)
        return found

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
