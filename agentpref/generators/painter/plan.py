"""What the painter paints: the prompt, the negative prompt and the profile read into a `Plan`.

The prompt is what the loop's refine step rewrites, so it is read first and wins over the
profile wherever both speak:

- terms named in the prompt replace the profile's for their element (the prompt's colours
  are the palette; the profile's liked colours are used only when the prompt names none);
- earlier terms are stronger (the first colour gets the largest share, the first medium,
  style, saturation and detail term is the one painted);
- an emphasis prefix (`agentpref.term_search.EMPHASIS_PREFIXES`, "strongly palette of ...")
  makes an element more decisive: colours take a larger share of the canvas over their
  lighter/darker variants, saturation, lightness and detail aim closer to the middle of
  the term's range (a medium's emphasis is recorded but leaves its marks as they are: the
  features judge is calibrated on each treatment as painted, and heavier marks measured
  as less like their medium, not more);
- negative-prompt terms and the profile's dislikes are avoided: a disliked colour leaves
  the palette (and variants near it are not drawn), a disliked treatment or family is not
  chosen, a disliked saturation, lightness or detail range is steered away from.

>>> import numpy as np
>>> plan = make_plan("strongly palette of teal, pixel sprites", "navy", None, np.random.default_rng(0))
>>> [t.name for t in plan.colors], plan.treatment, plan.variant_weight, plan.avoid
(['Teal'], 'pixel', 0.175, {'Color': ['Navy']})
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentpref.generators.painter.compose import COMPOSERS
from agentpref.generators.painter.streams import Variation, decision_streams
from agentpref.generators.painter.treat import TREATMENTS
from agentpref.profile import Element, Profile, UserProfile
from agentpref.term_search import MAX_EMPHASIS, terms_by_element
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, srgb_to_lab

# The element each of make_plan's decisions shapes, in the order its streams are drawn.
PLAN_DECISIONS = (
    Element.COLOR,
    Element.SATURATION,
    Element.SATURATION,
    Element.DETAIL,
    Element.ARTISTIC_MEDIUM,
    Element.ART_STYLES,
)
MAX_COLORS = 5
AVOID_DELTA_E = 25.0  # CIELAB distance under which a colour counts as the avoided one


@dataclass
class Plan:
    """Everything one image is painted from: resolved terms and numeric targets."""

    colors: list[Term]
    color_weights: list[float]
    saturation: Term | None
    detail: Term | None
    medium: Term | None
    style: Term | None
    treatment: str
    family: str
    saturation_target: float | None
    lightness_target: float | None
    detail_target: float
    detail_range: tuple[float, float]
    # Emphasis level (0-3) per element, as the prompt wrote it.
    emphasis: dict[Element, int] = field(default_factory=dict)
    avoid: dict[str, list[str]] = field(default_factory=dict)
    avoid_lab: list[np.ndarray] = field(default_factory=list)
    saturation_avoid: list[tuple[float, float]] = field(default_factory=list)

    @property
    def variant_weight(self) -> float:
        """Palette share of each lighter/darker variant: emphasised colours keep more canvas."""
        return 0.35 / (1 + self.emphasis.get(Element.COLOR, 0))

    def params(self) -> dict[str, Any]:
        return {
            "colors": [t.name for t in self.colors],
            "color_rgb": [list(t.rgb or ()) for t in self.colors],
            "saturation": self.saturation.name if self.saturation else None,
            "detail": self.detail.name if self.detail else None,
            "medium": self.medium.name if self.medium else None,
            "art_style": self.style.name if self.style else None,
            "treatment": self.treatment,
            "family": self.family,
            "saturation_target": _r(self.saturation_target),
            "lightness_target": _r(self.lightness_target),
            "detail_target": _r(self.detail_target),
            "emphasis": {e.value: lvl for e, lvl in self.emphasis.items() if lvl},
            "avoided": self.avoid,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _resolve(vocab: Vocabulary, element: Element, names: list[str]) -> list[Term]:
    out: list[Term] = []
    for name in names:
        term = vocab.get(name, element) or vocab.normalize(name, element)
        if term is not None and term not in out:
            out.append(term)
    return out


def outside(x: float, ranges: list[tuple[float, float]], lo: float = 0.0, hi: float = 1.0) -> float:
    """`x` moved just outside every range it falls in (toward the nearer side), within lo..hi."""
    for a, b in ranges:
        if a <= x <= b:
            below, above = a - 0.03, b + 0.03
            x = below if (x - a <= b - x and below >= lo) or above > hi else above
    return float(np.clip(x, lo, hi))


def _lab(t: Term) -> np.ndarray:
    return srgb_to_lab(np.array(t.rgb, dtype=float))


def _pick_hint(
    chosen: list[Term], avoided: list[Term], attr: str, options: list[str], rng: np.random.Generator
) -> tuple[Term | None, str]:
    """The first chosen term whose hint (`treatment` or `family`) is not avoided, else the
    first chosen term (a positive request the painter has no other way to honour), else a
    random hint that is not avoided."""
    bad = {getattr(t, attr) for t in avoided}
    hinted = [t for t in chosen if getattr(t, attr)]
    for term in hinted:
        if getattr(term, attr) not in bad:
            return term, str(getattr(term, attr))
    if hinted:
        return hinted[0], str(getattr(hinted[0], attr))
    allowed = [o for o in options if o not in bad] or options
    return None, allowed[int(rng.integers(len(allowed)))]


def _around_middle(lo: float, hi: float, spread: float, level: int, rng: np.random.Generator) -> float:
    """A point of lo..hi near its middle: within +-spread of it, narrowed by emphasis."""
    u = 0.5 + rng.uniform(-spread, spread) / (1 + level)
    return lo + (hi - lo) * u


def make_plan(
    prompt: str,
    negative_prompt: str | None,
    profile: UserProfile | None,
    rng: np.random.Generator,
    variation: Variation | None = None,
) -> Plan:
    """Resolve what to paint (see the module's docstring for the rules).

    Each decision draws from its own stream of `rng`, so a seed keeps its medium, composition
    and colour picks when the prompt changes something else: refinement re-paints the same
    picture more decisively instead of painting a new one. A `variation` re-draws the
    decisions of the elements it names (`streams`).
    """
    r_colors, r_saturation, r_lightness, r_detail, r_medium, r_style = decision_streams(
        rng, PLAN_DECISIONS, variation or {}
    )
    vocab = load_vocabulary()
    likes = profile.likes if profile else Profile()
    dislikes = profile.dislikes if profile else Profile()
    said = terms_by_element(prompt, vocab)
    unsaid = terms_by_element(negative_prompt, vocab)
    avoid = {e: [*_resolve(vocab, e, dislikes.terms(e))] for e in Element}
    for e in Element:
        avoid[e] += [t for t, _ in unsaid[e] if t not in avoid[e]]
    chosen: dict[Element, list[Term]] = {}
    level: dict[str, int] = {}
    emphasis: dict[Element, int] = {}
    for e in Element:
        negated = [t for t, _ in unsaid[e]]
        mentioned = [t for t, _ in said[e] if t not in negated]
        level.update({t.name: lvl for t, lvl in said[e]})
        liked = [t for t in _resolve(vocab, e, likes.terms(e)) if t not in avoid[e]]
        chosen[e] = mentioned or liked
        first = chosen[e][0] if chosen[e] else None
        emphasis[e] = min(level.get(first.name, 0), MAX_EMPHASIS) if first else 0

    avoid_lab = [_lab(t) for t in avoid[Element.COLOR] if t.rgb]
    colors = [t for t in chosen[Element.COLOR] if t.rgb][:MAX_COLORS]
    if not colors:  # nothing liked: a random palette far from every disliked colour
        pool = [
            t
            for t in vocab.terms(Element.COLOR)
            if t.rgb and all(np.linalg.norm(_lab(t) - a) > AVOID_DELTA_E for a in avoid_lab)
        ]
        colors = [pool[i] for i in r_colors.choice(len(pool), size=3, replace=False)]
    weights = [(1.0 - 0.15 * i) * (1 + level.get(t.name, 0)) for i, t in enumerate(colors)]

    saturation = chosen[Element.SATURATION][0] if chosen[Element.SATURATION] else None
    bad_s = [t for t in avoid[Element.SATURATION] if t.saturation_range]
    s_ranges = [t.saturation_range for t in bad_s if t.saturation_range]
    s_target = v_target = None
    if saturation is not None and saturation.saturation_range:
        lo, hi = saturation.saturation_range
        s_target = _around_middle(lo, hi, 0.2, emphasis[Element.SATURATION], r_saturation)
        s_target = outside(s_target, s_ranges, lo + 0.01, hi - 0.01)
        v_lo, v_hi = saturation.lightness_range or (0.12, 0.9)
        if saturation.lightness_range:
            v_target = _around_middle(v_lo, v_hi, 0.15, emphasis[Element.SATURATION], r_lightness)
        # A disliked term whose saturation range could not be left is left by lightness.
        still = [t.lightness_range for t in bad_s if t.lightness_range and _inside(s_target, t)]
        if still:
            v_target = outside(0.55 if v_target is None else v_target, still, v_lo, v_hi)

    detail = chosen[Element.DETAIL][0] if chosen[Element.DETAIL] else None
    bad_d = [t.detail_range for t in avoid[Element.DETAIL] if t.detail_range]
    if detail is not None and detail.detail_range:
        lo, hi = detail.detail_range
        # The geometric middle: ranges are wide on a log scale (0.0-0.03 up to 0.35-0.7).
        mid = math.sqrt(max(lo, 0.005) * hi)
        # Never aim at no edges at all: an empty canvas has no detail to narrow a band around.
        d_target = max(outside(mid, bad_d, lo, hi), 0.004)
        # Emphasis narrows the accepted band around the target (on the log scale).
        k = 1.0 / (1 + emphasis[Element.DETAIL])
        d_range = (d_target * (max(lo, 0.004) / d_target) ** k, d_target * (hi / d_target) ** k)
    else:
        d_target = outside(
            float(math.exp(r_detail.uniform(math.log(0.03), math.log(0.3)))), bad_d, 0.005, 0.7
        )
        d_range = (d_target * 0.7, d_target * 1.4)

    medium, treatment = _pick_hint(
        chosen[Element.ARTISTIC_MEDIUM],
        avoid[Element.ARTISTIC_MEDIUM],
        "treatment",
        list(TREATMENTS),
        r_medium,
    )
    style, family = _pick_hint(
        chosen[Element.ART_STYLES], avoid[Element.ART_STYLES], "family", list(COMPOSERS), r_style
    )
    emphasis[Element.ARTISTIC_MEDIUM] = min(level.get(medium.name, 0), MAX_EMPHASIS) if medium else 0
    emphasis[Element.ART_STYLES] = min(level.get(style.name, 0), MAX_EMPHASIS) if style else 0
    return Plan(
        colors=colors,
        color_weights=weights,
        saturation=saturation,
        detail=detail,
        medium=medium,
        style=style,
        treatment=treatment,
        family=family,
        saturation_target=s_target,
        lightness_target=v_target,
        detail_target=d_target,
        detail_range=d_range,
        emphasis=emphasis,
        avoid={e.value: sorted(t.name for t in avoid[e]) for e in Element if avoid[e]},
        avoid_lab=avoid_lab,
        saturation_avoid=s_ranges,
    )


def _inside(s: float, term: Term) -> bool:
    lo, hi = term.saturation_range or (1.0, 0.0)
    return lo <= s <= hi
