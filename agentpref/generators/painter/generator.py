"""The `painter` generator: a procedural renderer that paints a taste, not a subject.

It turns a profile (and the vocabulary terms named in the prompt) plus a seed into an
image that visibly realises the liked palette (the Color terms' reference colours),
saturation and lightness (inside the Saturation term's ranges), detail (inside the Detail
term's edge-density range), a medium-like treatment (the Artistic Medium term's
`treatment` hint) and a composition (the Art Style term's `family` hint). Disliked terms
and terms in the negative prompt are avoided. It does not draw the prompt's subject: the
rest of the prompt is ignored, and every image carries a note saying so.

The painter checks itself with `agentpref.images.measure` (the same definitions the
features assessor uses): detail is reached by re-rendering with corrected complexity,
saturation and lightness by exact HSV scaling.

>>> from agentpref.profile import Profile, UserProfile
>>> p = UserProfile(likes=Profile(color=["Teal", "Navy"], saturation=["Muted"], detail=["Fine"]))
>>> img = PainterGenerator().generate("a lighthouse", seed=3, profile=p, size=(128, 128))[0]
>>> img.params["colors"], img.params["saturation"], img.params["detail"]
(['Teal', 'Navy'], 'Muted', 'Fine')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from agentpref.errors import InputError
from agentpref.generators.base import GeneratedImage
from agentpref.generators.painter.compose import COMPOSERS, Palette, compose, shade
from agentpref.generators.painter.treat import TREATMENTS, treat
from agentpref.images.measure import edge_density, hsv_sv
from agentpref.profile import Element, Profile, UserProfile
from agentpref.term_search import terms_by_element
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, srgb_to_lab

SUBJECT_NOTE = "painter renders style only; it does not draw the prompt's subject"
MAX_RENDERS = 5  # renders spent searching for the detail level, per size
SEARCH_SIDE = 256  # edge density is defined on a 256 px long side (agentpref.vocabulary)
FULL_RENDERS = 2  # full-size tries after the search at SEARCH_SIDE
DETAIL_TOLERANCE = 1.15  # accepted factor outside a detail term's range (as in the painter's note)
MAX_SIDE = 4096


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
    avoid: dict[str, list[str]] = field(default_factory=dict)

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


def _outside(x: float, ranges: list[tuple[float, float]], lo: float = 0.0, hi: float = 1.0) -> float:
    """`x` moved just outside every range it falls in (toward the nearer side), within lo..hi."""
    for a, b in ranges:
        if a <= x <= b:
            below, above = a - 0.03, b + 0.03
            x = below if (x - a <= b - x and below >= lo) or above > hi else above
    return float(np.clip(x, lo, hi))


def _hint(
    chosen: dict[Element, list[Term]],
    avoid: dict[Element, list[Term]],
    element: Element,
    attr: str,
    options: list[str],
    rng: np.random.Generator,
) -> str:
    """The first chosen term's hint (`treatment` or `family`), else a random one not avoided."""
    first = chosen[element][0] if chosen[element] else None
    if first is not None and getattr(first, attr):  # every medium/style term carries one
        return str(getattr(first, attr))
    bad = {getattr(t, attr) for t in avoid[element]}
    allowed = [o for o in options if o not in bad] or options
    return allowed[int(rng.integers(len(allowed)))]


def make_plan(
    prompt: str, negative_prompt: str | None, profile: UserProfile | None, rng: np.random.Generator
) -> Plan:
    """Resolve terms: prompt terms first (they override single-valued elements and extend
    the colours), then the profile's likes; dislikes and negative-prompt terms are removed
    and steer every choice left to chance."""
    vocab = load_vocabulary()
    likes = profile.likes if profile else Profile()
    dislikes = profile.dislikes if profile else Profile()
    said = terms_by_element(prompt, vocab)
    unsaid = terms_by_element(negative_prompt, vocab)
    avoid = {e: {*_resolve(vocab, e, dislikes.terms(e)), *(t for t, _ in unsaid[e])} for e in Element}
    chosen: dict[Element, list[Term]] = {}
    emphasis: dict[str, int] = {}
    for e in Element:
        mentioned = [t for t, _ in said[e]]
        emphasis.update({t.name: lvl for t, lvl in said[e]})
        liked = _resolve(vocab, e, likes.terms(e))
        if e is Element.COLOR:
            terms = mentioned + [t for t in liked if t not in mentioned]
        else:
            terms = mentioned or liked
        chosen[e] = [t for t in terms if t not in avoid[e]]

    avoid_lab = [srgb_to_lab(np.array(t.rgb, dtype=float)) for t in avoid[Element.COLOR]]
    colors = chosen[Element.COLOR][:5]
    if not colors:  # nothing liked: a random palette far from every disliked colour
        pool = [
            t
            for t in vocab.terms(Element.COLOR)
            if all(np.linalg.norm(srgb_to_lab(np.array(t.rgb, dtype=float)) - a) > 25 for a in avoid_lab)
        ]
        colors = [pool[i] for i in rng.choice(len(pool), size=3, replace=False)]
    weights = [(1.0 - 0.15 * i) * (1 + emphasis.get(t.name, 0)) for i, t in enumerate(colors)]

    saturation = chosen[Element.SATURATION][0] if chosen[Element.SATURATION] else None
    s_target = v_target = None
    bad_s = [t.saturation_range for t in avoid[Element.SATURATION] if t.saturation_range]
    if saturation is not None and saturation.saturation_range:
        lo, hi = saturation.saturation_range
        u = rng.uniform(0.3, 0.7) if not emphasis.get(saturation.name) else 0.5
        s_target = _outside(lo + (hi - lo) * u, bad_s, lo + 0.01, hi - 0.01) if bad_s else lo + (hi - lo) * u
        if saturation.lightness_range:
            vlo, vhi = saturation.lightness_range
            v_target = vlo + (vhi - vlo) * rng.uniform(0.35, 0.65)

    detail = chosen[Element.DETAIL][0] if chosen[Element.DETAIL] else None
    bad_d = [t.detail_range for t in avoid[Element.DETAIL] if t.detail_range]
    if detail is not None and detail.detail_range:
        lo, hi = detail.detail_range
        # The geometric middle: ranges are wide on a log scale (0.0-0.03 up to 0.35-0.7).
        target = math.sqrt(max(lo, 0.005) * hi)
        d_target = _outside(target, bad_d, lo, hi) if bad_d else target
        d_range = (lo, hi)
    else:
        d_target = _outside(float(math.exp(rng.uniform(math.log(0.03), math.log(0.3)))), bad_d, 0.005, 0.7)
        d_range = (d_target * 0.7, d_target * 1.4)

    medium = chosen[Element.ARTISTIC_MEDIUM][0] if chosen[Element.ARTISTIC_MEDIUM] else None
    style = chosen[Element.ART_STYLES][0] if chosen[Element.ART_STYLES] else None
    treatment = _hint(chosen, avoid, Element.ARTISTIC_MEDIUM, "treatment", list(TREATMENTS), rng)
    family = _hint(chosen, avoid, Element.ART_STYLES, "family", list(COMPOSERS), rng)
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
        avoid={e.value: sorted(t.name for t in avoid[e]) for e in Element if avoid[e]},
    )


def _luma(c: tuple[int, ...]) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0


def _palette(plan: Plan, rng: np.random.Generator) -> Palette:
    """The liked colours, plus lighter/darker variants of them when there are fewer than
    three or their lightness is too even to draw visible edges (edge density is measured
    on grey levels, so red beside an equally light green has no edge at all)."""
    cols: list[tuple[int, int, int]] = [(t.rgb[0], t.rgb[1], t.rgb[2]) for t in plan.colors if t.rgb]
    weights = list(plan.color_weights)
    low_sat = plan.saturation_target is None or plan.saturation_target < 0.5
    i = 0
    while len(cols) < 3:
        # Tints lower saturation, shades keep it: vivid targets get shades.
        f = (0.45 if i % 2 == 0 else -0.45) if low_sat else (-0.3 if i % 2 == 0 else -0.55)
        cols.append(shade(cols[i % len(plan.colors)], f))
        weights.append(0.35)
        i += 1
    for _ in range(2):
        lumas = [_luma(c) for c in cols]
        if max(lumas) - min(lumas) >= 0.45:
            break
        main = cols[0]
        f = -0.7 if _luma(main) - min(lumas) < max(lumas) - _luma(main) or _luma(main) > 0.6 else 0.7
        extra = shade(main, f)
        if extra in cols:
            extra = shade(main, -f)
        cols.append(extra)
        weights.append(0.3)
    return Palette(cols, weights, rng)


def _bisect(fn: Any, target: float, hi: float = 64.0) -> float:
    """x in 0..hi with fn(x) == target for an increasing fn (14 halvings: hi/16384 is finer
    than any target the vocabulary's ranges can tell apart)."""
    lo = 0.0
    for _ in range(14):
        mid = (lo + hi) / 2
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _resaturate(rgb: np.ndarray, f: float) -> np.ndarray:
    """Scale colourfulness about each pixel's grey level (luma kept, so edges are too)."""
    y = (rgb @ _LUMA)[..., None]
    return np.clip(y + f * (rgb - y), 0.0, 1.0)


def tone(
    rgb: np.ndarray, s_target: float | None, v_target: float | None, s_avoid: list[tuple[float, float]]
) -> np.ndarray:
    """Saturation (mean HSV saturation) by scaling colour about grey, then lightness (mean
    HSV value) by a gamma on V, which leaves every pixel's saturation and hue exactly as
    they were; both solved on a subsample."""
    out = rgb
    sub = (slice(1, None, 6), slice(1, None, 6))
    small = out[sub]
    s_now = float(hsv_sv(small)[0].mean())
    target = s_target
    if target is None and s_avoid:
        moved = _outside(s_now, s_avoid)
        target = moved if abs(moved - s_now) > 1e-6 else None
    if target is not None and s_now > 1e-4:
        f = _bisect(lambda x: float(hsv_sv(_resaturate(small, x))[0].mean()), target, hi=8.0)
        out = _resaturate(out, f)
        small = out[sub]
        s_now = float(hsv_sv(small)[0].mean())
        if s_now < target - 0.01:
            # Luma-keeping saturation clips before vivid targets; finish by scaling S about V.
            sv, _ = hsv_sv(small)
            f = _bisect(lambda x: float(np.minimum(sv * x, 1.0).mean()), target)
            sfull, vfull = hsv_sv(out)
            fx = np.minimum(f, 1.0 / np.maximum(sfull, 1e-6))[..., None]
            out = vfull[..., None] - fx * (vfull[..., None] - out)
    if v_target is not None:
        # Capped below 1 so that white paper can be darkened by the curve too.
        v = np.clip(out[sub].max(-1), 1e-4, 0.985)
        if abs(float(v.mean()) - v_target) > 0.005:
            # A gamma on V (an exposure curve): keeps hue and saturation, and unlike a gain it
            # keeps contrast at the end of the range the image is pushed toward.
            e = _bisect(lambda x: -float((v ** math.exp(x - 4.0)).mean()), -v_target, hi=10.0)
            gamma = math.exp(e - 4.0)
            vfull = out.max(-1, keepdims=True)
            vcap = np.clip(vfull, 1e-4, 0.985)
            out = out * (vcap**gamma / np.maximum(vfull, 1e-4))
    return np.clip(out, 0.0, 1.0)


def _complexity_guess(target: float) -> float:
    return float(np.clip(math.log(max(target, 0.004) / 0.012) / math.log(0.6 / 0.012), 0.0, 1.0))


class PainterGenerator:
    """Embedded procedural generator: no weights, deterministic per seed, ~0.1-0.3 s per 512 px image."""

    name = "painter"

    def __init__(self, max_renders: int = MAX_RENDERS) -> None:
        self.max_renders = max_renders

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int = 1,
        seed: int | None = None,
        size: tuple[int, int] = (512, 512),
        profile: UserProfile | None = None,
        on_step: Callable[[int, int], None] | None = None,  # a render is one step: nothing to report
    ) -> list[GeneratedImage]:
        if n < 1:
            raise InputError(f"n: need at least one image, got {n}")
        w, h = int(size[0]), int(size[1])
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise InputError(f"size: {w}x{h} is outside 16..{MAX_SIDE} px per side")
        base_seed = int(seed) if seed is not None else int(np.random.default_rng().integers(0, 2**31 - 1))
        return [self._one(prompt, negative_prompt, base_seed + i, (w, h), profile) for i in range(n)]

    def _one(
        self,
        prompt: str,
        negative_prompt: str | None,
        seed: int,
        size: tuple[int, int],
        profile: UserProfile | None,
    ) -> GeneratedImage:
        plan = make_plan(prompt, negative_prompt, profile, np.random.default_rng([seed, 0]))
        image, measured = self.render(plan, seed, size)
        notes = [SUBJECT_NOTE]
        lo, hi = plan.detail_range
        if plan.detail is not None and not (
            lo / DETAIL_TOLERANCE <= measured["edge_density"] <= hi * DETAIL_TOLERANCE
        ):
            notes.append(
                f"detail {plan.detail.name} ({lo:g}-{hi:g}) not reached with {plan.treatment}: "
                f"edge density {measured['edge_density']:.3f}"
            )
        return GeneratedImage(
            image=image,
            seed=seed,
            prompt=prompt,
            negative_prompt=negative_prompt,
            backend=self.name,
            params={**plan.params(), "size": list(size), "measured": measured},
            notes=notes,
        )

    def render(self, plan: Plan, seed: int, size: tuple[int, int]) -> tuple[Image.Image, dict[str, Any]]:
        """Paint `plan`, searching the complexity that puts the edge density in range.

        Edge density is measured at SEARCH_SIDE px anyway, so the search renders at that
        size; the full-size image then gets FULL_RENDERS tries from the complexity found,
        accepting a result within DETAIL_TOLERANCE of the range (a small image's strokes
        are crisper after downscaling than a big one's, so the two rarely agree exactly).
        """
        vocab = load_vocabulary()
        bad_s = [
            r
            for name in (plan.avoid.get(Element.SATURATION.value) or [])
            if (term := vocab.get(name, Element.SATURATION)) and (r := term.saturation_range)
        ]
        c = _complexity_guess(plan.detail_target)
        scale = SEARCH_SIDE / max(size)
        if scale < 1:
            small = (max(16, round(size[0] * scale)), max(16, round(size[1] * scale)))
            c, _, _ = self._search(plan, seed, small, bad_s, c, self.max_renders, 1.0)
            c, ed, img = self._search(plan, seed, size, bad_s, c, FULL_RENDERS, DETAIL_TOLERANCE)
        else:
            c, ed, img = self._search(plan, seed, size, bad_s, c, self.max_renders, 1.0)
        s, v = hsv_sv(np.asarray(img, dtype=np.float32)[::2, ::2] / 255.0)
        measured = {
            "edge_density": round(ed, 4),
            "saturation": round(float(s.mean()), 4),
            "lightness": round(float(v.mean()), 4),
            "complexity": round(c, 4),
        }
        return img, measured

    def _paint(
        self, plan: Plan, seed: int, size: tuple[int, int], bad_s: list[tuple[float, float]], c: float
    ) -> Image.Image:
        rng = np.random.default_rng([seed, 1])
        pal = _palette(plan, rng)
        base = compose(plan.family, size, pal, c, rng)
        rgb = tone(treat(plan.treatment, base, c, rng), plan.saturation_target, plan.lightness_target, bad_s)
        return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))

    def _search(
        self,
        plan: Plan,
        seed: int,
        size: tuple[int, int],
        bad_s: list[tuple[float, float]],
        c: float,
        renders: int,
        tolerance: float,
    ) -> tuple[float, float, Image.Image]:
        """Render from complexity `c`, correcting it until the edge density is in range
        (widened by `tolerance`), at most `renders` times."""
        target = plan.detail_target
        lo, hi = plan.detail_range[0] / tolerance, plan.detail_range[1] * tolerance
        tried: list[tuple[float, float, Image.Image]] = []
        c_lo, c_hi = 0.0, 1.0
        for _ in range(renders):
            img = self._paint(plan, seed, size, bad_s, c)
            ed = edge_density(img)
            tried.append((c, ed, img))
            if lo <= ed <= hi:
                break
            # Edge density grows roughly exponentially with complexity: step in log space,
            # inside the bracket the previous renders established.
            if ed < target:
                c_lo = max(c_lo, c)
            else:
                c_hi = min(c_hi, c)
            step = math.log(max(target, 0.004) / max(ed, 0.004)) / 4.0
            nxt = float(np.clip(c + step, c_lo, c_hi))
            if abs(nxt - c) < 0.01:
                nxt = (c_lo + c_hi) / 2
                if abs(nxt - c) < 0.01:
                    break
            c = nxt
        return min(tried, key=lambda t: abs(math.log(max(t[1], 0.004) / max(target, 0.004))))


def from_uri(rest: str, **options: Any) -> PainterGenerator:
    """The `painter` backend: no argument; options are `PainterGenerator`'s keyword arguments."""
    if rest:
        raise InputError(f"backend 'painter' takes no argument, got painter:{rest}")
    return PainterGenerator(**options)
