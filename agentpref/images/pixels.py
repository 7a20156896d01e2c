"""Pixel-level definitions the measurements and the painter share.

The vocabulary defines saturation, lightness and edge density on a copy resized to
`ANALYSIS_SIDE` px on the long side; these functions are those definitions, so what the
painter aims for is exactly what the judge measures.

>>> from PIL import Image
>>> round(mean_saturation(Image.new("RGB", (64, 32), (0, 128, 128))), 2)
1.0
"""

from __future__ import annotations

import numpy as np
from PIL import Image

ANALYSIS_SIDE = 256
"""Long side (px) every measurement works at; the vocabulary's edge density is defined at this size."""
EDGE_THRESHOLD = 0.1


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


def box(a: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window (edge-replicated), via cumulative sums."""
    p = np.pad(a, r, mode="edge").astype(np.float64)
    c = np.cumsum(np.cumsum(p, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    n = 2 * r + 1
    s = c[n:, n:] - c[:-n, n:] - c[n:, :-n] + c[:-n, :-n]
    return (s / (n * n)).astype(np.float32)


def mean_saturation(image: Image.Image) -> float:
    """The vocabulary's saturation: mean HSV saturation at 256 px long side (`saturation_mean`)."""
    s, _ = hsv_sv(np.asarray(analysis_copy(image), dtype=np.float32) / 255.0)
    return float(s.mean())
