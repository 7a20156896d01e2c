"""The features assessor: profiles from painted references, comparisons, rankings, caching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from agentpref.assessors.base import Assessor
from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.measure import measure
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.vocabulary import load_vocabulary, srgb_to_lab

SIZE = (256, 256)
LIKED = Profile(
    color=["Teal", "Navy"],
    saturation=["Vivid"],
    detail=["Simple"],
    artistic_medium=["Watercolor"],
    art_styles=["Impressionism"],
)
DISLIKED = Profile(
    color=["Orange", "Hot Pink"],
    saturation=["Muted"],
    detail=["Dense"],
    artistic_medium=["Pixel Sprites"],
    art_styles=["De Stijl"],
)


def _paint(profile: Profile, seed: int, prompt: str = "") -> ImageRef:
    g = PainterGenerator().generate(prompt, seed=seed, size=SIZE, profile=UserProfile(likes=profile))[0]
    return ImageRef.from_pil(g.image, name=f"{seed}.png")


@pytest.fixture(scope="module")
def refs() -> References:
    return References(
        likes=[_paint(LIKED, s) for s in range(1, 5)],
        dislikes=[_paint(DISLIKED, s) for s in range(11, 15)],
    )


@pytest.fixture(scope="module")
def candidates() -> dict[str, ImageRef]:
    return {
        "liked": _paint(LIKED, 21),
        "disliked": _paint(DISLIKED, 22),
        "off_saturation": _paint(LIKED.with_terms(Element.SATURATION, ["Muted"]), 23),
    }


def _range_overlaps(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    assert a is not None and b is not None
    return a[0] <= b[1] and b[0] <= a[1]


def test_is_an_assessor() -> None:
    assert isinstance(FeaturesAssessor(), Assessor)
    assert FeaturesAssessor().name == "features"


def test_profile_recovers_liked_color_saturation_and_detail(refs: References) -> None:
    vocab = load_vocabulary()
    profile = FeaturesAssessor().profile(refs.likes, refs.dislikes)
    likes, dislikes = profile.likes, profile.dislikes
    # Saturation and Detail: the recovered term's range overlaps the painted one (a neighbour at worst).
    assert _range_overlaps(
        vocab.get(likes.saturation[0]).saturation_range, vocab.get("Vivid").saturation_range
    )  # type: ignore[union-attr]
    assert _range_overlaps(vocab.get(likes.detail[0]).detail_range, vocab.get("Simple").detail_range)  # type: ignore[union-attr]
    assert _range_overlaps(
        vocab.get(dislikes.saturation[0]).saturation_range, vocab.get("Muted").saturation_range
    )  # type: ignore[union-attr]
    assert _range_overlaps(vocab.get(dislikes.detail[0]).detail_range, vocab.get("Dense").detail_range)  # type: ignore[union-attr]
    # Colour: every recovered liked colour is a neighbour of teal or navy (tints and shades of them
    # count), none is orange or hot pink.
    liked_lab = [srgb_to_lab(np.array(vocab.get(n).rgb, dtype=float)) for n in LIKED.color]  # type: ignore[union-attr]
    for name in likes.color:
        lab = srgb_to_lab(np.array(vocab.get(name).rgb, dtype=float))  # type: ignore[union-attr]
        assert min(np.linalg.norm(lab - x) for x in liked_lab) < 40, (name, likes.color)
    assert not {"Orange", "Hot Pink"} & set(likes.color)
    assert profile.likes.confidence[Element.SATURATION] > 0.7
    assert all(e in likes.confidence and e in likes.evidence for e in ELEMENTS)
    # No prompt metadata: the medium and style are guesses and say so.
    assert likes.is_uncertain(Element.ART_STYLES)
    assert "no prompt metadata" in likes.evidence[Element.ARTISTIC_MEDIUM]


def test_prompt_metadata_names_medium_style_and_keywords(tmp_path: Path) -> None:
    paths = []
    for seed in (1, 2):
        img = (
            PainterGenerator()
            .generate("", seed=seed, size=(96, 96), profile=UserProfile(likes=LIKED))[0]
            .image
        )
        p = tmp_path / f"{seed}.png"
        img.save(p)
        p.with_suffix(".txt").write_text("a quiet harbour at dusk, watercolor, impressionism style")
        paths.append(p)
    profile = FeaturesAssessor().profile(paths)
    assert profile.likes.artistic_medium == ["Watercolor"]
    assert profile.likes.art_styles == ["Impressionism"]
    assert not profile.likes.is_uncertain(Element.ART_STYLES)
    assert "harbour" in profile.likes.keywords and "dusk" in profile.likes.keywords


def test_compare_picks_the_liked_candidate_with_reasons(
    refs: References, candidates: dict[str, ImageRef]
) -> None:
    judge = FeaturesAssessor()
    j = judge.compare(refs, candidates["disliked"], candidates["liked"])
    assert j.winner == "B" and j.total_b > j.total_a  # type: ignore[operator]
    assert j.assessor == "features" and j.profile is not None and j.summary.startswith("Image B")
    assert [s.element for s in j.scores] == list(ELEMENTS)
    assert all(0 <= s.score_a <= 5 and 0 <= s.score_b <= 5 for s in j.scores)
    assert j.total_a == pytest.approx(sum(s.score_a for s in j.scores), abs=0.05)
    color = j.score(Element.COLOR)
    assert color is not None and color.score_b > color.score_a
    # The colour reason names colours a person knows.
    assert "teal" in color.rationale_b.lower() or "navy" in color.rationale_b.lower()
    assert "saturat" in j.score(Element.SATURATION).rationale_a  # type: ignore[union-attr]
    assert j.raw_text is not None and "<answer>Image B</answer>" in j.raw_text
    # Swapping positions swaps the answer: no position bias.
    assert judge.compare(refs, candidates["liked"], candidates["disliked"]).winner == "A"


def test_one_element_difference_is_seen(refs: References, candidates: dict[str, ImageRef]) -> None:
    j = FeaturesAssessor().compare(refs, candidates["off_saturation"], candidates["liked"])
    assert j.winner == "B"
    sat = j.score(Element.SATURATION)
    assert sat is not None and sat.score_b - sat.score_a >= 2
    assert "is closer to your disliked" in sat.rationale_a and "liked" not in sat.rationale_b.split(";")[0]


def test_rank_orders_best_first(refs: References, candidates: dict[str, ImageRef]) -> None:
    judge = FeaturesAssessor()
    ranking = judge.rank(refs, [candidates["disliked"], candidates["off_saturation"], candidates["liked"]])
    assert [c.label for c in ranking.candidates] == ["21.png", "23.png", "22.png"]
    assert ranking.max_score == 25 and ranking.assessor == "features"
    assert [c.wins for c in ranking.candidates] == [2, 1, 0]
    best = ranking.best
    assert set(best.element_scores) == set(ELEMENTS) and all(best.rationale.values())
    total, scores, reasons = judge.score(refs, candidates["liked"])
    assert total == best.score and scores == best.element_scores and reasons == best.rationale


def test_measurements_are_cached_by_content(refs: References, candidates: dict[str, ImageRef]) -> None:
    judge = FeaturesAssessor()
    judge.compare(refs, candidates["liked"], candidates["disliked"])
    first = judge.cache.calls
    assert first == len(refs.likes) + len(refs.dislikes) + 2
    # Same pictures again, even as new objects from the same bytes: nothing is re-measured.
    again = ImageRef.from_bytes(candidates["liked"].data)
    judge.compare(refs, again, candidates["disliked"])
    judge.rank(refs, [candidates["disliked"], again])
    assert judge.cache.calls == first
    assert judge.cache.hits > 0


def test_profile_only_compare_and_rank(candidates: dict[str, ImageRef]) -> None:
    judge = FeaturesAssessor()
    profile = UserProfile(likes=LIKED, dislikes=DISLIKED)
    j = judge.compare(profile, candidates["disliked"], candidates["liked"])
    assert j.winner == "B"
    assert j.profile == profile
    assert "teal" in j.score(Element.COLOR).rationale_b.lower()  # type: ignore[union-attr]
    r = judge.rank(profile, [candidates["disliked"], candidates["liked"]])
    assert r.best.label == "21.png"
    # A profile with only likes, and elements it says nothing about, still judges.
    partial = UserProfile(likes=Profile(saturation=["Vivid"]))
    j2 = judge.compare(partial, candidates["off_saturation"], candidates["liked"])
    assert j2.winner == "B"
    assert "no color preference" in j2.score(Element.COLOR).rationale_a.lower()  # type: ignore[union-attr]


def test_single_liked_image_without_dislikes(candidates: dict[str, ImageRef]) -> None:
    judge = FeaturesAssessor()
    one = _paint(LIKED, 31)
    profile = judge.profile([one])
    assert profile.likes.color and profile.dislikes.is_empty()
    refs = References(likes=[one])
    j = judge.compare(refs, candidates["disliked"], candidates["liked"])
    assert j.winner == "B"


def test_accepts_paths_bytes_and_pil(tmp_path: Path, candidates: dict[str, ImageRef]) -> None:
    path = tmp_path / "liked.png"
    path.write_bytes(candidates["liked"].data)
    pil = Image.open(path).convert("RGB")
    judge = FeaturesAssessor()
    j = judge.compare(UserProfile(likes=LIKED), str(path), candidates["disliked"].data)
    assert j.winner == "A" and j.a == "liked.png"
    assert judge.rank(UserProfile(likes=LIKED), [pil, path]).candidates[0].score > 0


def test_deterministic_and_ties_are_reported(refs: References, candidates: dict[str, ImageRef]) -> None:
    a = FeaturesAssessor().compare(refs, candidates["liked"], candidates["off_saturation"])
    b = FeaturesAssessor().compare(refs, candidates["liked"], candidates["off_saturation"])
    assert a.model_dump() == b.model_dump()
    same = FeaturesAssessor().compare(refs, candidates["liked"], candidates["liked"])
    assert same.total_a == same.total_b and same.winner is None and not same.failed
    assert same.issues and same.issues[0].startswith("tie: ")
    # Judging with the references is judging with the profile they show.
    profile = FeaturesAssessor().profile(refs.likes, refs.dislikes)
    c = FeaturesAssessor().compare(profile, candidates["liked"], candidates["off_saturation"])
    assert (c.winner, c.total_a, c.total_b, c.scores) == (a.winner, a.total_a, a.total_b, a.scores)


def test_measure_follows_the_vocabulary_definitions() -> None:
    flat = measure(Image.new("RGB", (300, 100), (255, 0, 0)))
    assert flat.saturation_mean == pytest.approx(1.0) and flat.lightness_mean == pytest.approx(1.0)
    assert flat.edge_density == 0.0 and flat.palette[0].term == "Red"
    # Black/white stripes 8 px wide: every stripe border is an edge, interiors are not.
    stripes = np.zeros((256, 256, 3), dtype=np.uint8)
    stripes[:, (np.arange(256) // 8) % 2 == 1] = 255
    m = measure(Image.fromarray(stripes))
    assert m.saturation_mean == 0.0
    assert m.edge_density == pytest.approx(2 * 31 / 256, abs=0.01)
    # Any input size costs the same work: a huge image is measured at 256 px.
    assert measure(Image.new("RGB", (3000, 2000), (0, 128, 128))).palette[0].term == "Teal"


def test_rank_takes_a_folder_and_names_a_string_that_is_none(refs: References, tmp_path: Path) -> None:
    from agentpref.errors import InputError

    judge = FeaturesAssessor()
    for i, color in enumerate([(200, 40, 40), (40, 40, 200)]):
        Image.new("RGB", (32, 32), color).save(tmp_path / f"{i}.png")
    assert len(judge.rank(refs, str(tmp_path)).candidates) == 2
    with pytest.raises(InputError, match=r"candidates: 'dir' is not an existing folder"):
        judge.rank(refs, "dir")  # not iterated as the candidates 'd', 'i', 'r'
