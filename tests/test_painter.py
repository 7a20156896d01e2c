"""The painter generator: determinism, and the agreement contract with the features measurements."""

from __future__ import annotations

import numpy as np
import pytest

from agentpref.errors import InputError
from agentpref.generators.base import Generator, ImageConditioning
from agentpref.generators.painter.generator import SUBJECT_NOTE, PainterGenerator
from agentpref.images.measure import measure
from agentpref.profile import Element, Profile, UserProfile
from agentpref.term_search import find_terms
from agentpref.vocabulary import load_vocabulary, srgb_to_lab

SIZE = (256, 256)


@pytest.fixture(scope="module")
def painter() -> PainterGenerator:
    return PainterGenerator()


def _profile(**terms: list[str]) -> UserProfile:
    return UserProfile(likes=Profile(**terms))


def _min_delta_e(rgb: tuple[int, int, int] | list[int], palette_rgbs: list[tuple[int, int, int]]) -> float:
    lab = srgb_to_lab(np.array(rgb, dtype=float))
    return float(min(np.linalg.norm(srgb_to_lab(np.array(p, dtype=float)) - lab) for p in palette_rgbs))


def _has_hue(rgb: tuple[int, int, int], palette_rgbs: list[tuple[int, int, int]]) -> bool:
    """A palette entry of the same hue (within 35 deg in CIELAB), or, for a near-neutral
    colour, of about the same lightness. Saturation scaling keeps hue, not chroma."""
    lab = srgb_to_lab(np.array(rgb, dtype=float))
    labs = [srgb_to_lab(np.array(p, dtype=float)) for p in palette_rgbs]
    if np.hypot(lab[1], lab[2]) < 12:
        return any(abs(x[0] - lab[0]) < 20 for x in labs)
    hue = np.degrees(np.arctan2(lab[2], lab[1]))
    return any(
        np.hypot(x[1], x[2]) >= 3 and abs((np.degrees(np.arctan2(x[2], x[1])) - hue + 180) % 360 - 180) < 35
        for x in labs
    )


def test_is_a_generator_and_says_it_ignores_the_subject(painter: PainterGenerator) -> None:
    assert isinstance(painter, Generator)
    out = painter.generate("a lighthouse at dawn", n=2, seed=7, size=SIZE)
    assert [g.seed for g in out] == [7, 8]
    assert all(SUBJECT_NOTE in g.notes and g.backend == "painter" for g in out)
    assert all(g.image.size == SIZE and g.image.mode == "RGB" for g in out)


def test_same_seed_same_bytes_different_seed_differs(painter: PainterGenerator) -> None:
    p = _profile(
        color=["Teal", "Navy"], saturation=["Muted"], detail=["Fine"], artistic_medium=["Watercolor"]
    )
    a = painter.generate("x", seed=11, size=SIZE, profile=p)[0]
    b = painter.generate("x", seed=11, size=SIZE, profile=p)[0]
    c = painter.generate("x", seed=12, size=SIZE, profile=p)[0]
    assert a.png_bytes() == b.png_bytes()
    assert a.png_bytes() != c.png_bytes()
    # Unknown prompt words are ignored: another subject paints the same picture.
    d = painter.generate("a cat on a sofa", seed=11, size=SIZE, profile=p)[0]
    assert d.png_bytes() == a.png_bytes()


@pytest.mark.parametrize(
    ("terms", "seed"),
    [
        (
            {
                "color": ["Teal", "Crimson"],
                "saturation": ["Vivid"],
                "detail": ["Fine"],
                "artistic_medium": ["Vector Art"],
            },
            1,
        ),
        (
            {
                "color": ["Navy", "Gold"],
                "saturation": ["Muted"],
                "detail": ["Simple"],
                "artistic_medium": ["Watercolor"],
            },
            2,
        ),
        (
            {
                "color": ["Forest Green"],
                "saturation": ["Pastel"],
                "detail": ["Moderate"],
                "artistic_medium": ["Oil Painting"],
            },
            3,
        ),
        (
            {
                "color": ["Orange", "Black"],
                "saturation": ["Rich"],
                "detail": ["Dense"],
                "artistic_medium": ["Pen and Ink"],
            },
            4,
        ),
        (
            {
                "color": ["Cobalt Blue", "Ivory"],
                "saturation": ["Bright"],
                "detail": ["Sparse"],
                "artistic_medium": ["Pixel Sprites"],
            },
            5,
        ),
    ],
)
def test_rendered_image_measures_inside_the_terms_ranges(
    painter: PainterGenerator, terms: dict, seed: int
) -> None:
    """The agreement contract: what the painter paints is what the features assessor measures."""
    vocab = load_vocabulary()
    out = painter.generate("", seed=seed, size=(384, 384), profile=_profile(**terms))[0]
    m = measure(out.image)
    sat = vocab.get(terms["saturation"][0], Element.SATURATION)
    assert sat is not None and sat.saturation_range is not None
    lo, hi = sat.saturation_range
    assert lo - 0.02 <= m.saturation_mean <= hi + 0.02, (m.saturation_mean, sat.saturation_range)
    if sat.lightness_range:
        vlo, vhi = sat.lightness_range
        assert vlo - 0.03 <= m.lightness_mean <= vhi + 0.03, (m.lightness_mean, sat.lightness_range)
    det = vocab.get(terms["detail"][0], Element.DETAIL)
    assert det is not None and det.detail_range is not None
    dlo, dhi = det.detail_range
    assert dlo * 0.8 - 0.005 <= m.edge_density <= dhi * 1.2, (m.edge_density, det.detail_range)
    # The liked hues are present (saturation scaling moves chroma, never hue).
    palette = [p.rgb for p in m.palette]
    for name in terms["color"]:
        term = vocab.get(name, Element.COLOR)
        assert term is not None and term.rgb is not None
        assert _has_hue(term.rgb, palette), (name, palette)
    if sat.name in ("Vivid", "Bright") and out.params["treatment"] in ("flat", "pixel"):
        # Vivid flat colour keeps chroma too: the liked colours themselves, close in CIELAB.
        assert all(_min_delta_e(vocab.get(n).rgb, palette) < 30 for n in terms["color"])  # type: ignore[union-attr]
    assert out.params["treatment"] == vocab.get(terms["artistic_medium"][0]).treatment  # type: ignore[union-attr]


def test_saturation_and_detail_levels_are_ordered(painter: PainterGenerator) -> None:
    base = {"color": ["Teal", "Coral"], "artistic_medium": ["Gouache"], "art_styles": ["Cubism"]}
    muted = measure(
        painter.generate("", seed=3, size=SIZE, profile=_profile(**base, saturation=["Muted"]))[0].image
    )
    vivid = measure(
        painter.generate("", seed=3, size=SIZE, profile=_profile(**base, saturation=["Intense"]))[0].image
    )
    assert vivid.saturation_mean > muted.saturation_mean + 0.3
    plain = measure(
        painter.generate("", seed=3, size=SIZE, profile=_profile(**base, detail=["Minimal"]))[0].image
    )
    busy = measure(
        painter.generate("", seed=3, size=SIZE, profile=_profile(**base, detail=["Dense"]))[0].image
    )
    assert busy.edge_density > 5 * plain.edge_density


def test_prompt_terms_win_over_the_profile(painter: PainterGenerator) -> None:
    """The prompt is what refine rewrites: where it names an element, the profile is not used."""
    p = _profile(color=["Teal", "Navy"], saturation=["Muted"], artistic_medium=["Watercolor"])
    plain = painter.generate("a harbour", seed=5, size=SIZE, profile=p)[0]
    refined = painter.generate(
        "a harbour, palette of crimson and teal, pixel sprites, vivid saturation",
        seed=5,
        size=SIZE,
        profile=p,
    )[0]
    assert refined.params["colors"] == ["Crimson", "Teal"]  # Navy was dropped from the prompt
    assert refined.params["treatment"] == "pixel" and refined.params["saturation"] == "Vivid"
    assert plain.params["colors"] == ["Teal", "Navy"] and plain.params["treatment"] == "watercolor"
    assert refined.png_bytes() != plain.png_bytes()
    # A term the prompt asks for is painted even if the profile once disliked it.
    disliked = UserProfile(likes=Profile(color=["Teal"]), dislikes=Profile(color=["Crimson"]))
    out = painter.generate("palette of crimson", seed=5, size=(64, 64), profile=disliked)[0]
    assert out.params["colors"] == ["Crimson"]


def _share_near(image: object, rgbs: list[tuple[int, int, int]], delta_e: float = 12.0) -> float:
    """Share of pixels within `delta_e` (CIELAB) of any of `rgbs`."""
    lab = srgb_to_lab(np.asarray(image, dtype=float).reshape(-1, 3))
    refs = srgb_to_lab(np.array(rgbs, dtype=float))
    d = np.sqrt(((lab[:, None, :] - refs[None, :, :]) ** 2).sum(-1)).min(1)
    return float(np.mean(d < delta_e))


def test_emphasis_makes_each_element_more_decisive(painter: PainterGenerator) -> None:
    vocab = load_vocabulary()
    colors = [vocab.get(n).rgb for n in ("Teal", "Coral")]  # type: ignore[union-attr]
    base = "a harbour, {}palette of teal and coral, vector art, {}fine detail"
    shares, gaps = {}, {}
    for level, prefix in ((0, ""), (2, "very strongly ")):
        outs = [painter.generate(base.format(prefix, prefix), seed=s, size=SIZE)[0] for s in range(20, 26)]
        # Colours: the named colours cover more of the canvas than their variants.
        shares[level] = np.mean([_share_near(o.image, colors) for o in outs])
        # Detail: closer to the middle of Fine's range (on the log scale the range is defined on).
        mid = np.sqrt(0.18 * 0.35)
        gaps[level] = np.mean([abs(np.log(measure(o.image).edge_density / mid)) for o in outs])
        assert all(o.params["emphasis"].get("Color", 0) == level for o in outs)
    assert shares[2] > shares[0] + 0.05, shares
    assert gaps[2] < gaps[0], gaps


def test_emphasised_saturation_aims_at_the_middle_of_both_ranges(painter: PainterGenerator) -> None:
    targets = {
        level: [
            painter.generate(f"{prefix}pastel saturation", seed=s, size=(32, 32))[0].params
            for s in range(30, 40)
        ]
        for level, prefix in ((0, ""), (3, "above all "))
    }
    # Pastel: saturation 0.12-0.38, lightness 0.75-1.0.
    for level, params in targets.items():
        s_spread = max(abs(p["saturation_target"] - 0.25) for p in params)
        v_spread = max(abs(p["lightness_target"] - 0.875) for p in params)
        if level:
            assert s_spread <= 0.26 * 0.2 / 4 + 1e-6 and v_spread <= 0.25 * 0.15 / 4 + 1e-6
        else:
            assert s_spread > 0.26 * 0.2 / 4 and v_spread > 0.25 * 0.15 / 4


def test_negative_and_disliked_terms_are_avoided(painter: PainterGenerator) -> None:
    p = UserProfile(
        likes=Profile(color=["Teal", "Crimson"], artistic_medium=["Oil Painting"]),
        dislikes=Profile(artistic_medium=["Pixel Sprites"], art_styles=["De Stijl"]),
    )
    out = painter.generate("", negative_prompt="crimson, oil painting", seed=9, size=SIZE, profile=p)[0]
    assert out.params["colors"] == ["Teal"]
    assert out.params["treatment"] not in ("impasto", "pixel")  # neither the negated nor the disliked medium
    assert out.params["family"] != "grid"
    # With nothing liked, the random palette keeps away from disliked colours.
    dislike_red = UserProfile(dislikes=Profile(color=["Red", "Crimson", "Scarlet"]))
    vocab = load_vocabulary()
    red = srgb_to_lab(np.array(vocab.get("Red").rgb, dtype=float))  # type: ignore[union-attr]
    for seed in range(6):
        g = painter.generate("", seed=seed, size=(64, 64), profile=dislike_red)[0]
        for rgb in g.params["color_rgb"]:
            assert np.linalg.norm(srgb_to_lab(np.array(rgb, dtype=float)) - red) > 25


def test_a_disliked_treatment_is_not_chosen_through_another_liked_medium(painter: PainterGenerator) -> None:
    # Gouache and Vector Art are both painted flat: liking one and disliking the other
    # must not paint flat when another liked medium can be painted instead.
    p = UserProfile(
        likes=Profile(artistic_medium=["Gouache", "Oil Painting"]),
        dislikes=Profile(artistic_medium=["Vector Art"]),
    )
    assert painter.generate("", seed=1, size=(64, 64), profile=p)[0].params["treatment"] == "impasto"
    out = painter.generate("gouache, oil painting", negative_prompt="vector art", seed=1, size=(64, 64))[0]
    assert out.params["treatment"] == "impasto"


def test_no_variant_near_a_negated_colour_is_drawn(painter: PainterGenerator) -> None:
    # Red's darker variants are maroon: with maroon in the negative prompt none may appear.
    vocab = load_vocabulary()
    maroon = vocab.get("Maroon").rgb  # type: ignore[union-attr]
    prompt = "palette of red, vector art, dense detail"
    for seed in range(3):
        plain = painter.generate(prompt, seed=seed, size=SIZE)[0]
        avoided = painter.generate(prompt, negative_prompt="maroon", seed=seed, size=SIZE)[0]
        assert _share_near(plain.image, [maroon]) > 0.05
        assert _share_near(avoided.image, [maroon]) < 0.01


def test_a_disliked_saturation_is_left_by_lightness_when_its_range_cannot_be(
    painter: PainterGenerator,
) -> None:
    # Muted (0.1-0.3) lies inside Moody's saturation range (0.1-0.35): only lightness can
    # tell them apart, so a Muted picture that must not be Moody is lighter than 0.42.
    p = UserProfile(
        likes=Profile(color=["Navy", "Midnight Blue"], saturation=["Muted"]),
        dislikes=Profile(saturation=["Moody"]),
    )
    for seed in range(3):
        out = painter.generate("", seed=seed, size=SIZE, profile=p)[0]
        assert measure(out.image).lightness_mean > 0.42 + 0.02


def test_find_terms_reads_emphasis_and_prefers_longest_names() -> None:
    found = find_terms("above all soft pastel, strongly palette of teal and navy, muted saturation, grey")
    assert [(t.name, lvl) for t, lvl in found] == [
        ("Soft Pastel", 3),
        ("Teal", 1),
        ("Navy", 1),
        ("Muted", 0),
        ("Gray", 0),
    ]
    assert find_terms("a lighthouse at dawn") == []


def test_bad_arguments_name_the_field(painter: PainterGenerator) -> None:
    with pytest.raises(InputError, match="size"):
        painter.generate("x", size=(4, 4))
    with pytest.raises(InputError, match="n:"):
        painter.generate("x", n=0)


def test_a_minimal_detail_whose_middle_is_disliked_still_paints(painter: PainterGenerator) -> None:
    """Liked detail Minimal (0-0.03) with Smooth (0-0.04) negated pushed the aim to no edges at all,
    and narrowing a band around zero divided by zero."""
    out = painter.generate("strongly minimal detail", negative_prompt="smooth detail", seed=3, size=(64, 64))
    assert out[0].image.size == (64, 64)


def test_a_variation_draws_one_element_again_and_keeps_the_rest(painter: PainterGenerator) -> None:
    """Term search re-draws a weak element of the best picture: another composition keeps its
    colours, marks, saturation and detail; variation 0 is the seed's own draw."""
    p = _profile(color=["Teal", "Navy", "Crimson"], artistic_medium=["Ink"], detail=["Moderate"])
    base = painter.generate("a harbour", seed=9, size=(128, 128), profile=p)[0]
    same = painter.generate(
        "a harbour", seed=9, size=(128, 128), profile=p,
        conditioning=ImageConditioning(variation={Element.ART_STYLES: 0}),
    )[0]  # fmt: skip
    assert same.png_bytes() == base.png_bytes() and "variation" not in same.params
    composed = painter.generate(
        "a harbour", seed=9, size=(128, 128), profile=p,
        conditioning=ImageConditioning(variation={Element.ART_STYLES: 1}),
    )[0]  # fmt: skip
    assert composed.png_bytes() != base.png_bytes()
    assert composed.params["variation"] == {"Art Styles": 1}
    for key in ("colors", "treatment", "saturation_target", "detail_target"):
        assert composed.params[key] == base.params[key], key
    with pytest.raises(InputError, match="img2img"):
        painter.generate("x", size=(32, 32), conditioning=ImageConditioning(init_image=base.image))
