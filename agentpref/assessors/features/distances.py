"""What the features assessor knows: distances between measurements, per element (how far a
picture is from a vocabulary term is `features.fit`); treatment and composition recognition.

Distances are in "units": 1 is a difference a person notices, 3 is a different look.
Recognition compares a picture's texture and layout statistics with the measured
prototypes of `features.prototypes`.
"""

from __future__ import annotations

import math

import numpy as np

from agentpref.assessors.features.prototypes import FAMILY_PROTOTYPES, TREATMENT_PROTOTYPES, Component
from agentpref.images.composition import LAYOUT_FEATURES
from agentpref.images.measure import TEXTURE_FEATURES, Measurements
from agentpref.profile import Element

COLOR_UNIT = 12.0  # CIE76 distance of one unit
SATURATION_UNIT = 0.06
LIGHTNESS_UNIT = 0.08
DETAIL_UNIT = 0.25  # in log(edge density + 0.01)
# Edge densities that split the treatments' calibration renders into plain, medium, busy.
DETAIL_TIERS = (0.05, 0.15)

# Noun phrases: they complete "it looks like ...", "texture looks like ... (80%)" and
# "its composition reads as ..." (no "-like", "look" or parentheses of their own).
TREATMENT_WORDS: dict[str, str] = {
    "flat": "flat colour with hard edges",
    "watercolor": "soft, bleeding watercolour washes",
    "impasto": "thick impasto paint in raised strokes",
    "pixel": "blocky pixel art",
    "hatching": "pen or pencil hatching",
    "airbrush": "smooth airbrushed gradients",
    "photographic": "a soft-focus photograph",
    "ink": "bold ink outlines around flat fills",
    "mosaic": "mosaic tiles with grout lines",
}
FAMILY_WORDS: dict[str, str] = {
    "geometric": "an arrangement of geometric shapes",
    "organic": "a mass of organic, rounded forms",
    "landscape": "a landscape of horizontal bands",
    "radial": "a radial pattern around a centre",
    "grid": "a grid of blocks",
    "portrait-like": "a single central figure, as in a portrait",
    "abstract": "loose abstract gestures",
}


def log_detail(edge_density: float) -> float:
    """The scale detail is compared on: log(edge density + 0.01) (a doubling is the same step
    everywhere, and a flat picture is not infinitely far)."""
    return math.log(max(edge_density, 0.0) + 0.01)


def palette_distance(a_lab: np.ndarray, a_w: np.ndarray, b_lab: np.ndarray, b_w: np.ndarray) -> float:
    """Symmetric weighted chamfer distance between two palettes, in colour units."""
    d = np.sqrt(((a_lab[:, None, :] - b_lab[None, :, :]) ** 2).sum(-1))
    ab = float((d.min(axis=1) * a_w).sum() / max(a_w.sum(), 1e-9))
    ba = float((d.min(axis=0) * b_w).sum() / max(b_w.sum(), 1e-9))
    return 0.5 * (ab + ba) / COLOR_UNIT


def _z(vector: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    return vector / np.maximum(spreads, 1e-6)


def _pooled_spread(prototypes: dict[str, tuple[Component, ...]]) -> np.ndarray:
    """Root-mean-square spread per feature over every component: what one unit of a texture or
    layout difference is measured in."""
    return np.sqrt(np.mean([np.square(s) for cs in prototypes.values() for _, s in cs], axis=0))


TEXTURE_SPREAD = _pooled_spread(TREATMENT_PROTOTYPES)
LAYOUT_SPREAD = _pooled_spread(FAMILY_PROTOTYPES)


def distance(element: Element, a: Measurements, b: Measurements) -> float:
    """How different two images are on one element, in units."""
    if element is Element.COLOR:
        return palette_distance(*a.palette_lab(), *b.palette_lab())
    if element is Element.SATURATION:
        ds = (a.saturation_mean - b.saturation_mean) / SATURATION_UNIT
        dv = (a.lightness_mean - b.lightness_mean) / LIGHTNESS_UNIT
        return math.sqrt(ds * ds + 0.5 * dv * dv)
    if element is Element.DETAIL:
        de = (log_detail(a.edge_density) - log_detail(b.edge_density)) / DETAIL_UNIT
        dh = (a.hf_ratio - b.hf_ratio) / 0.05
        return math.sqrt(de * de + 0.25 * dh * dh)
    if element is Element.ARTISTIC_MEDIUM:
        ta = np.array([a.texture[k] for k in TEXTURE_FEATURES])
        tb = np.array([b.texture[k] for k in TEXTURE_FEATURES])
        return float(np.linalg.norm(_z(ta - tb, TEXTURE_SPREAD)) / math.sqrt(len(TEXTURE_FEATURES))) * 1.5
    la = np.array([a.layout[k] for k in LAYOUT_FEATURES])
    lb = np.array([b.layout[k] for k in LAYOUT_FEATURES])
    return float(np.linalg.norm(_z(la - lb, LAYOUT_SPREAD)) / math.sqrt(len(LAYOUT_FEATURES))) * 1.5


# -- recognition ----------------------------------------------------------------------------


def _class_costs(x: np.ndarray, prototypes: dict[str, tuple[Component, ...]]) -> dict[str, float]:
    """Per class: the negative log-likelihood of a mixture of diagonal Gaussians (equal
    weights), per feature: mean squared standardised distance plus the log spread."""
    out = {}
    for name, components in prototypes.items():
        costs = []
        for mean, spread in components:
            s = np.maximum(np.array(spread), 1e-3)
            z = (x - np.array(mean)) / s
            costs.append(float(0.5 * (z * z).mean() + np.log(s).mean()))
        c = np.array(costs) * len(x)
        out[name] = float(c.min() - np.log(np.exp(-(c - c.min())).mean())) / len(x)
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
