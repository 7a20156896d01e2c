from agentpref.profile import Element, Profile, UserProfile
from agentpref.prompting import compose_prompt, refine_emphasis, refine_prompt, weak_elements

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


def test_a_cut_prompt_moves_the_weak_elements_next_to_the_subject():
    scores = {Element.COLOR: 4.5, Element.SATURATION: 4.0, Element.DETAIL: 1.0, Element.ARTISTIC_MEDIUM: 2.0}
    plain = refine_prompt("a lighthouse", PROFILE, {}, scores)
    cut = refine_prompt("a lighthouse", PROFILE, {}, scores, truncated=True)
    assert plain.positive.index("teal") < plain.positive.index("smooth detail")  # the usual order
    assert cut.positive.startswith("a lighthouse, strongly smooth detail, strongly watercolor, ")
    assert sorted(cut.positive.split(", ")) == sorted(plain.positive.split(", "))  # same words, new order
