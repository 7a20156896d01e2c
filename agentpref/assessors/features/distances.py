"""What the features assessor knows: distances between measurements, per element, and
between a measurement and vocabulary terms; treatment and composition recognition.

Distances are in "units": 1 is a difference a person notices, 3 is a different look.
The treatment and family prototypes are per-class means and spreads of the texture and
layout statistics measured on painter renders (seeds 5,000,000+, never used by tests or
the benchmark); `benchmarks/synthetic_accuracy.py --calibrate` prints them again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agentpref.images.measure import LAYOUT_FEATURES, TEXTURE_FEATURES, Measurements
from agentpref.profile import Element
from agentpref.vocabulary import Term, srgb_to_lab

COLOR_UNIT = 12.0  # CIE76 distance of one unit
SATURATION_UNIT = 0.06
LIGHTNESS_UNIT = 0.08
DETAIL_UNIT = 0.25  # in log(edge density + 0.01)

# (mean, spread) per texture feature, in TEXTURE_FEATURES order, per treatment.
TREATMENT_PROTOTYPES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "airbrush": (
        (0.1971, 0.0134, 0.5736, 0.9977, 0.1549, 0.0818, 2.4529, 0.0757, 0.0129, 0.0483),
        (0.3355, 0.008, 0.2656, 0.0026, 0.0783, 0.0416, 0.8561, 0.054, 0.0083, 0.1104),
    ),
    "flat": (
        (0.4967, 0.0072, 0.3134, 0.9214, 0.2331, 0.1746, 2.713, 0.0798, 0.0487, 0.0528),
        (0.3593, 0.008, 0.2405, 0.2105, 0.1689, 0.1761, 0.5537, 0.0727, 0.0393, 0.0966),
    ),
    "hatching": (
        (0.2126, 0.024, 0.3613, 0.6511, 0.06, 0.4719, 2.4859, 0.138, 0.3597, 0.2469),
        (0.2117, 0.0331, 0.2184, 0.2111, 0.0513, 0.2004, 0.4816, 0.0906, 0.1305, 0.3707),
    ),
    "impasto": (
        (0.1203, 0.013, 0.5565, 0.9819, 0.1695, 0.1206, 2.4032, 0.1189, 0.0388, 0.0303),
        (0.1306, 0.0073, 0.118, 0.011, 0.022, 0.0136, 0.3379, 0.0731, 0.0193, 0.0505),
    ),
    "ink": (
        (0.5654, 0.0108, 0.2274, 0.8946, 0.2955, 0.1909, 2.5635, 0.1176, 0.084, 0.019),
        (0.3553, 0.0188, 0.2409, 0.1987, 0.2384, 0.1162, 0.4607, 0.0942, 0.111, 0.0714),
    ),
    "mosaic": (
        (0.3293, 0.0069, 0.458, 0.9601, 0.2942, 0.1587, 3.7467, 0.0671, 0.028, 0.0271),
        (0.2231, 0.0075, 0.1435, 0.0326, 0.0798, 0.0529, 0.4925, 0.067, 0.0245, 0.0925),
    ),
    "photographic": (
        (0.3554, 0.0089, 0.3622, 0.9509, 0.1743, 0.1276, 2.5283, 0.0609, 0.0233, 0.0525),
        (0.323, 0.0087, 0.2318, 0.1175, 0.1598, 0.113, 0.536, 0.0734, 0.0268, 0.1646),
    ),
    "pixel": (
        (0.2464, 0.0117, 0.5248, 0.7805, 0.5664, 0.3099, 3.9623, 0.0828, 0.0391, 0.0294),
        (0.299, 0.0076, 0.2325, 0.1787, 0.2222, 0.1499, 0.7866, 0.0649, 0.0202, 0.096),
    ),
    "watercolor": (
        (0.1256, 0.013, 0.5992, 0.9307, 0.2254, 0.1604, 2.4551, 0.0514, 0.0346, 0.023),
        (0.1553, 0.0071, 0.2517, 0.1476, 0.173, 0.1213, 0.3313, 0.0369, 0.0238, 0.0628),
    ),
}
# (mean, spread) per layout feature, in LAYOUT_FEATURES order, per composition family.
FAMILY_PROTOTYPES: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "abstract": (
        (0.5097, 0.4557, 0.0544, 0.818, 0.342),
        (0.1313, 0.1828, 0.0559, 0.0987, 0.2024),
    ),
    "geometric": (
        (0.5299, 0.4243, 0.0378, 0.8218, 0.271),
        (0.1042, 0.1486, 0.0656, 0.1229, 0.2047),
    ),
    "grid": (
        (0.4583, 0.3634, 0.042, 0.7667, 0.3958),
        (0.1517, 0.2277, 0.0655, 0.1855, 0.2174),
    ),
    "landscape": (
        (0.9203, 0.1841, 0.118, 0.8214, 0.3174),
        (0.0667, 0.1376, 0.1223, 0.1227, 0.1929),
    ),
    "organic": (
        (0.5033, 0.3899, 0.0627, 0.7994, 0.3328),
        (0.1081, 0.1966, 0.1302, 0.1217, 0.2215),
    ),
    "portrait-like": (
        (0.4739, 0.4005, 0.1722, 0.8337, 0.3069),
        (0.1863, 0.1604, 0.1305, 0.1099, 0.1975),
    ),
    "radial": (
        (0.5328, 0.5582, 0.0441, 0.785, 0.3367),
        (0.1194, 0.2643, 0.0404, 0.1474, 0.2369),
    ),
}

TREATMENT_WORDS: dict[str, str] = {
    "flat": "flat colour with hard edges",
    "watercolor": "watercolor-like soft, bleeding washes",
    "impasto": "thick, raised paint strokes (impasto)",
    "pixel": "blocky pixel art",
    "hatching": "drawn line hatching",
    "airbrush": "smooth airbrushed gradients",
    "photographic": "a photographic, soft-focus look",
    "ink": "bold ink outlines",
    "mosaic": "tiles with grout lines (mosaic)",
}
FAMILY_WORDS: dict[str, str] = {
    "geometric": "geometric shapes",
    "organic": "organic, rounded forms",
    "landscape": "a landscape-like layout of horizontal bands",
    "radial": "a radial, centred pattern",
    "grid": "a grid of blocks",
    "portrait-like": "a central figure",
    "abstract": "loose abstract gestures",
}


def _dlog(x: float) -> float:
    return math.log(max(x, 0.0) + 0.01)


def palette_distance(a_lab: np.ndarray, a_w: np.ndarray, b_lab: np.ndarray, b_w: np.ndarray) -> float:
    """Symmetric weighted chamfer distance between two palettes, in colour units."""
    d = np.sqrt(((a_lab[:, None, :] - b_lab[None, :, :]) ** 2).sum(-1))
    ab = float((d.min(axis=1) * a_w).sum() / max(a_w.sum(), 1e-9))
    ba = float((d.min(axis=0) * b_w).sum() / max(b_w.sum(), 1e-9))
    return 0.5 * (ab + ba) / COLOR_UNIT


def _z(vector: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    return vector / np.maximum(spreads, 1e-6)


TEXTURE_SPREAD = np.ones(len(TEXTURE_FEATURES))
LAYOUT_SPREAD = np.ones(len(LAYOUT_FEATURES))


def distance(element: Element, a: Measurements, b: Measurements) -> float:
    """How different two images are on one element, in units."""
    if element is Element.COLOR:
        return palette_distance(*a.palette_lab(), *b.palette_lab())
    if element is Element.SATURATION:
        ds = (a.saturation_mean - b.saturation_mean) / SATURATION_UNIT
        dv = (a.lightness_mean - b.lightness_mean) / LIGHTNESS_UNIT
        return math.sqrt(ds * ds + 0.5 * dv * dv)
    if element is Element.DETAIL:
        de = (_dlog(a.edge_density) - _dlog(b.edge_density)) / DETAIL_UNIT
        dh = (a.hf_ratio - b.hf_ratio) / 0.05
        return math.sqrt(de * de + 0.25 * dh * dh)
    if element is Element.ARTISTIC_MEDIUM:
        ta = np.array([a.texture[k] for k in TEXTURE_FEATURES])
        tb = np.array([b.texture[k] for k in TEXTURE_FEATURES])
        return float(np.linalg.norm(_z(ta - tb, TEXTURE_SPREAD)) / math.sqrt(len(TEXTURE_FEATURES))) * 1.5
    la = np.array([a.layout[k] for k in LAYOUT_FEATURES])
    lb = np.array([b.layout[k] for k in LAYOUT_FEATURES])
    return float(np.linalg.norm(_z(la - lb, LAYOUT_SPREAD)) / math.sqrt(len(LAYOUT_FEATURES))) * 1.5


def set_distance(element: Element, m: Measurements, refs: Sequence[Measurements]) -> float:
    """Distance to a reference set: the mean over the nearer half (a taste may have several sides)."""
    ds = sorted(distance(element, m, r) for r in refs)
    k = max(1, math.ceil(len(ds) / 2))
    return float(np.mean(ds[:k]))


# -- recognition ----------------------------------------------------------------------------


def _class_costs(
    x: np.ndarray, prototypes: dict[str, tuple[tuple[float, ...], tuple[float, ...]]]
) -> dict[str, float]:
    """Per class: mean squared standardised distance plus the log spread (a diagonal Gaussian)."""
    out = {}
    for name, (mean, spread) in prototypes.items():
        s = np.maximum(np.array(spread), 1e-3)
        z = (x - np.array(mean)) / s
        out[name] = float(0.5 * (z * z).mean() + np.log(s).mean())
    return out


def _posterior(costs: dict[str, float]) -> dict[str, float]:
    names = list(costs)
    c = np.array([costs[n] for n in names]) * len(TEXTURE_FEATURES) / 3.0
    p = np.exp(-(c - c.min()))
    p /= p.sum()
    return {n: float(v) for n, v in zip(names, p, strict=True)}


def treatment_probabilities(m: Measurements) -> dict[str, float]:
    """How much the texture looks like each painter treatment (sums to 1)."""
    x = np.array([m.texture[k] for k in TEXTURE_FEATURES])
    return _posterior(_class_costs(x, TREATMENT_PROTOTYPES))


def family_probabilities(m: Measurements) -> dict[str, float]:
    x = np.array([m.layout[k] for k in LAYOUT_FEATURES])
    return _posterior(_class_costs(x, FAMILY_PROTOTYPES))


# -- distances to vocabulary terms (profile-only judging) -----------------------------------


def _range_gap(x: float, lo: float, hi: float) -> float:
    return max(0.0, lo - x, x - hi)


def term_distance(element: Element, m: Measurements, terms: Sequence[Term]) -> float | None:
    """Distance of an image to the nearest of some terms of one element (None without terms)."""
    if not terms:
        return None
    if element is Element.COLOR:
        rgbs = [t.rgb for t in terms if t.rgb]
        if not rgbs:
            return None
        lab = srgb_to_lab(np.array(rgbs, dtype=np.float64))
        w = np.ones(len(lab)) / len(lab)
        return palette_distance(*m.palette_lab(), lab, w)
    best = math.inf
    for t in terms:
        if element is Element.SATURATION and t.saturation_range:
            ds = _range_gap(m.saturation_mean, *t.saturation_range) / SATURATION_UNIT
            dv = (
                _range_gap(m.lightness_mean, *t.lightness_range) / LIGHTNESS_UNIT
                if t.lightness_range
                else 0.0
            )
            best = min(best, math.sqrt(ds * ds + 0.5 * dv * dv))
        elif element is Element.DETAIL and t.detail_range:
            lo, hi = t.detail_range
            gap = max(0.0, _dlog(lo) - _dlog(m.edge_density), _dlog(m.edge_density) - _dlog(hi))
            best = min(best, gap / DETAIL_UNIT)
        elif element is Element.ARTISTIC_MEDIUM and t.treatment:
            p = treatment_probabilities(m)
            best = min(best, 3.0 * (1.0 - p.get(t.treatment, 0.0) / max(p.values())))
        elif element is Element.ART_STYLES and t.family:
            p = family_probabilities(m)
            best = min(best, 3.0 * (1.0 - p.get(t.family, 0.0) / max(p.values())))
    return None if best == math.inf else best


def set_prototypes(
    treatments: dict[str, tuple[tuple[float, ...], tuple[float, ...]]],
    families: dict[str, tuple[tuple[float, ...], tuple[float, ...]]],
) -> None:
    """Install prototypes (and the pooled spreads distances are standardised by)."""
    global TEXTURE_SPREAD, LAYOUT_SPREAD
    TREATMENT_PROTOTYPES.clear()
    TREATMENT_PROTOTYPES.update(treatments)
    FAMILY_PROTOTYPES.clear()
    FAMILY_PROTOTYPES.update(families)
    TEXTURE_SPREAD = np.sqrt(np.mean([np.square(s) for _, s in treatments.values()], axis=0))
    LAYOUT_SPREAD = np.sqrt(np.mean([np.square(s) for _, s in families.values()], axis=0))


set_prototypes(dict(TREATMENT_PROTOTYPES), dict(FAMILY_PROTOTYPES))
