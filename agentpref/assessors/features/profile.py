"""Predicting a `UserProfile` from measured references (the features assessor's `profile`).

Per element, the profile is what separates the liked set from the disliked set:
colours liked and not equally present in dislikes; the Saturation and Detail terms whose
measured ranges hold each set's mean; the lightness key ("high-key", "low-key") that sets a
side apart, as keywords; the medium from the texture's treatment and the art style from the
composition, both preferring terms named in the images' prompt metadata.

Measured elements (colour, saturation, detail) are confident without any metadata (their
confidence grows with how well the sets separate); only medium and style, guessed from
pixels alone, are marked uncertain when no prompt names them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from agentpref.assessors.features.distances import (
    DETAIL_UNIT,
    FAMILY_WORDS,
    LIGHTNESS_UNIT,
    SATURATION_UNIT,
    TREATMENT_WORDS,
    family_probabilities,
    log_detail,
    treatment_probabilities,
)
from agentpref.assessors.features.fit import range_distance
from agentpref.images.measure import Measurements
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.term_search import find_terms
from agentpref.vocabulary import KEY_WORDS, LIGHTNESS_KEYS, Term, Vocabulary

# A representative medium per treatment and style per family, used when no prompt names one.
CANONICAL_MEDIUM = {
    "flat": "Digital Illustration",
    "watercolor": "Watercolor",
    "impasto": "Oil Painting",
    "pixel": "Pixel Sprites",
    "hatching": "Pen and Ink",
    "airbrush": "Airbrush",
    "photographic": "Photography",
    "ink": "Ink Wash",
    "mosaic": "Mosaic",
}
CANONICAL_STYLE = {
    "geometric": "Hard-edge Painting",
    "organic": "Art Nouveau",
    "landscape": "Impressionism",
    "radial": "Orphism",
    "grid": "De Stijl",
    "portrait-like": "Expressionism",
    "abstract": "Abstract Art",
}
GUESS_CONFIDENCE = 0.3
MEASURED_CONFIDENCE = 0.6
UNSAID_LIGHTNESS = 0.5  # units: a Saturation term without a lightness range fits any lightness, loosely
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "with",
        "and",
        "or",
        "by",
        "from",
        "is",
        "are",
        "be",
        "as",
        "it",
        "its",
        "this",
        "that",
        "very",
        "high",
        "quality",
        "best",
        "masterpiece",
        "detailed",
        "style",
        "art",
        "artwork",
        "image",
        "picture",
        "photo",
        "render",
        "painting",
        "strongly",
        "above",
        "all",
        "palette",
        "saturation",
        "detail",
        "negative",
        "prompt",
        "color",
        "colors",
        "colour",
        "colours",
        "tones",
    ]
)


def _terms_named(prompts: Sequence[str | None], vocab: Vocabulary, element: Element) -> Counter[str]:
    counts: Counter[str] = Counter()
    for p in prompts:
        for term, _ in find_terms(p, vocab):
            if term.element is element:
                counts[term.name] += 1
    return counts


def _color_weights(ms: Sequence[Measurements]) -> dict[str, float]:
    """Average share of each nearest colour term over a set of images."""
    total: dict[str, float] = {}
    for m in ms:
        for p in m.palette:
            total[p.term] = total.get(p.term, 0.0) + p.weight / len(ms)
    return total


def _separation(a: Sequence[float], b: Sequence[float], unit: float) -> float:
    """Confidence 0-1 that two sets differ on a quantity (effect size); one set: agreement within it."""
    xa = np.array(a, dtype=float)
    if len(b) == 0:
        spread = float(xa.std()) if len(xa) > 1 else unit
        return float(np.clip(1.0 / (1.0 + (spread / unit) ** 2) * min(1.0, 0.45 + 0.15 * len(xa)), 0.0, 1.0))
    xb = np.array(b, dtype=float)
    pooled = math.sqrt((xa.var() + xb.var()) / 2 + (unit / 3) ** 2)
    effect = abs(xa.mean() - xb.mean()) / pooled
    return float(np.clip(1.0 - math.exp(-effect / 2.0), 0.0, 1.0))


def _measured(separation: float) -> float:
    """A measured element's confidence: never a guess, surer the better the sets separate."""
    return round(MEASURED_CONFIDENCE + (1.0 - MEASURED_CONFIDENCE) * separation, 2)


def best_saturation_term(s: float, v: float, terms: Sequence[Term]) -> Term:
    """The Saturation term whose ranges hold mean saturation `s` and lightness `v` best: a
    term with a lightness range that holds `v` is more specific than one without."""

    def cost(t: Term) -> float:
        ds = range_distance(s, *(t.saturation_range or (0.0, 1.0)), SATURATION_UNIT)
        dv = range_distance(v, *t.lightness_range, LIGHTNESS_UNIT) if t.lightness_range else UNSAID_LIGHTNESS
        return math.sqrt(ds * ds + 0.5 * dv * dv)

    return min(terms, key=cost)


def best_detail_term(ed: float, terms: Sequence[Term]) -> Term:
    """The Detail term whose edge-density range holds `ed` best (on the log scale detail is compared on)."""

    def cost(t: Term) -> float:
        lo, hi = t.detail_range or (0.0, 1.0)
        return range_distance(log_detail(ed), log_detail(lo), log_detail(hi), DETAIL_UNIT)

    return min(terms, key=cost)


def typical_detail(ms: Sequence[Measurements]) -> float:
    """A set's edge density, averaged on the scale detail is compared on (a geometric mean)."""
    return max(float(np.exp(np.mean([log_detail(m.edge_density) for m in ms])) - 0.01), 0.0)


def lightness_key(v: float, other: float | None) -> str | None:
    """The key of a set of mean lightness `v`: its band in `LIGHTNESS_KEYS`, and, beside another
    set of mean lightness `other`, only when the two differ that way by a noticeable step."""
    for key, (lo, hi) in LIGHTNESS_KEYS.items():
        if lo <= v <= hi:
            if other is None:
                return key
            lighter = v - other >= LIGHTNESS_UNIT
            darker = other - v >= LIGHTNESS_UNIT
            return key if (lighter if key == "high-key" else darker) else None
    return None


def _keywords(prompts: Sequence[str | None], vocab: Vocabulary, limit: int = 6) -> list[str]:
    term_words = {w for t in vocab for w in re.findall(r"[a-z]+", t.name.lower())}
    counts: Counter[str] = Counter()
    for p in prompts:
        if p:
            # Each word once per prompt, in reading order: ties keep the order words first appear in.
            words = re.findall(r"[a-z]{3,}", p.lower())
            counts.update(list(dict.fromkeys(w for w in words if w not in _STOPWORDS | term_words)))
    need = 2 if sum(1 for p in prompts if p) > 1 else 1
    return [w for w, n in counts.most_common() if n >= need][:limit]


def _side(
    own: Sequence[Measurements],
    other: Sequence[Measurements],
    own_prompts: Sequence[str | None],
    vocab: Vocabulary,
    liked_side: bool,
) -> Profile:
    """One side of the profile: what `own` has that `other` does not."""
    conf: dict[Element, float] = {}
    evidence: dict[Element, str] = {}
    n = len(own)
    # Colour: own palette terms that are not equally present on the other side.
    cw, ow = _color_weights(own), _color_weights(other) if other else {}
    ranked = sorted(cw, key=lambda t: -(cw[t] - ow.get(t, 0.0)))
    colors = [t for t in ranked if cw[t] - ow.get(t, 0.0) > 0.04][:3] or ranked[:1]
    share = sum(cw[t] for t in colors)
    conf[Element.COLOR] = _measured(float(np.clip(share - sum(ow.get(t, 0.0) for t in colors), 0.0, 1.0)))
    evidence[Element.COLOR] = f"{', '.join(colors)} cover {share:.0%} of the palettes of {n} image(s)" + (
        f", {sum(ow.get(t, 0.0) for t in colors):.0%} of the other side's" if other else ""
    )
    # Saturation and key: the term whose ranges hold the set's mean saturation and lightness.
    s, v = [m.saturation_mean for m in own], [m.lightness_mean for m in own]
    s_other, v_other = [m.saturation_mean for m in other], [m.lightness_mean for m in other]
    sat = best_saturation_term(float(np.mean(s)), float(np.mean(v)), vocab.terms(Element.SATURATION))
    key = lightness_key(float(np.mean(v)), float(np.mean(v_other)) if other else None)
    conf[Element.SATURATION] = _measured(
        max(_separation(s, s_other, SATURATION_UNIT), _separation(v, v_other, LIGHTNESS_UNIT))
    )
    evidence[Element.SATURATION] = (
        f"mean saturation {np.mean(s):.2f}, lightness {np.mean(v):.2f}"
        + (f" vs {np.mean(s_other):.2f}, {np.mean(v_other):.2f}" if other else "")
        + (f": {key}" if key else "")
    )
    # Detail: the term whose edge-density range holds the set's typical edge density.
    ed = typical_detail(own)
    det = best_detail_term(ed, vocab.terms(Element.DETAIL))
    conf[Element.DETAIL] = _measured(
        _separation(
            [log_detail(m.edge_density) for m in own], [log_detail(m.edge_density) for m in other], 0.3
        )
    )
    evidence[Element.DETAIL] = f"edge density {ed:.3f}" + (
        f" vs {typical_detail(other):.3f}" if other else ""
    )
    # Medium: the treatment the textures show; a medium named in prompts with that treatment wins.
    treatment, t_share = _vote(own, treatment_probabilities, "flat")
    medium, conf[Element.ARTISTIC_MEDIUM], evidence[Element.ARTISTIC_MEDIUM] = _choose(
        _terms_named(own_prompts, vocab, Element.ARTISTIC_MEDIUM),
        vocab,
        Element.ARTISTIC_MEDIUM,
        lambda t: t.treatment == treatment,
        CANONICAL_MEDIUM[treatment],
        f"texture looks like {TREATMENT_WORDS[treatment]} ({t_share:.0%})",
        n,
    )
    family, f_share = _vote(own, family_probabilities, "abstract")
    style, conf[Element.ART_STYLES], evidence[Element.ART_STYLES] = _choose(
        _terms_named(own_prompts, vocab, Element.ART_STYLES),
        vocab,
        Element.ART_STYLES,
        lambda t: t.family == family,
        CANONICAL_STYLE[family],
        f"composition reads as {FAMILY_WORDS[family]} ({f_share:.0%})",
        n,
    )
    return Profile(
        art_styles=[style],
        color=colors,
        artistic_medium=[medium],
        saturation=[sat.name],
        detail=[det.name],
        keywords=list(
            dict.fromkeys(
                [*(KEY_WORDS[key] if key else ()), *(_keywords(own_prompts, vocab) if liked_side else [])]
            )
        ),
        confidence=conf,
        evidence=evidence,
    )


def _vote(
    own: Sequence[Measurements], probabilities: Callable[[Measurements], dict[str, float]], default: str
) -> tuple[str, float]:
    """The class (treatment, composition family) the images favour on average, and its mean probability."""
    votes: Counter[str] = Counter()
    for m in own:
        votes.update({k: x / len(own) for k, x in probabilities(m).items()})
    return votes.most_common(1)[0] if votes else (default, 0.0)


def _choose(
    named: Counter[str],
    vocab: Vocabulary,
    element: Element,
    agrees: Callable[[Term], bool],
    canonical: str,
    seen: str,
    n: int,
) -> tuple[str, float, str]:
    """A term for a guessable element: prompt metadata first (more so when the pixels agree)."""
    if named:
        name, count = named.most_common(1)[0]
        term = vocab.get(name, element)
        fits = term is not None and agrees(term)
        conf = min(0.95, 0.45 + 0.4 * count / n + (0.1 if fits else 0.0))
        return name, round(conf, 2), f"named in {count} of {n} prompt(s); {seen}"
    return canonical, GUESS_CONFIDENCE, f"no prompt metadata; guessed from pixels: {seen}"


def build_profile(
    likes: Sequence[Measurements],
    dislikes: Sequence[Measurements],
    like_prompts: Sequence[str | None],
    dislike_prompts: Sequence[str | None],
    vocab: Vocabulary,
) -> UserProfile:
    """The profile separating likes from dislikes (dislikes may be empty)."""
    liked = _side(likes, dislikes, like_prompts, vocab, liked_side=True)
    disliked = _side(dislikes, likes, dislike_prompts, vocab, liked_side=False) if dislikes else Profile()
    if dislikes:
        # A term both sides share says nothing about the difference: keep it on the liked side only.
        for e in ELEMENTS:
            if e is Element.COLOR:
                continue
            if liked.terms(e) == disliked.terms(e):
                disliked = disliked.with_terms(e, [])
    return UserProfile(likes=liked, dislikes=disliked)
