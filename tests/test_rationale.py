"""The features judge's reasons read as sentences a person would write, whatever it measured
and whatever the profile says: no empty names, no "nothing", no reason that says a picture is
like both sides, and words that agree with the score."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from agentpref.assessors.features.fit import fit_score, side_distance
from agentpref.assessors.features.rationale import reason
from agentpref.images.composition import LAYOUT_FEATURES
from agentpref.images.measure import TEXTURE_FEATURES, Measurements, PaletteColor
from agentpref.profile import ELEMENTS, Element, Profile
from agentpref.vocabulary import LIGHTNESS_KEYS, load_vocabulary, srgb_to_lab

VOCAB = load_vocabulary()
unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def measurements(draw: st.DrawFn) -> Measurements:
    colours = draw(st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=1, max_size=5))
    weights = [draw(st.floats(0.05, 1.0)) for _ in colours]
    total = sum(weights)
    palette = tuple(
        PaletteColor(
            rgb=rgb,
            lab=tuple(float(x) for x in srgb_to_lab([rgb])[0]),  # type: ignore[arg-type]
            weight=w / total,
            term=VOCAB.nearest_color(rgb).name,
            saturation=0.5,
        )
        for rgb, w in zip(colours, weights, strict=True)
    )
    return Measurements(
        width=64, height=64, palette=palette,
        saturation_mean=draw(unit), saturation_std=0.1, lightness_mean=draw(unit), lightness_std=0.1,
        edge_density=draw(st.floats(0.0, 0.9)), hf_ratio=draw(st.floats(0.0, 0.5)),
        texture={k: draw(st.floats(0.0, 4.0)) for k in TEXTURE_FEATURES},
        layout={k: draw(unit) for k in LAYOUT_FEATURES},
    )  # fmt: skip


@st.composite
def sides(draw: st.DrawFn) -> Profile:
    terms = {
        e.field: draw(st.lists(st.sampled_from([t.name for t in VOCAB.terms(e)]), max_size=3, unique=True))
        for e in ELEMENTS
    }
    key = draw(st.sampled_from([None, *LIGHTNESS_KEYS]))
    return Profile(**terms, keywords=[key] if key else [])


BROKEN = re.compile(r"\bnothing\b|\bNone\b|  |\s[,;.]|,,|your (?:liked|disliked)(?:$|[;,.]| and | than )")


@settings(max_examples=300, deadline=None)
@given(m=measurements(), likes=sides(), dislikes=sides())
def test_every_reason_is_a_sentence_that_agrees_with_its_score(m, likes, dislikes):
    for element in ELEMENTS:
        d_like = side_distance(element, m, likes, VOCAB)
        d_dislike = side_distance(element, m, dislikes, VOCAB)
        text = reason(element, m, likes, dislikes, d_like, d_dislike, VOCAB)
        score = fit_score(d_like, d_dislike)
        assert text and not BROKEN.search(text), text
        what, _, relation = text.partition("; ")
        assert what and relation.startswith(("it ", "no ")), text
        # Never like both sides at once, and the words follow the distances and the score.
        assert not ("closer to your disliked" in relation and "matches your liked" in relation), text
        if "is closer to your disliked" in relation:
            assert d_dislike is not None and d_like is not None and d_dislike < d_like
            assert score < 3.75, (text, score)
        if relation.startswith("it matches your liked"):
            assert d_like is not None and d_like < 0.5 and score >= 2.5, (text, score)
        if relation.startswith("no "):
            assert score == 2.5


def test_a_side_that_names_nothing_for_an_element_is_not_mentioned():
    from PIL import Image

    from agentpref.images.measure import measure

    teal = measure(Image.new("RGB", (64, 64), (0, 128, 128)))
    likes, dislikes = Profile(color=["Teal"]), Profile(saturation=["Muted"])
    text = reason(
        Element.COLOR, teal, likes, dislikes, side_distance(Element.COLOR, teal, likes), None, VOCAB
    )
    assert "disliked" not in text and text.endswith("it matches your liked palette of teal")
    text = reason(Element.DETAIL, teal, likes, dislikes, None, None, VOCAB)
    assert text.endswith("no detail preference is known, so this counts as neutral")
