"""Image measurements: palette, saturation, lightness, detail, texture and layout.

Everything the `features` assessor knows about an image comes from here, and the
`painter` generator checks its own output with the same functions, so what the painter
means by "Muted" or "Fine" is exactly what the assessor measures. Quantities named in
`agentpref.vocabulary` (HSV saturation, HSV value, edge density) follow its definitions
to the letter (`images.pixels`); texture statistics are defined here, layout statistics in
`images.composition`.

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

from agentpref.images.composition import layout
from agentpref.images.pixels import EDGE_THRESHOLD, analysis_copy, box, gray01, hsv_sv, sobel
from agentpref.lru import LRU
from agentpref.vocabulary import load_vocabulary, srgb_to_lab

if TYPE_CHECKING:
    from agentpref.images.refs import ImageRef

PALETTE_SIZE = 5
ORIENTATION_BINS = 12

# Texture features: the features assessor recognises a medium from them (its prototypes are
# in agentpref.assessors.features.prototypes).
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
    lap = np.abs(gray - box(gray, 1))
    grain = float(np.median(lap[weak])) if np.any(weak) else float(np.median(lap))
    # Dark thin lines (hatching, ink): pixels much darker than their 5x5 neighbourhood.
    dark_line = float(np.mean(gray < box(gray, 2) - 0.08))
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
        layout={k: round(x, 5) for k, x in layout(small).items()},
    )


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
