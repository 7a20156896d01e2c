"""From a profile to generator prompts, and from judgments to a better prompt.

ViPer-style guidance: the liked profile becomes the positive prompt, the disliked profile
the negative prompt. Refinement (PIGReward's prompt optimisation, without a model) raises
the emphasis of the elements the last candidates scored lowest on; the prompt is always
rebuilt from (subject, profile, emphasis), so refining never piles up repeated phrases.

>>> from agentpref.profile import Profile, UserProfile
>>> p = UserProfile(likes=Profile(color=["Teal", "Navy"], saturation=["Muted"]),
...                 dislikes=Profile(color=["Crimson"]))
>>> compose_prompt("a lighthouse", p).positive
'a lighthouse, palette of teal and navy, muted saturation'
>>> compose_prompt("a lighthouse", p).negative
'crimson'
>>> compose_prompt("a lighthouse", p, {Element.COLOR: 1}).positive
'a lighthouse, strongly palette of teal and navy, muted saturation'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.term_search import EMPHASIS_PREFIXES as _EMPHASIS
from agentpref.term_search import MAX_EMPHASIS, find_terms
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary

# How each element reads inside a prompt; {} is the joined terms.
_PHRASES: dict[Element, str] = {
    Element.ART_STYLES: "{} style",
    Element.ARTISTIC_MEDIUM: "{}",
    Element.COLOR: "palette of {}",
    Element.SATURATION: "{} saturation",
    Element.DETAIL: "{} detail",
}
WEAK_SCORE = 3.5  # out of 5: elements scoring below this are emphasised on refinement


@dataclass(frozen=True)
class Prompt:
    """A positive and negative prompt, plus what shaped them."""

    positive: str
    negative: str
    emphasis: dict[Element, int] = field(default_factory=dict)
    left_out: tuple[Element, ...] = ()


def _join(terms: list[str]) -> str:
    terms = [t.lower() if not t.isupper() else t for t in terms]
    return terms[0] if len(terms) == 1 else ", ".join(terms[:-1]) + " and " + terms[-1]


def _element_phrases(
    profile: Profile, emphasis: Mapping[Element, int], lead: Sequence[Element] = ()
) -> tuple[list[str], list[Element]]:
    phrases, left_out = [], []
    for element in [*lead, *(e for e in ELEMENTS if e not in lead)]:
        terms = profile.terms(element)
        if not terms:
            continue
        if profile.is_uncertain(element) and element not in lead and not emphasis.get(element):
            # A guess (e.g. an art style with no metadata behind it) would steer the
            # generator somewhere the person never asked for.
            left_out.append(element)
            continue
        level = min(emphasis.get(element, 0), MAX_EMPHASIS)
        phrases.append(_EMPHASIS[level] + _PHRASES[element].format(_join(terms)))
    return phrases, left_out


def compose_prompt(
    subject: str,
    profile: UserProfile,
    emphasis: Mapping[Element, int] | None = None,
    lead: Sequence[Element] = (),
    avoid: Sequence[str] = (),
) -> Prompt:
    """Positive prompt = subject + liked elements (+ keywords); negative = disliked terms
    (+ keywords, + `avoid`: what feedback found in the worst candidates).

    Elements in `lead` come first (right after the subject): the weak ones refinement
    stresses, which also survive a text encoder that cuts long prompts. An uncertain element
    (a guess) is left out unless it leads or was stressed before: once candidates were judged
    weak on it, the guess is what they are judged against, so naming it is the way to meet it
    (and it stays named once met).
    """
    emphasis = dict(emphasis or {})
    liked, left_out = _element_phrases(profile.likes, emphasis, lead)
    positive = ", ".join([subject.strip(), *liked, *profile.likes.keywords]).strip(", ")
    disliked = [
        t.lower() for e in ELEMENTS if not profile.dislikes.is_uncertain(e) for t in profile.dislikes.terms(e)
    ]
    negative = ", ".join(dict.fromkeys([*disliked, *profile.dislikes.keywords, *(t.lower() for t in avoid)]))
    return Prompt(positive=positive, negative=negative, emphasis=emphasis, left_out=tuple(left_out))


def weak_elements(element_scores: Mapping[Element, float], threshold: float = WEAK_SCORE) -> list[Element]:
    """Elements scoring under `threshold` (0-5 scale), weakest first."""
    weak = [e for e, s in element_scores.items() if s < threshold]
    return sorted(weak, key=lambda e: element_scores[e])


def refine_emphasis(
    emphasis: Mapping[Element, int], element_scores: Mapping[Element, float], threshold: float = WEAK_SCORE
) -> dict[Element, int]:
    """Raise the emphasis of every element the best candidate scored weakly on."""
    refined = dict(emphasis)
    for element in weak_elements(element_scores, threshold):
        refined[element] = min(refined.get(element, 0) + 1, MAX_EMPHASIS)
    return refined


def refine_prompt(
    subject: str,
    profile: UserProfile,
    emphasis: Mapping[Element, int],
    element_scores: Mapping[Element, float],
    threshold: float = WEAK_SCORE,
    avoid: Sequence[str] = (),
) -> Prompt:
    """The next prompt: the same subject and profile, with the weak elements stronger and
    first (weakest first), and `avoid` added to the negative prompt."""
    lead = weak_elements(element_scores, threshold)
    return compose_prompt(subject, profile, refine_emphasis(emphasis, element_scores, threshold), lead, avoid)


MIN_AVOIDED_DELTA_E = 25.0
"""A colour this close (CIE76) to a liked one is not avoided: negating it would take the liked one too."""


def _clashes(term: Term, liked: Sequence[Term], vocab: Vocabulary) -> bool:
    """Whether avoiding `term` would also avoid something liked: a colour near a liked colour, a
    saturation or detail range that overlaps a liked one, a medium or style of a liked kind."""
    for other in liked:
        near = bool(term.rgb and other.rgb) and (
            float(np.linalg.norm(vocab.color_lab(term) - vocab.color_lab(other))) < MIN_AVOIDED_DELTA_E
        )
        overlaps = any(
            (a := getattr(term, name)) and (b := getattr(other, name)) and a[0] <= b[1] and b[0] <= a[1]
            for name in ("saturation_range", "detail_range")
        )
        kind = bool(term.treatment and term.treatment == other.treatment) or bool(
            term.family and term.family == other.family
        )
        if term.name == other.name or near or overlaps or kind:
            return True
    return False


def terms_to_avoid(
    rationales: Sequence[Mapping[Element, str]],
    element_scores: Sequence[Mapping[Element, float]],
    profile: UserProfile,
    vocab: Vocabulary | None = None,
    threshold: float = WEAK_SCORE,
) -> list[str]:
    """What the worst candidates share with the dislikes: terms the judge named in their
    reasons for their weak elements that are like a disliked term (a near colour, an
    overlapping range, a medium or style of the same kind) and unlike every liked one.

    >>> p = UserProfile(likes=Profile(color=["Teal"]), dislikes=Profile(color=["Scarlet"]))
    >>> reasons = [{Element.COLOR: "its palette is mostly red, orange and teal"}]
    >>> terms_to_avoid(reasons, [{Element.COLOR: 1.5}], p)
    ['Red']
    """
    vocab = vocab or load_vocabulary()

    def resolved(names: Sequence[str], element: Element) -> list[Term]:
        return [t for name in names if (t := vocab.get(name, element)) is not None]

    found: dict[str, None] = {}
    for reasons, scores in zip(rationales, element_scores, strict=True):
        for element, text in reasons.items():
            if scores.get(element, 5.0) >= threshold:
                continue
            liked = resolved(profile.likes.terms(element), element)
            disliked = resolved(profile.dislikes.terms(element), element)
            for term, _ in find_terms(text.split(";")[0], vocab):
                if (
                    term.element is element
                    and _clashes(term, disliked, vocab)
                    and not _clashes(term, liked, vocab)
                ):
                    found[term.name] = None
    return list(found)
