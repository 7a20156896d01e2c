"""Composition statistics: how an image is laid out (bands, rings, a central figure, a grid).

The features judge recognises a style's composition family from these (`LAYOUT_FEATURES`,
prototypes in `agentpref.assessors.features.prototypes`). They work on a thumbnail in CIELAB:
composition is coarse, and this keeps it cheap (well under a millisecond).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from agentpref.images.pixels import EDGE_THRESHOLD, box, sobel
from agentpref.vocabulary import srgb_to_lab

LAYOUT_FEATURES: tuple[str, ...] = (
    "band_ratio",
    "radial_ratio",
    "center_contrast",
    "symmetry",
    "region_scale",
    # Where the colour boundaries run, whatever the colours: a palette change barely moves these.
    "boundary_horizontal",
    "boundary_axis",
    "boundary_radial",
    "boundary_polar",
    "boundary_symmetry",
    "boundary_span",
    "boundary_centre",
    "boundary_coherence",
)
FLAT_BOUNDARIES = {
    "boundary_horizontal": 0.5,
    "boundary_axis": 1 / 3,
    "boundary_radial": 0.5,
    "boundary_polar": 0.5,
    "boundary_symmetry": 1.0,
    "boundary_span": 0.0,
    "boundary_centre": float(np.pi / 16),
    "boundary_coherence": 0.0,
}


def layout(small: Image.Image) -> dict[str, float]:
    """Composition statistics of an analysis copy (`pixels.analysis_copy`): horizontal banding,
    radial structure, a central figure, symmetry, region size, and where boundaries run."""
    # A quarter-size thumbnail (64 px): composition is coarse, and this keeps it cheap.
    thumb = np.asarray(
        small.resize((max(8, small.width // 4), max(8, small.height // 4)), Image.Resampling.BOX)
    )
    lab = srgb_to_lab(thumb.astype(np.float64))
    gx, gy = sobel(thumb.astype(np.float32).mean(-1) / 255.0)
    mag = np.hypot(gx, gy)
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
        **_boundaries(lab / 100.0),
    }


def _boundaries(lab: np.ndarray) -> dict[str, float]:
    """Shares of colour-boundary energy by direction and place, from the Lab structure tensor.

    Each is a share of the whole image's boundary energy, so it reads the geometry of the
    composition (bands, a grid, rings and rays, a central figure) rather than its colours,
    which the statistics above mix in. Measured with the judge's recognition on painter
    renders whose colours alone change (84 pairs per size): the family it reads stays the
    same in 60% of pairs at 128 px (54% without these) and 61% at 512 px (61%), and is the
    painted one in 51% of renders at both sizes (40%, 44%).
    """
    h, w, _ = lab.shape
    gxx, gyy, gxy = np.zeros((h, w)), np.zeros((h, w)), np.zeros((h, w))
    for c in range(3):
        gx, gy = sobel(lab[..., c].astype(np.float32))
        gxx += gx * gx
        gyy += gy * gy
        gxy += gx * gy
    energy = gxx + gyy
    total = float(energy.sum())
    if total < 1e-9:  # one flat colour: what boundaries of no preferred direction would give
        return {**FLAT_BOUNDARIES}
    # Angle of the dominant gradient (mod pi); |cos 2a| is 1 on axis-aligned boundaries.
    angle = 0.5 * np.arctan2(2 * gxy, gxx - gyy)
    axis = np.abs(np.cos(2 * angle)) > np.cos(np.pi / 6)
    yy, xx = np.mgrid[0:h, 0:w]
    ry, rx = yy - (h - 1) / 2, xx - (w - 1) / 2
    r2 = rx * rx + ry * ry + 1e-9
    # Gradient energy along the direction from the centre: high on rings, low on rays.
    along = (rx * rx * gxx + 2 * rx * ry * gxy + ry * ry * gyy) / r2
    share = along / np.maximum(energy, 1e-12)
    polar = (share > 0.85) | (share < 0.15)
    edges = np.sqrt(energy)
    mirror = float(np.abs(edges - edges[:, ::-1]).sum() / (2 * edges.sum()))
    # Long straight boundaries (a grid's lines, a horizon): rows or columns crossed all along,
    # counting boundaries strong for this picture (so a pale palette has them too).
    strong = 0.1 * float(np.percentile(energy, 99))
    cols = ((gxx > strong) & (gxx > 2 * gyy)).mean(axis=0)
    rows = ((gyy > strong) & (gyy > 2 * gxx)).mean(axis=1)
    span = float(np.sort(np.concatenate([cols, rows]))[-4:].mean())
    central = np.hypot(rx / (w / 2), ry / (h / 2)) < 0.5
    jxx, jyy, jxy = (box(g.astype(np.float32), 2).astype(np.float64) for g in (gxx, gyy, gxy))
    trace = jxx + jyy
    coherence = np.sqrt((jxx - jyy) ** 2 + 4 * jxy * jxy) / np.maximum(trace, 1e-12)
    return {
        "boundary_horizontal": float(gyy.sum()) / total,
        "boundary_axis": float(energy[axis].sum()) / total,
        "boundary_radial": float(along.sum()) / total,
        "boundary_polar": float(energy[polar].sum()) / total,
        "boundary_symmetry": 1.0 - mirror,
        "boundary_span": span,
        "boundary_centre": float(energy[central].sum()) / total,
        "boundary_coherence": float((coherence * trace).sum() / max(float(trace.sum()), 1e-12)),
    }
