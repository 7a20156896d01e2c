"""Term search: a later round's candidates change one weak element of the best so far, in the
direction the measurement says, and never remake a picture already made."""

from __future__ import annotations

from agentpref.loop.search import plan_variants
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.runs.record import Candidate, IterationRecord, RunRecord, Variant

PROFILE = UserProfile(
    likes=Profile(color=["Teal"], detail=["Fine"], saturation=["Muted"], artistic_medium=["Watercolor"]),
    dislikes=Profile(artistic_medium=["Photography"], detail=["Loose"]),
)


def _record(prompt: str = "a harbour, fine detail") -> RunRecord:
    candidate = Candidate(
        id="it01-c00", iteration=1, index=0, file="images/it01-c00.png", sha256="0" * 64, seed=1000,
        prompt=prompt, negative_prompt="photography", generator="painter",
    )  # fmt: skip
    return RunRecord(
        subject="a harbour", assessor="features", generator="painter", n=4, max_iterations=3, target=5.0,
        seed=0, size=(64, 64), profile=PROFILE, candidates=[candidate],
        iterations=[IterationRecord(iteration=1, prompt=prompt, negative_prompt="photography")],
    )  # fmt: skip


def _scores(**weak: float) -> dict[Element, float]:
    scores = {e: 5.0 for e in ELEMENTS}
    scores.update({Element(k.replace("_", " ").title()): v for k, v in weak.items()})
    return scores


def _measured(detail: float = 0.25, saturation: float = 0.2):
    """A picture's measured Detail and Saturation, as the refine node reads them."""
    return lambda candidate, element: detail if element is Element.DETAIL else saturation


def test_detail_measured_below_the_liked_range_steps_to_stronger_words_then_other_media() -> None:
    record = _record()
    plain = _measured(detail=0.05)  # Fine is 0.18-0.35
    planned = plan_variants(record, [(record.candidates[0], _scores(detail=0.5))], 4, [], False, plain)
    changes = [v.change for v in planned]
    assert changes[0].startswith("Detail: fine -> highly detailed (measured edge density 0.05 is below")
    assert changes[1].startswith("Detail: fine -> intricate")
    assert "highly detailed detail" in planned[0].prompt and planned[0].terms == {
        Element.DETAIL: "Highly Detailed"
    }
    assert all(v.parent == "it01-c00" and v.element is Element.DETAIL for v in planned)
    assert [v.kind for v in planned] == ["term", "term"]
    assert len(planned) == 2  # at most two changes per element in a round
    too_busy = _measured(detail=0.6)
    down = plan_variants(record, [(record.candidates[0], _scores(detail=0.5))], 4, [], False, too_busy)
    assert [v.terms[Element.DETAIL] for v in down] == ["Textured", "Detailed"]


def test_a_weak_medium_tries_other_kinds_never_a_disliked_one_and_says_why() -> None:
    record = _record()
    planned = plan_variants(record, [(record.candidates[0], _scores(artistic_medium=0.4))], 4, [], False)
    tried = [v.terms[Element.ARTISTIC_MEDIUM] for v in planned]
    assert len(tried) == 2 and "Photography" not in tried and "Watercolor" not in tried
    assert all("(read as 0.4/5)" in v.change for v in planned)
    # A changed guess is named in the prompt, so the generator paints it.
    assert all(v.terms[Element.ARTISTIC_MEDIUM].lower() in v.prompt.lower() for v in planned)


def test_weakest_first_and_a_remade_picture_is_skipped() -> None:
    record = _record()
    scores = _scores(color=2.0, saturation=3.0)
    first = plan_variants(record, [(record.candidates[0], scores)], 4, [], True)
    assert [v.change.split(":")[0] for v in first] == ["Color", "Color", "Saturation", "Saturation"]
    assert first[1].variation == {Element.COLOR: 1}  # the colour decisions drawn again
    # Once made, the same changes are not planned again: the next draws are.
    made = record.model_copy(deep=True)
    for i, variant in enumerate(first):
        made.candidates.append(
            Candidate(
                id=f"it02-c{i:02d}",
                iteration=2,
                index=i,
                file="x.png",
                sha256="1" * 64,
                seed=record.candidate(variant.parent).seed,
                prompt=variant.prompt,
                negative_prompt=variant.negative_prompt,
                generator="painter",
            )
        )
    made.iterations.append(
        IterationRecord(iteration=2, prompt="p", negative_prompt="", variants=dict(enumerate(first)))
    )
    again = plan_variants(made, [(made.candidates[0], scores)], 4, [], True)
    keys = {(v.prompt, tuple(v.variation.items())) for v in again}
    assert not keys & {(v.prompt, tuple(v.variation.items())) for v in first}
    assert {Element.COLOR: 2} in [v.variation for v in again]


def test_a_variant_builds_on_its_parent_and_avoided_terms_reach_the_negative_prompt() -> None:
    record = _record()
    parent = Variant(
        prompt="a harbour, intricate detail", negative_prompt="photography", parent="it00-c00",
        element=Element.DETAIL, kind="term", change="Detail: ...",
        terms={Element.DETAIL: "Intricate"}, emphasis={Element.COLOR: 1},
    )  # fmt: skip
    record.iterations[0] = record.iterations[0].model_copy(update={"variants": {0: parent}})
    planned = plan_variants(record, [(record.candidates[0], _scores(color=1.0))], 1, ["Scarlet"], False)
    (variant,) = planned
    assert variant.terms == {Element.DETAIL: "Intricate"} and variant.emphasis == {Element.COLOR: 2}
    assert "intricate detail" in variant.prompt and "scarlet" in variant.negative_prompt


def test_a_kind_of_change_that_made_no_difference_is_not_tried_again() -> None:
    """The painter paints a one-colour palette the same however stressed: once a stressed
    candidate came out byte for byte its parent, stressing Color again would waste a slot."""
    record = _record()
    stressed = Variant(
        prompt="a harbour, strongly palette of teal", negative_prompt="photography", parent="it01-c00",
        element=Element.COLOR, kind="stress", change="Color: stressed (+1)", emphasis={Element.COLOR: 1},
    )  # fmt: skip
    same = record.candidates[0].model_copy(
        update={"id": "it02-c00", "iteration": 2, "prompt": stressed.prompt}
    )
    record.candidates.append(same)
    record.iterations.append(
        IterationRecord(iteration=2, prompt="p", negative_prompt="", variants={0: stressed})
    )
    planned = plan_variants(record, [(same, _scores(color=2.0))], 4, [], True)
    assert [(v.element, v.kind) for v in planned] == [(Element.COLOR, "draw")]
    different = record.model_copy(deep=True)
    different.candidates[1] = same.model_copy(update={"sha256": "2" * 64})
    again = plan_variants(different, [(different.candidates[1], _scores(color=2.0))], 4, [], True)
    assert (again[0].kind, again[0].emphasis) == ("stress", {Element.COLOR: 2})
