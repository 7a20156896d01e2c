"""Profiles and judgments survive JSON and PreferThinker's tag text, including models' drift."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from test_metadata_bounds import timed

from agentpref.judgment import DimensionScore, Judgment, RankedCandidate, Ranking
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile

MULTI = Profile(
    art_styles=["Arts and Crafts", "Pixel Art"],
    color=["Teal", "Navy", "Black & White"],
    artistic_medium=["Pen and Ink", "3D Modeling"],
    saturation=["Mid-tone"],
    detail=["Fine", "Selective"],
)
DISLIKES = Profile(
    art_styles=["Romanticism"],
    color=["Charcoal Gray"],
    artistic_medium=["Silkscreen"],
    saturation=["Intense"],
)


def _judgment() -> Judgment:
    return Judgment(
        a="cat.png",
        b="dog.png",
        scores=[
            DimensionScore(
                element=e, score_a=i % 6, score_b=5 - i % 6, rationale_a=f"a{i}", rationale_b=f"b{i}"
            )
            for i, e in enumerate(ELEMENTS)
        ],
        total_a=10,
        total_b=15,
        winner="B",
        profile=UserProfile(likes=MULTI, dislikes=DISLIKES),
        issues=["answer disagrees"],
        raw_text="<answer>Image B</answer>",
        assessor="features",
        swap_agreement=True,
    )


def test_profile_json_round_trip_keeps_confidence_and_evidence_keyed_by_element() -> None:
    p = MULTI.model_copy(
        update={
            "keywords": ["foggy", "harbour"],
            "confidence": {Element.COLOR: 0.9, Element.DETAIL: 0.2},
            "evidence": {Element.COLOR: "4 of 5 likes are teal"},
        }
    )
    back = Profile.model_validate_json(p.model_dump_json())
    assert back == p
    assert back.confidence[Element.COLOR] == 0.9
    assert back.is_uncertain(Element.DETAIL) and not back.is_uncertain(Element.COLOR)
    assert not back.is_uncertain(Element.SATURATION)  # no confidence given: not uncertain


def test_user_profile_judgment_and_ranking_json_round_trip() -> None:
    up = UserProfile(likes=MULTI, dislikes=DISLIKES)
    assert UserProfile.model_validate_json(up.model_dump_json()) == up
    j = _judgment()
    back = Judgment.model_validate_json(j.model_dump_json())
    assert back == j
    assert back.score(Element.COLOR) == j.scores[1]
    assert back.margin == 5
    ranking = Ranking(
        candidates=[
            RankedCandidate(
                label="dog.png",
                image_hash="ab" * 32,
                score=15,
                element_scores={Element.COLOR: 4.0},
                rationale={Element.COLOR: "teal"},
                wins=1,
            ),
            RankedCandidate(label="cat.png", image_hash="cd" * 32, score=10),
        ],
        judgments=[j],
        profile=up,
        assessor="features",
    )
    again = Ranking.model_validate_json(ranking.model_dump_json())
    assert again == ranking
    assert again.best.label == "dog.png"
    assert again.candidates[0].element_scores == {Element.COLOR: 4.0}


def test_failure_judgment_round_trips_and_scores_are_bounded() -> None:
    f = Judgment.failure("model said nonsense", "blah", a="x", b="y", assessor="hf:tiny")
    back = Judgment.model_validate_json(f.model_dump_json())
    assert back.failed and back.error == "model said nonsense" and back.raw_text == "blah"
    assert back.margin == 0.0
    with pytest.raises(ValidationError):
        DimensionScore(element=Element.COLOR, score_a=6, score_b=0)


def test_tag_text_round_trip_with_several_terms_per_element() -> None:
    up = UserProfile(likes=MULTI, dislikes=DISLIKES)
    text = up.to_tag_text()
    assert text.startswith("<visual preference profile>\n")
    assert '"Color": "Teal, Navy, Black & White",' in text
    back = UserProfile.from_tag_text(text)
    for e in ELEMENTS:
        assert back.likes.terms(e) == MULTI.terms(e), e
        assert back.dislikes.terms(e) == DISLIKES.terms(e), e


@pytest.mark.parametrize(
    "body",
    [
        '"Art Styles": "Pixel Art",\n"Color": "Teal, Navy",\n"ArtisticMedium": "Coiling",\n'
        '"Saturation": "Muted",\n"Detail": "Fine"',
        "art styles: Pixel Art\ncolor: Teal, Navy\nartistic medium: Coiling\nSATURATION: Muted\ndetail: Fine",
        "\u201cArt Styles\u201d: \u201cPixel Art\u201d, \u201cColor\u201d: \u201cTeal; Navy\u201d, "
        "\u201cArtistic Medium\u201d: \u201cCoiling\u201d, \u201cSaturation\u201d: \u201cMuted\u201d, "
        "\u201cDetail\u201d: \u201cFine\u201d",
        '{"Art Style" = "Pixel Art", "Colour" = "Teal, Navy", "Medium" = "Coiling", '
        '"Saturation" = "Muted", "Details" = "Fine"}',
        '  "Art Styles" :  "Pixel Art" ,\n\n  "Color":"Teal,Navy",\n"Artistic  Medium": "Coiling",\n'
        '"Saturation": "Muted.",\n"Detail": "Fine"\n',
        "- **Art Styles**: Pixel Art\n- **Color**: Teal, Navy\n- **Artistic Medium**: Coiling\n"
        "- **Saturation**: Muted\n- **Detail**: Fine",
        "1. Art Styles: Pixel Art\n2. Color: Teal, Navy\n3. Artistic Medium: Coiling\n4. Saturation: Muted\n"
        "5) Detail: Fine",
    ],
    ids=[
        "no-space-key",
        "unquoted-lowercase",
        "curly-one-line",
        "json-ish-aliases",
        "spacing",
        "bullets",
        "numbered",
    ],
)
def test_tag_body_drift(body: str) -> None:
    p = Profile.from_tag_body(body)
    assert p.art_styles == ["Pixel Art"]
    assert p.color == ["Teal", "Navy"]
    assert p.artistic_medium == ["Coiling"]
    assert p.saturation == ["Muted"]
    assert p.detail == ["Fine"]


def test_tag_body_ignores_unknown_keys_and_names_bad_input() -> None:
    p = Profile.from_tag_body('"Mood": "calm",\n"Color": "Pink",\n"Lighting": "soft"')
    assert p.color == ["Pink"] and p.art_styles == []
    with pytest.raises(ValueError, match="no profile element"):
        Profile.from_tag_body("just some words about a picture")


def test_tag_text_tolerates_case_spacing_underscores_and_surrounding_text() -> None:
    text = (
        'Sure! Here is the profile.\n< Visual_Preference_Profile >\n"Color": "Pink"\n'
        '</visual preference profile>\n<VISUAL NON-PREFERENCE PROFILE>\n"Detail": "Fine"\n'
        "</Visual Non-Preference Profile>\nHope this helps."
    )
    up = UserProfile.from_tag_text(text)
    assert up.likes.color == ["Pink"] and up.dislikes.detail == ["Fine"]
    assert up.likes.detail == [] and up.dislikes.color == []


def test_tag_text_unclosed_tag_runs_to_the_next_tag_and_missing_dislikes_is_empty() -> None:
    up = UserProfile.from_tag_text(
        '<visual preference profile>\n"Color": "Pink"\n<think>\nColor: Navy\n</think>'
    )
    assert up.likes.color == ["Pink"]
    assert up.dislikes.is_empty()
    with pytest.raises(ValueError, match="visual preference profile"):
        UserProfile.from_tag_text(
            '<visual non-preference profile>"Color": "Pink"</visual non-preference profile>'
        )


@pytest.mark.parametrize(
    ("key", "element"),
    [
        ("ArtisticMedium", Element.ARTISTIC_MEDIUM),
        ("artistic medium", Element.ARTISTIC_MEDIUM),
        ("Artistic style", Element.ART_STYLES),
        ("Art Styles", Element.ART_STYLES),
        ("COLOUR", Element.COLOR),
        ("saturation", Element.SATURATION),
        ("Details", Element.DETAIL),
    ],
)
def test_element_parse(key: str, element: Element) -> None:
    assert Element.parse(key) is element


def test_element_parse_rejects_unknown_key_by_name() -> None:
    with pytest.raises(ValueError, match="'Lighting'"):
        Element.parse("Lighting")


def test_markup_like_text_in_a_profile_is_text_not_a_tag() -> None:
    up = UserProfile.from_tag_text(
        '<visual preference profile>\n"Color": "Pink <b>bold<i>, A<B",\n"Detail": "Fine"\n'
        "</visual preference profile>"
    )
    assert up.likes.color == ["Pink <b>bold<i>", "A<B"] and up.likes.detail == ["Fine"]


@pytest.mark.parametrize(
    "body",
    [
        '"Color": "Teal' + " " * 200_000 + 'Navy"',  # a run of spaces inside a value
        "\n" * 200_000 + 'no key here\n"Color": "Teal Navy"',  # a run of newlines before a non-key
        "\n" + "*" * 200_000 + 'x\n"Color": "Teal Navy"',  # a run of bullet stars before a non-key
    ],
    ids=["spaces", "newlines", "stars"],
)
def test_tag_bodies_are_read_in_linear_time(body: str) -> None:
    p = timed(1.0, Profile.from_tag_body, body)
    assert [t.split()[0] for t in p.color] == ["Teal"]
