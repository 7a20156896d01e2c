"""Our own generator and our own judge agree on our own vocabulary.

For every medium (treatment) and style family the painter claims to draw, renders are
asked of the features judge: its most likely treatment/family must be the painted one,
and a profile naming that medium or style must score the render's element >= 3.5 of 5.
Renders use seeds from 7,000,000 (no other test, benchmark or calibration uses them), with
the other elements drawn at random so the agreement holds across saturations and details.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.assessors.features.distances import (
    FAMILY_WORDS,
    TREATMENT_WORDS,
    family_probabilities,
    treatment_probabilities,
)
from agentpref.assessors.features.prototypes import FAMILY_PROTOTYPES, TREATMENT_PROTOTYPES
from agentpref.generators.painter.compose import COMPOSERS
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.measure import Measurements
from agentpref.profile import Element, Profile, UserProfile
from agentpref.vocabulary import Term, load_vocabulary

SEED = 7_000_000
RENDERS = 4
SIZE = (512, 512)  # the size the prototypes are calibrated at
MIN_TOP1 = 0.75  # "nearly every render": 3 of 4
MIN_SCORE = 3.5

# Treatments and families whose renders the judge does not yet recognise (issue 13, with
# the top-1 share and mean score measured here); strict, so fixing one turns its xfail into
# a failure that asks for its removal from this table.
_OPEN = "issue 13: painter and judge disagree"
KNOWN_DISAGREEMENTS: dict[str, str] = {
    "ink": f"{_OPEN} (top-1 1/4, Artistic Medium 2.8)",
    "mosaic": f"{_OPEN} (top-1 1/4, Artistic Medium 2.0)",
    "photographic": f"{_OPEN} (top-1 1/4, Artistic Medium 3.4)",
    "watercolor": f"{_OPEN} (top-1 1/4, Artistic Medium 2.3)",
    "abstract": f"{_OPEN} (top-1 1/4, Art Style 3.3)",
    "geometric": f"{_OPEN} (top-1 2/4, Art Style 4.8)",
    "grid": f"{_OPEN} (top-1 0/4, Art Style 1.7)",
    "organic": f"{_OPEN} (top-1 2/4, Art Style 3.9)",
    "portrait-like": f"{_OPEN} (top-1 2/4, Art Style 3.6)",
    "radial": f"{_OPEN} (top-1 1/4, Art Style 2.6)",
}


def _terms(element: Element, attr: str) -> dict[str, list[Term]]:
    out: dict[str, list[Term]] = {}
    for t in load_vocabulary().terms(element):
        out.setdefault(str(getattr(t, attr)), []).append(t)
    return out


MEDIA = _terms(Element.ARTISTIC_MEDIUM, "treatment")
STYLES = _terms(Element.ART_STYLES, "family")


def _random_likes(rng: random.Random) -> Profile:
    vocab = load_vocabulary()
    return Profile(
        color=[t.name for t in rng.sample(vocab.terms(Element.COLOR), 2)],
        saturation=[rng.choice(vocab.terms(Element.SATURATION)).name],
        detail=[rng.choice(vocab.terms(Element.DETAIL)).name],
    )


def _agreement(
    element: Element,
    name: str,
    terms: list[Term],
    others: dict[str, list[Term]],
    probabilities: Callable[[Measurements], dict[str, float]],
    offset: int,
) -> tuple[float, float]:
    """(share of renders whose top-1 class is `name`, mean element score of a profile naming it)."""
    painter, judge = PainterGenerator(), FeaturesAssessor()
    rng = random.Random(SEED + offset)
    other_element = Element.ART_STYLES if element is Element.ARTISTIC_MEDIUM else Element.ARTISTIC_MEDIUM
    hits, scores = 0, []
    for i in range(RENDERS):
        term = terms[i % len(terms)]
        other = sorted(others)[rng.randrange(len(others))]
        likes = _random_likes(rng).with_terms(element, [term.name])
        likes = likes.with_terms(other_element, [rng.choice(others[other]).name])
        render = painter.generate("", seed=SEED + offset + i, size=SIZE, profile=UserProfile(likes=likes))
        image = render[0].image
        p = probabilities(judge.measure(image))
        hits += max(p, key=p.__getitem__) == name
        naming = UserProfile(likes=Profile().with_terms(element, [term.name]))
        scores.append(judge.score(naming, image)[1][element])
    return hits / RENDERS, float(np.mean(scores))


def _cases(names: list[str]) -> list[object]:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_DISAGREEMENTS[n], strict=True))
        if n in KNOWN_DISAGREEMENTS
        else n
        for n in names
    ]


@pytest.mark.slow
@pytest.mark.parametrize("treatment", _cases(sorted(MEDIA)))
def test_the_judge_sees_the_medium_the_painter_paints(treatment: str) -> None:
    offset = 1000 * sorted(MEDIA).index(treatment)
    top1, score = _agreement(
        Element.ARTISTIC_MEDIUM, treatment, MEDIA[treatment], STYLES, treatment_probabilities, offset
    )
    assert top1 >= MIN_TOP1 and score >= MIN_SCORE, (treatment, top1, score)


@pytest.mark.slow
@pytest.mark.parametrize("family", _cases(sorted(STYLES)))
def test_the_judge_sees_the_composition_the_painter_paints(family: str) -> None:
    offset = 100_000 + 1000 * sorted(STYLES).index(family)
    top1, score = _agreement(Element.ART_STYLES, family, STYLES[family], MEDIA, family_probabilities, offset)
    assert top1 >= MIN_TOP1 and score >= MIN_SCORE, (family, top1, score)


def test_every_painted_medium_and_family_is_known_to_the_judge() -> None:
    from agentpref.generators.painter.treat import TREATMENTS

    assert set(MEDIA) == set(TREATMENTS) == set(TREATMENT_PROTOTYPES) == set(TREATMENT_WORDS)
    assert set(STYLES) == set(COMPOSERS) == set(FAMILY_PROTOTYPES) == set(FAMILY_WORDS)


@pytest.mark.parametrize(
    "template",
    [
        "it looks like {}, closer to your disliked mosaic",
        "texture looks like {} (80%)",
        "its composition reads as {}",
        "composition reads as {} (80%)",
    ],
)
def test_medium_and_family_words_complete_the_rationale_sentences(template: str) -> None:
    """Each entry is a noun phrase: no "-like" adjective, no "look" of its own and no
    parentheses, so "it looks like a photographic, soft-focus look" cannot come back."""
    words = {**TREATMENT_WORDS, **FAMILY_WORDS}
    for key, phrase in words.items():
        sentence = template.format(phrase)
        assert phrase.strip() and phrase == phrase.strip(), key
        assert "-like" not in phrase and "look" not in phrase and "(" not in phrase, (key, phrase)
        assert sentence.count("(") <= 1 and "  " not in sentence, sentence
