"""The `painter` generator: a procedural renderer that paints a taste, not a subject.

It turns the vocabulary terms named in the prompt (and the profile where the prompt is
silent) plus a seed into an image that visibly realises the palette (the Color terms'
reference colours), saturation and lightness (inside the Saturation term's ranges), detail
(inside the Detail term's edge-density range), a medium-like treatment (the Artistic
Medium term's `treatment` hint) and a composition (the Art Style term's `family` hint).
How the prompt's order, emphasis and negative prompt steer this is in `plan`. It does not
draw the prompt's subject: the rest of the prompt is ignored, and every image carries a
note saying so.

The painter checks itself with `agentpref.images.measure` (the same definitions the
features assessor uses): detail is reached by re-rendering with corrected complexity,
saturation and lightness by exact HSV scaling (`tone`).

>>> from agentpref.profile import Profile, UserProfile
>>> p = UserProfile(likes=Profile(color=["Teal", "Navy"], saturation=["Muted"], detail=["Fine"]))
>>> img = PainterGenerator().generate("a lighthouse", seed=3, profile=p, size=(128, 128))[0]
>>> img.params["colors"], img.params["saturation"], img.params["detail"]
(['Teal', 'Navy'], 'Muted', 'Fine')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from agentpref.errors import InputError
from agentpref.generators.base import GeneratedImage, ImageConditioning
from agentpref.generators.painter.compose import Palette, compose, shade
from agentpref.generators.painter.plan import AVOID_DELTA_E, Plan, make_plan
from agentpref.generators.painter.streams import Variation, decision_streams
from agentpref.generators.painter.tone import tone
from agentpref.generators.painter.treat import surface, treat
from agentpref.images.pixels import edge_density, hsv_sv
from agentpref.profile import Element, UserProfile
from agentpref.vocabulary import srgb_to_lab

SUBJECT_NOTE = "painter renders style only; it does not draw the prompt's subject"
MAX_RENDERS = 5  # renders spent searching for the detail level, per size
SEARCH_SIDE = 256  # edge density is defined on a 256 px long side (agentpref.vocabulary)
FULL_RENDERS = 2  # full-size tries after the search at SEARCH_SIDE
DETAIL_TOLERANCE = 1.15  # accepted factor outside a detail term's range (as in the painter's note)
MAX_SIDE = 4096
# The element each painting stage's stream shapes, in order (palette, composition, marks, surface).
PAINT_DECISIONS = (Element.COLOR, Element.ART_STYLES, Element.ARTISTIC_MEDIUM, Element.ARTISTIC_MEDIUM)


def _luma(c: tuple[int, ...]) -> float:
    return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0


def _near_avoided(c: tuple[int, int, int], avoid_lab: list[np.ndarray]) -> bool:
    lab = srgb_to_lab(np.array(c, dtype=float))
    return any(float(np.linalg.norm(lab - a)) < AVOID_DELTA_E for a in avoid_lab)


def _palette(plan: Plan, rng: np.random.Generator) -> Palette:
    """The plan's colours, plus lighter/darker variants of them when there are fewer than
    three or their lightness is too even to draw visible edges (edge density is measured
    on grey levels, so red beside an equally light green has no edge at all). Variants
    take `plan.variant_weight` each, and none is drawn near an avoided colour."""
    cols: list[tuple[int, int, int]] = [(t.rgb[0], t.rgb[1], t.rgb[2]) for t in plan.colors if t.rgb]
    weights = list(plan.color_weights)
    low_sat = plan.saturation_target is None or plan.saturation_target < 0.5

    def add(main: tuple[int, int, int], fs: tuple[float, ...]) -> None:
        for f in fs:
            extra = shade(main, f)
            if extra not in cols and not _near_avoided(extra, plan.avoid_lab):
                cols.append(extra)
                weights.append(plan.variant_weight)
                return

    for i in range(6):
        if len(cols) >= 3:
            break
        # Tints lower saturation, shades keep it: vivid targets get shades.
        f = (0.45 if i % 2 == 0 else -0.45) if low_sat else (-0.3 if i % 2 == 0 else -0.55)
        add(cols[i % len(plan.colors)], (f, -f, f / 2))
    for _ in range(2):
        lumas = [_luma(c) for c in cols]
        if max(lumas) - min(lumas) >= 0.45:
            break
        main = cols[0]
        f = -0.7 if _luma(main) - min(lumas) < max(lumas) - _luma(main) or _luma(main) > 0.6 else 0.7
        add(main, (f, -f))
    return Palette(cols, weights, rng, allowed=lambda c: not _near_avoided(c, plan.avoid_lab))


def _complexity_guess(target: float) -> float:
    return float(np.clip(math.log(max(target, 0.004) / 0.012) / math.log(0.6 / 0.012), 0.0, 1.0))


class PainterGenerator:
    """Embedded procedural generator: no weights, deterministic per seed, ~0.1-0.3 s per 512 px image."""

    name = "painter"
    conditioning = frozenset({"variation"})

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
        conditioning: ImageConditioning | None = None,
    ) -> list[GeneratedImage]:
        """`n` images from seeds `seed`, `seed + 1`, ...; a `conditioning` may ask for a
        `variation` (decisions about some elements drawn again, see `streams`)."""
        if n < 1:
            raise InputError(f"n: need at least one image, got {n}")
        w, h = int(size[0]), int(size[1])
        if not (16 <= w <= MAX_SIDE and 16 <= h <= MAX_SIDE):
            raise InputError(f"size: {w}x{h} is outside 16..{MAX_SIDE} px per side")
        base_seed = int(seed) if seed is not None else int(np.random.default_rng().integers(0, 2**31 - 1))
        if conditioning is not None and (unable := conditioning.kinds() - self.conditioning):
            raise InputError(f"painter: cannot take {', '.join(sorted(unable))}; it takes only a variation")
        variation = {e: v for e, v in (conditioning.variation if conditioning else {}).items() if v}
        return [
            self._one(prompt, negative_prompt, base_seed + i, (w, h), profile, variation) for i in range(n)
        ]

    def _one(
        self,
        prompt: str,
        negative_prompt: str | None,
        seed: int,
        size: tuple[int, int],
        profile: UserProfile | None,
        variation: Variation,
    ) -> GeneratedImage:
        plan = make_plan(prompt, negative_prompt, profile, np.random.default_rng([seed, 0]), variation)
        image, measured = self.render(plan, seed, size, variation)
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
            params={
                **plan.params(),
                "size": list(size),
                "measured": measured,
                **({"variation": {e.value: v for e, v in variation.items()}} if variation else {}),
            },
            notes=notes,
        )

    def render(
        self, plan: Plan, seed: int, size: tuple[int, int], variation: Variation | None = None
    ) -> tuple[Image.Image, dict[str, Any]]:
        """Paint `plan`, searching the complexity that puts the edge density in range.

        Edge density is measured at SEARCH_SIDE px anyway, so the search renders at that
        size; the full-size image then gets FULL_RENDERS tries from the complexity found,
        accepting a result within DETAIL_TOLERANCE of the range (a small image's strokes
        are crisper after downscaling than a big one's, so the two rarely agree exactly).
        """
        c = _complexity_guess(plan.detail_target)
        scale = SEARCH_SIDE / max(size)
        if scale < 1:
            small = (max(16, round(size[0] * scale)), max(16, round(size[1] * scale)))
            c, _, _ = self._search(plan, seed, small, c, self.max_renders, 1.0, variation)
            c, ed, img = self._search(plan, seed, size, c, FULL_RENDERS, DETAIL_TOLERANCE, variation)
        else:
            c, ed, img = self._search(plan, seed, size, c, self.max_renders, 1.0, variation)
        s, v = hsv_sv(np.asarray(img, dtype=np.float32)[::2, ::2] / 255.0)
        measured = {
            "edge_density": round(ed, 4),
            "saturation": round(float(s.mean()), 4),
            "lightness": round(float(v.mean()), 4),
            "complexity": round(c, 4),
        }
        return img, measured

    def _paint(
        self, plan: Plan, seed: int, size: tuple[int, int], c: float, variation: Variation | None
    ) -> Image.Image:
        # A stream per stage: a seed keeps its composition when the palette changes (see make_plan).
        r_palette, r_compose, r_treat, r_surface = decision_streams(
            np.random.default_rng([seed, 1]), PAINT_DECISIONS, variation or {}
        )
        pal = _palette(plan, r_palette)
        base = compose(plan.family, size, pal, c, r_compose)
        treated = treat(plan.treatment, base, c, r_treat)
        rgb = tone(treated, plan.saturation_target, plan.lightness_target, plan.saturation_avoid)
        rgb = surface(plan.treatment, rgb, r_surface)
        # Grain on dark paint can raise the mean saturation out of the term's range: set it again.
        rgb = tone(rgb, plan.saturation_target, plan.lightness_target, plan.saturation_avoid)
        return Image.fromarray((rgb * 255 + 0.5).astype(np.uint8))

    def _search(
        self,
        plan: Plan,
        seed: int,
        size: tuple[int, int],
        c: float,
        renders: int,
        tolerance: float,
        variation: Variation | None = None,
    ) -> tuple[float, float, Image.Image]:
        """Render from complexity `c`, correcting it until the edge density is in range
        (widened by `tolerance`), at most `renders` times."""
        target = plan.detail_target
        lo, hi = plan.detail_range[0] / tolerance, plan.detail_range[1] * tolerance
        tried: list[tuple[float, float, Image.Image]] = []
        c_lo, c_hi = 0.0, 1.0
        for _ in range(renders):
            img = self._paint(plan, seed, size, c, variation)
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
