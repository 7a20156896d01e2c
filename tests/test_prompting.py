from agentpref.profile import Element, Profile, UserProfile
from agentpref.prompting import compose_prompt, refine_emphasis, refine_prompt, terms_to_avoid, weak_elements

PROFILE = UserProfile(
    likes=Profile(
        art_styles=["Impressionism"],
        color=["Teal", "Navy"],
        saturation=["Muted"],
        detail=["Smooth"],
        artistic_medium=["Watercolor"],
        confidence={Element.ART_STYLES: 0.2, Element.COLOR: 0.9},
    ),
    dislikes=Profile(color=["Crimson", "Orange"], saturation=["Intense"], keywords=["neon"]),
)


def test_positive_prompt_carries_liked_terms_and_leaves_out_uncertain_guesses():
    prompt = compose_prompt("a lighthouse at dawn", PROFILE)
    assert prompt.positive.startswith("a lighthouse at dawn, ")
    for phrase in ("palette of teal and navy", "muted saturation", "smooth detail", "watercolor"):
        assert phrase in prompt.positive
    # Art style confidence 0.2: a guess, kept out of the prompt and reported.
    assert "impressionism" not in prompt.positive
    assert prompt.left_out == (Element.ART_STYLES,)


def test_negative_prompt_is_the_dislikes():
    assert compose_prompt("x", PROFILE).negative == "crimson, orange, intense, neon"


def test_refinement_strengthens_only_weak_elements_and_does_not_pile_up():
    scores = {Element.COLOR: 1.0, Element.SATURATION: 4.8, Element.DETAIL: 3.0}
    assert weak_elements(scores) == [Element.COLOR, Element.DETAIL]
    once = refine_prompt("x", PROFILE, {}, scores)
    assert "strongly palette of teal and navy" in once.positive
    assert "strongly smooth detail" in once.positive
    assert "strongly muted" not in once.positive
    twice = refine_prompt("x", PROFILE, once.emphasis, scores)
    assert "very strongly palette of teal and navy" in twice.positive
    assert twice.positive.count("teal") == 1
    # Emphasis saturates instead of growing without bound.
    emphasis: dict[Element, int] = {}
    for _ in range(10):
        emphasis = refine_emphasis(emphasis, scores)
    assert emphasis[Element.COLOR] == 3


def test_refinement_moves_the_weak_elements_next_to_the_subject_weakest_first():
    scores = {Element.COLOR: 4.5, Element.SATURATION: 4.0, Element.DETAIL: 1.0, Element.ARTISTIC_MEDIUM: 2.0}
    first = compose_prompt("a lighthouse", PROFILE)
    refined = refine_prompt("a lighthouse", PROFILE, {}, scores)
    assert first.positive.index("teal") < first.positive.index("smooth detail")  # the usual order
    # Earlier words weigh more, and survive a text encoder that cuts long prompts.
    assert refined.positive.startswith("a lighthouse, strongly smooth detail, strongly watercolor, ")


def test_what_the_worst_candidates_share_with_the_dislikes_goes_negative():
    taste = UserProfile(
        likes=Profile(color=["Teal"], detail=["Smooth"]),
        dislikes=Profile(color=["Scarlet"], saturation=["Intense"]),
    )
    reasons = [
        {Element.COLOR: "its palette is mostly red, orange and teal; it is closer to your disliked scarlet",
         Element.SATURATION: "its colour is vivid and mid-key (saturation 0.75, lightness 0.50)",
         Element.DETAIL: "its detail is dense (edge density 0.400); it is far from your liked smooth detail"},
        {Element.COLOR: "its palette is mostly vermilion; it matches your liked palette of teal"},
    ]  # fmt: skip
    scores = [{Element.COLOR: 1.0, Element.SATURATION: 1.0, Element.DETAIL: 0.5}, {Element.COLOR: 4.6}]
    # Red is 4 dE from the disliked scarlet; Vivid overlaps the disliked Intense. Orange is like
    # nothing disliked, dense detail is disliked by no one, the second candidate was not weak.
    avoid = terms_to_avoid(reasons, scores, taste)
    assert avoid == ["Red", "Vivid"]
    refined = refine_prompt("x", taste, {}, scores[0], avoid=avoid)
    assert refined.negative == "scarlet, intense, red, vivid"  # the profile's first, each once


def test_a_guess_is_named_once_candidates_were_weak_on_it_and_stays_named():
    scores = {Element.ART_STYLES: 1.0, Element.COLOR: 4.8}
    assert "impressionism" not in compose_prompt("x", PROFILE).positive  # a guess, at first
    weak = refine_prompt("x", PROFILE, {}, scores)
    assert weak.positive.startswith("x, strongly impressionism style")
    met = refine_prompt("x", PROFILE, weak.emphasis, {Element.ART_STYLES: 4.9, Element.COLOR: 4.8})
    assert "strongly impressionism style" in met.positive


def test_what_would_take_a_liked_term_with_it_is_never_avoided():
    reasons = [
        {Element.SATURATION: "its colour is soft and mid-key (saturation 0.20, lightness 0.60)",
         Element.DETAIL: "its detail is minimal (edge density 0.010); it is some way from your liked smooth",
         Element.COLOR: "its palette is mostly sky blue and crimson"},
    ]  # fmt: skip
    liked = Profile(saturation=["Muted"], detail=["Smooth"], color=["Baby Blue"])
    disliked = Profile(saturation=["Pastel"], detail=["Minimal"], color=["Sky Blue", "Crimson"])
    scores = [{Element.SATURATION: 1.0, Element.DETAIL: 1.0, Element.COLOR: 1.0}]
    # Soft (0.15-0.36) overlaps Muted (0.1-0.3), Minimal (0-0.03) overlaps Smooth (0-0.04),
    # sky blue is 2 dE from baby blue: avoiding them would push the picture off the liked terms.
    assert terms_to_avoid(reasons, scores, UserProfile(likes=liked, dislikes=disliked)) == ["Crimson"]
