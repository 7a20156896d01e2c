"""How well one measured image fits one side of a profile, per element, in distance units.

The features assessor judges every image against a profile: the one it was given, or the one
it predicts from references (so `compare(refs, a, b)` and `compare(profile_of(refs), a, b)`
are the same judgment). A side's terms mean what the vocabulary says they mean: a colour is
its reference colour, Saturation and Detail terms are measured ranges, a medium is a texture
treatment, a style a composition family. The lightness keys ("high-key", "low-key") a side's
keywords carry are ranges of mean HSV value.

Inside a range the distance is small but not flat (a quarter unit at the range's edge), so
among images that all fit, the one nearer the middle of the taste still wins.

>>> from agentpref.images.measure import measure
>>> from PIL import Image
>>> from agentpref.profile import Element, Profile
>>> teal = measure(Image.new("RGB", (32, 32), (0, 128, 128)))
>>> side_distance(Element.COLOR, teal, Profile(color=["Teal"])) < 0.1
True
>>> side_distance(Element.COLOR, teal, Profile()) is None
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from agentpref.assessors.features.distances import (
    DETAIL_UNIT,
    LIGHTNESS_UNIT,
    SATURATION_UNIT,
    family_probabilities,
    log_detail,
    palette_distance,
    treatment_probabilities,
)
from agentpref.images.measure import Measurements
from agentpref.profile import Element, Profile
from agentpref.vocabulary import LIGHTNESS_KEYS, Term, Vocabulary, load_vocabulary, srgb_to_lab

INSIDE_PULL = 0.25
"""Distance (units) at a range's edge, from 0 at its middle: what keeps an inside range ordered."""


def range_distance(x: float, lo: float, hi: float, unit: float) -> float:
    """Units from `x` to the range [lo, hi]: the gap outside it, and a gentle pull to the middle inside."""
    gap = max(0.0, lo - x, x - hi)
    half = (hi - lo) / 2
    inside = min(abs(x - (lo + hi) / 2) / half, 1.0) if half > 0 else 0.0
    return gap / unit + INSIDE_PULL * inside


def key_of(side: Profile) -> str | None:
    """The lightness key a side's keywords name ("high-key", "low-key"), if any."""
    return next((k for k in LIGHTNESS_KEYS if k in side.keywords), None)


def _terms(side: Profile, element: Element, vocab: Vocabulary) -> list[Term]:
    found = []
    for name in side.terms(element):
        term = vocab.get(name, element) or vocab.normalize(name, element)
        if term is not None:
            found.append(term)
    return found


def _lightness_distance(m: Measurements, term: Term, key: str | None) -> float:
    """The lightness part of a Saturation fit: the side's key when it names one (measured),
    else the term's own lightness range, else nothing."""
    band = LIGHTNESS_KEYS[key] if key is not None else term.lightness_range
    if band is None:
        return 0.0
    return range_distance(m.lightness_mean, band[0], band[1], LIGHTNESS_UNIT)


def _saturation(m: Measurements, terms: Sequence[Term], key: str | None) -> float | None:
    ranged = [t for t in terms if t.saturation_range]
    if not ranged:
        if key is None:
            return None
        lo, hi = LIGHTNESS_KEYS[key]
        return math.sqrt(0.5) * range_distance(m.lightness_mean, lo, hi, LIGHTNESS_UNIT)
    best = math.inf
    for t in ranged:
        assert t.saturation_range is not None
        ds = range_distance(m.saturation_mean, *t.saturation_range, SATURATION_UNIT)
        dv = _lightness_distance(m, t, key)
        best = min(best, math.sqrt(ds * ds + 0.5 * dv * dv))
    return best


def _detail(m: Measurements, terms: Sequence[Term]) -> float | None:
    ranged = [t.detail_range for t in terms if t.detail_range]
    if not ranged:
        return None
    x = log_detail(m.edge_density)
    return min(range_distance(x, log_detail(lo), log_detail(hi), DETAIL_UNIT) for lo, hi in ranged)


def _class_distance(probabilities: dict[str, float], names: Sequence[str]) -> float | None:
    """0 when the picture most looks like one of `names`, 3 units when it does not at all."""
    if not names:
        return None
    top = max(probabilities.values())
    return min(3.0 * (1.0 - probabilities.get(n, 0.0) / top) for n in names)


def side_distance(
    element: Element, m: Measurements, side: Profile, vocab: Vocabulary | None = None
) -> float | None:
    """Units between the picture and what `side` says about `element` (None: it says nothing)."""
    vocab = vocab or load_vocabulary()
    terms = _terms(side, element, vocab)
    if element is Element.COLOR:
        rgbs = [t.rgb for t in terms if t.rgb]
        if not rgbs:
            return None
        lab = srgb_to_lab(np.array(rgbs, dtype=np.float64))
        return palette_distance(*m.palette_lab(), lab, np.full(len(lab), 1.0 / len(lab)))
    if element is Element.SATURATION:
        return _saturation(m, terms, key_of(side))
    if element is Element.DETAIL:
        return _detail(m, terms)
    if element is Element.ARTISTIC_MEDIUM:
        names = [t.treatment for t in terms if t.treatment]
        return _class_distance(treatment_probabilities(m), names)
    names = [t.family for t in terms if t.family]
    return _class_distance(family_probabilities(m), names)


def fit_score(d_like: float | None, d_dislike: float | None) -> float:
    """Distances (units) to the liked and disliked side -> 0-5: near the likes and far from
    the dislikes is 5; a side that says nothing counts for neither."""
    if d_like is None and d_dislike is None:
        return 2.5
    if d_like is None:
        assert d_dislike is not None
        return 5.0 * (1.0 - 1.0 / (1.0 + d_dislike**2))
    close = 1.0 / (1.0 + d_like**2)
    if d_dislike is None:
        return 5.0 * close
    rel = d_dislike / (d_like + d_dislike) if d_like + d_dislike > 1e-9 else 0.5
    return 5.0 * (0.5 * close + 0.5 * rel)
