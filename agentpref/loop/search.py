"""Term search: a later round's candidates as one-element changes of the best so far.

Best-of-N spends every image on a new roll of the dice. The loop knows more: which elements
of its best candidate the judge found weak, and (measured on the picture itself) in which
direction a measurable one missed. So each candidate of a later round keeps the best's seed
and everything that worked, and changes one weak element:

- Detail or Saturation measured outside the liked term's range: the neighbouring term one and
  then two steps the other way ("fine" -> "highly detailed" when the picture came out too
  plain), since a generator that undershoots a word needs a stronger word;
- Detail still short: another medium (some media cannot carry fine detail);
- Artistic Medium or Art Styles read wrong: another medium or style, one of each kind not
  disliked (what the judge reads as the liked one may be drawn under another name);
- any element: stressed (emphasis) or, with a generator whose randomness is separable by
  element (`ImageConditioning.variation`), drawn again with everything else kept.

Weakest elements go first, at most `MAX_PER_ELEMENT` changes each per round; a change that
would remake a picture already made (the same seed, terms, stress and draws), or that is of a
kind that already made no difference in this run, is skipped.
Changes accumulate: a variant of a variant keeps its parent's changes. Choices are seeded by
the run's seed, so a run is reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np

from agentpref.profile import ELEMENTS, Element, UserProfile
from agentpref.prompting import compose_prompt, weak_elements
from agentpref.runs.record import Candidate, RunRecord, Variant, candidate_id
from agentpref.term_search import MAX_EMPHASIS
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary

MAX_PER_ELEMENT = 2
"""Changes per weak element per round: the rest of the round goes to the next weakest."""
SETTLED = 5.0
"""An element scoring this much (of 5) is left as it is: anything less may still gain (a tenth
of a point counts; leaving 4.9s alone measured fewer runs improving: 72% against 80%)."""


@dataclass(frozen=True)
class _Origin:
    """What a candidate was made from, beyond the profile: its seed and the changes in force."""

    seed: int
    terms: dict[Element, str]
    emphasis: dict[Element, int]
    variation: dict[Element, int]


@dataclass(frozen=True)
class _Change:
    element: Element
    words: str
    term: str | None = None
    emphasis: int | None = None
    vary: bool = False

    @property
    def kind(self) -> Literal["term", "stress", "draw"]:
        return "draw" if self.vary else "stress" if self.emphasis is not None else "term"


def _origin(record: RunRecord, candidate: Candidate) -> _Origin:
    iteration = next(it for it in record.iterations if it.iteration == candidate.iteration)
    variant = iteration.variants.get(candidate.index)
    if variant is None:
        return _Origin(candidate.seed, {}, dict(iteration.emphasis), {})
    return _Origin(candidate.seed, dict(variant.terms), dict(variant.emphasis), dict(variant.variation))


def _resolve(name: str, element: Element, vocab: Vocabulary) -> Term | None:
    return vocab.get(name, element) or vocab.normalize(name, element)


def _range(term: Term, element: Element) -> tuple[float, float] | None:
    return term.detail_range if element is Element.DETAIL else term.saturation_range


def _middle(lo: float, hi: float, element: Element) -> float:
    # Detail ranges are wide on a log scale (0.0-0.03 up to 0.35-0.7): their geometric middle.
    return math.sqrt(max(lo, 0.005) * hi) if element is Element.DETAIL else (lo + hi) / 2


def _steps(
    element: Element, current: str, liked: Term, measured: float, vocab: Vocabulary
) -> tuple[list[str], str]:
    """Terms one and two steps from `current`, away from where `measured` missed the liked range."""
    ranged = [(t, r) for t in vocab.terms(element) if (r := _range(t, element))]
    ladder = [t.name for t, r in sorted(ranged, key=lambda tr: (_middle(*tr[1], element), tr[0].name))]
    liked_range = _range(liked, element)
    if current not in ladder or liked_range is None:
        return [], ""
    lo, hi = liked_range
    if lo <= measured <= hi:
        return [], ""
    up = measured < lo
    i = ladder.index(current)
    picks = [ladder[j] for k in (1, 2) if 0 <= (j := i + k if up else i - k) < len(ladder)]
    what = "edge density" if element is Element.DETAIL else "saturation"
    why = f"measured {what} {measured:.3g} is {'below' if up else 'above'} your liked {lo:g}-{hi:g}"
    return picks, why


def _others(
    element: Element, current: str | None, profile: UserProfile, rng: np.random.Generator, vocab: Vocabulary
) -> list[str]:
    """One term of each other kind (medium treatment, style family), none of a disliked kind, shuffled."""
    hint = "treatment" if element is Element.ARTISTIC_MEDIUM else "family"
    now = _resolve(current, element, vocab) if current else None
    banned = {getattr(now, hint, None)} | {
        getattr(_resolve(n, element, vocab), hint, None) for n in profile.dislikes.terms(element)
    }
    first_of_kind: dict[str, str] = {}
    for term in vocab.terms(element):
        kind = getattr(term, hint)
        if kind and kind not in banned:
            first_of_kind.setdefault(kind, term.name)
    names = sorted(first_of_kind.values())
    return [names[i] for i in rng.permutation(len(names))]


Measured = Callable[[Candidate, Element], float | None]
"""A candidate's measured Detail (edge density) or Saturation (mean saturation), None if unknown;
asked only when a step needs it."""


def _changes(
    element: Element,
    origin: _Origin,
    score: float,
    profile: UserProfile,
    measured: Callable[[], float | None],
    can_vary: bool,
    rng: np.random.Generator,
    vocab: Vocabulary,
) -> Iterator[_Change]:
    """What may be changed about `element`, most promising first."""
    liked = [t for n in profile.likes.terms(element) if (t := _resolve(n, element, vocab))]
    current = origin.terms.get(element) or (liked[0].name if liked else None)
    if (
        element in (Element.DETAIL, Element.SATURATION)
        and current
        and liked
        and (value := measured()) is not None
    ):
        picks, why = _steps(element, current, liked[0], value, vocab)
        for name in picks:
            yield _Change(element, f"{element.value}: {current.lower()} -> {name.lower()} ({why})", term=name)
    if element is Element.DETAIL:
        medium = Element.ARTISTIC_MEDIUM
        now = origin.terms.get(medium) or next(iter(profile.likes.terms(medium)), None)
        for name in _others(medium, now, profile, rng, vocab)[:2]:
            yield _Change(
                medium,
                f"{medium.value}: {(now or 'none').lower()} -> {name.lower()} (detail {score:.1f}/5 with it)",
                term=name,
            )
    if element in (Element.ARTISTIC_MEDIUM, Element.ART_STYLES):
        for name in _others(element, current, profile, rng, vocab)[:3]:
            yield _Change(
                element,
                f"{element.value}: {(current or 'none').lower()} -> {name.lower()} (read as {score:.1f}/5)",
                term=name,
            )
    level = origin.emphasis.get(element, 0)
    if level < MAX_EMPHASIS and (liked or element in origin.terms):
        yield _Change(element, f"{element.value}: stressed (+{level + 1})", emphasis=level + 1)
    if can_vary:
        yield _Change(element, f"{element.value}: drawn again", vary=True)


def _key(origin: _Origin) -> tuple[object, ...]:
    """What makes a picture, as far as term search changes it: a negative prompt that grew since
    does not make a change new."""

    def items(d: dict[Element, Any]) -> tuple[tuple[str, Any], ...]:
        return tuple(sorted((e.value, v) for e, v in d.items() if v))

    return (origin.seed, items(origin.terms), items(origin.emphasis), items(origin.variation))


def _made(record: RunRecord) -> set[tuple[object, ...]]:
    return {_key(_origin(record, c)) for c in record.candidates}


def _idle(record: RunRecord) -> set[tuple[Element, str]]:
    """(element, kind) of the changes that made no difference in this run: the picture came out
    byte for byte its parent's (a generator that ignores a medium's stress, a palette of one
    colour drawn again). Trying them again would waste a candidate."""
    by_id = {c.id: c for c in record.candidates}
    idle = set()
    for it in record.iterations:
        for index, variant in it.variants.items():
            made, parent = by_id.get(candidate_id(it.iteration, index)), by_id.get(variant.parent)
            if made is not None and parent is not None and made.sha256 == parent.sha256:
                idle.add((variant.element, variant.kind))
    return idle


def _next_variation(record: RunRecord, seed: int, element: Element) -> int:
    """A draw of `element`'s randomness no candidate of `seed` used yet."""
    used = [0]
    for c in record.candidates:
        if c.seed == seed:
            used.append(_origin(record, c).variation.get(element, 0))
    return max(used) + 1


def plan_variants(
    record: RunRecord,
    parents: Sequence[tuple[Candidate, dict[Element, float]]],
    n: int,
    avoid: Sequence[str],
    can_vary: bool,
    measured: Measured = lambda candidate, element: None,
) -> list[Variant]:
    """Up to `n` variants for the next round (each made on its parent's seed): changes of `parents` (best
    first: candidate and its element scores), weakest elements first."""
    assert record.profile is not None
    profile, vocab = record.profile, load_vocabulary()
    iteration = record.iterations[-1].iteration + 1
    made, idle, planned = _made(record), _idle(record), []
    for rank, (parent, scores) in enumerate(parents):
        origin = _origin(record, parent)
        weak = weak_elements(scores, SETTLED)
        for k, element in enumerate(weak):
            rng = np.random.default_rng([record.seed, iteration, rank, ELEMENTS.index(element)])
            taken = 0
            value = partial(measured, parent, element)
            for change in _changes(element, origin, scores[element], profile, value, can_vary, rng, vocab):
                if len(planned) >= n:
                    return planned
                if taken >= MAX_PER_ELEMENT:
                    break
                if (change.element, change.kind) in idle:
                    continue
                variant = _variant(record, parent.id, origin, change, weak[: k + 1], avoid, profile)
                key = _key(_Origin(origin.seed, variant.terms, variant.emphasis, variant.variation))
                if key in made:
                    continue
                made.add(key)
                planned.append(variant)
                taken += 1
    return planned


def _variant(
    record: RunRecord,
    parent: str,
    origin: _Origin,
    change: _Change,
    weak: Sequence[Element],
    avoid: Sequence[str],
    profile: UserProfile,
) -> Variant:
    terms, emphasis, variation = dict(origin.terms), dict(origin.emphasis), dict(origin.variation)
    if change.term is not None:
        terms[change.element] = change.term
    if change.emphasis is not None:
        emphasis[change.element] = change.emphasis
    if change.vary:
        variation[change.element] = _next_variation(record, origin.seed, change.element)
    likes = profile.likes.model_copy(update={e.field: [t] for e, t in terms.items()})
    working = profile.model_copy(update={"likes": likes})
    # Changed and weak elements lead: a changed guess must be named to be painted.
    lead = list(dict.fromkeys([*terms, *(e for e, v in emphasis.items() if v), *weak]))
    prompt = compose_prompt(record.subject, working, emphasis, lead=lead, avoid=avoid)
    return Variant(
        prompt=prompt.positive,
        negative_prompt=prompt.negative,
        parent=parent,
        element=change.element,
        kind=change.kind,
        change=change.words,
        terms=terms,
        emphasis={e: v for e, v in emphasis.items() if v},
        variation=variation,
    )
