"""The features assessor's reasons: one sentence per element a person would write.

A reason says what the picture is (its palette, its saturation and lightness, its detail,
the medium it looks like, how its composition reads), then how that sits with the taste:
the side it is nearer, in words graded by the distance. It names only what the profile
names: a side that says nothing about an element is not mentioned, and a reason never says
a picture is both like the likes and like the dislikes.

>>> from agentpref.profile import Profile
>>> relation(Element.SATURATION, Profile(saturation=["Muted"]), Profile(saturation=["Vivid"]), 0.2, 2.5)
'it matches your liked muted saturation and is far from your disliked vivid saturation'
>>> relation(Element.COLOR, Profile(color=["Teal"]), Profile(color=["Crimson"]), 2.0, 0.4)
'it is closer to your disliked palette of crimson than to your liked palette of teal'
"""

from __future__ import annotations

from collections.abc import Sequence

from agentpref.assessors.features.distances import (
    FAMILY_WORDS,
    TREATMENT_WORDS,
    family_probabilities,
    treatment_probabilities,
)
from agentpref.assessors.features.fit import key_of
from agentpref.assessors.features.profile import best_detail_term, best_saturation_term
from agentpref.images.measure import Measurements
from agentpref.profile import Element, Profile
from agentpref.vocabulary import LIGHTNESS_KEYS, Vocabulary


def joined(names: Sequence[str], limit: int = 3) -> str:
    """'a', 'a and b', 'a, b and c' (lower case, at most `limit`)."""
    t = [x.lower() for x in names[:limit]]
    return t[0] if len(t) == 1 else ", ".join(t[:-1]) + " and " + t[-1]


def named(element: Element, side: Profile) -> str | None:
    """What `side` says about `element` as a noun phrase ('palette of teal and navy',
    'muted saturation and a high-key look'), or None when it says nothing."""
    terms = side.terms(element)
    phrase = (
        {
            Element.COLOR: "palette of {}",
            Element.SATURATION: "{} saturation",
            Element.DETAIL: "{} detail",
            Element.ARTISTIC_MEDIUM: "{}",
            Element.ART_STYLES: "{} style",
        }[element].format(joined(terms))
        if terms
        else None
    )
    key = key_of(side) if element is Element.SATURATION else None
    if key is None:
        return phrase
    look = f"a {key} look"
    return f"{phrase} and {look}" if phrase else look


def _closeness(distance: float) -> str:
    if distance < 0.5:
        return "matches"
    if distance < 1.5:
        return "is close to"
    if distance < 3.0:
        return "is some way from"
    return "is far from"


def relation(
    element: Element, likes: Profile, dislikes: Profile, d_like: float | None, d_dislike: float | None
) -> str:
    """How a picture at these distances sits with the taste, as a clause starting with 'it'."""
    liked, disliked = named(element, likes), named(element, dislikes)
    if d_like is None or liked is None:
        if d_dislike is None or disliked is None:
            return f"no {element.value.lower()} preference is known, so this counts as neutral"
        return f"it {_closeness(d_dislike)} your disliked {disliked}"
    if d_dislike is not None and disliked is not None and d_dislike < d_like:
        return f"it is closer to your disliked {disliked} than to your liked {liked}"
    clause = f"it {_closeness(d_like)} your liked {liked}"
    if d_dislike is not None and disliked is not None and d_dislike >= 1.5:
        clause += f" and is far from your disliked {disliked}"
    return clause


def _key_word(v: float) -> str:
    return next((key for key, (lo, hi) in LIGHTNESS_KEYS.items() if lo <= v <= hi), "mid-key")


def described(element: Element, m: Measurements, vocab: Vocabulary) -> str:
    """What the picture is on `element`, in words and the measured numbers."""
    if element is Element.COLOR:
        return f"its palette is mostly {joined(m.color_terms(3)) or 'undefined'}"
    if element is Element.SATURATION:
        level = best_saturation_term(m.saturation_mean, m.lightness_mean, vocab.terms(Element.SATURATION))
        return (
            f"its colour is {level.name.lower()} and {_key_word(m.lightness_mean)} "
            f"(saturation {m.saturation_mean:.2f}, lightness {m.lightness_mean:.2f})"
        )
    if element is Element.DETAIL:
        level = best_detail_term(m.edge_density, vocab.terms(Element.DETAIL))
        return f"its detail is {level.name.lower()} (edge density {m.edge_density:.3f})"
    if element is Element.ARTISTIC_MEDIUM:
        p = treatment_probabilities(m)
        return f"it looks like {TREATMENT_WORDS[max(p, key=p.__getitem__)]}"
    p = family_probabilities(m)
    return f"its composition reads as {FAMILY_WORDS[max(p, key=p.__getitem__)]}"


def reason(
    element: Element,
    m: Measurements,
    likes: Profile,
    dislikes: Profile,
    d_like: float | None,
    d_dislike: float | None,
    vocab: Vocabulary,
) -> str:
    """One element's reason: what the picture is; how it sits with the taste."""
    return f"{described(element, m, vocab)}; {relation(element, likes, dislikes, d_like, d_dislike)}"
