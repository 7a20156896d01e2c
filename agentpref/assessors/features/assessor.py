"""The `features` assessor: embedded, weight-free, deterministic predict-then-assess.

It measures every image (`agentpref.images.measure`: palette, saturation, lightness,
detail, texture, layout), predicts the profile as what separates likes from dislikes
(`features_profile`), and scores a candidate 0-5 per element:

- against references: how close it is to the liked images and how far from the disliked
  ones on that element (distances in `features_model`);
- against a `UserProfile` alone: how well it fits the vocabulary meaning of the liked
  terms (reference colours, saturation/lightness/detail ranges, treatments, families)
  and how little it fits the disliked ones.

Each score comes with a reason in plain words. `compare` and `rank` both score each
candidate once, so ranking N candidates costs N measurements, not N^2 comparisons.

Ties: totals are compared at one decimal; equal totals are broken by the unrounded
totals, and exact equality by the smaller content hash (a stable, position-independent
rule). Either way the tie is written into `Judgment.issues`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentpref.assessors.base import RefsOrProfile, SyncAssessor
from agentpref.assessors.features.distances import (
    FAMILY_WORDS,
    TREATMENT_WORDS,
    family_probabilities,
    set_distance,
    term_distance,
    treatment_probabilities,
)
from agentpref.assessors.features.profile import best_detail_term, best_saturation_term, build_profile
from agentpref.errors import InputError
from agentpref.images.measure import MeasurementCache, Measurements
from agentpref.images.references import References, image_list
from agentpref.images.refs import ImageLike, ImageRef
from agentpref.judgment import DimensionScore, Judgment, RankedCandidate, Ranking
from agentpref.preferthinker.layout import format_judgment
from agentpref.profile import ELEMENTS, Element, UserProfile
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary

MAX_SCORE = 5.0 * len(ELEMENTS)
NEUTRAL = 2.5


@dataclass
class CandidateScore:
    """One candidate scored against one taste."""

    ref: ImageRef
    measurements: Measurements
    scores: dict[Element, float]
    raw: dict[Element, float]
    rationale: dict[Element, str]

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 1)

    @property
    def raw_total(self) -> float:
        return float(sum(self.raw.values()))


@dataclass
class _Target:
    """What candidates are judged against: references (measured) or a profile alone."""

    profile: UserProfile
    likes: list[Measurements]
    dislikes: list[Measurements]


# Candidate edge density over the liked mean -> words (first bound exceeded wins).
_DETAIL_WORDS = (
    (2.5, "much busier than your likes"),
    (1.5, "busier than your likes"),
    (0.67, "as detailed as your likes"),
    (0.4, "plainer than your likes"),
)


def _to_score(d_like: float | None, d_dislike: float | None) -> float:
    """Distances (units) to the liked and disliked side -> 0-5."""
    if d_like is None and d_dislike is None:
        return NEUTRAL
    if d_like is None:  # only dislikes known: far from them is good
        assert d_dislike is not None
        return 5.0 * (1.0 - 1.0 / (1.0 + d_dislike**2))
    close = 1.0 / (1.0 + d_like**2)
    if d_dislike is None:
        return 5.0 * close
    rel = d_dislike / (d_like + d_dislike) if d_like + d_dislike > 1e-9 else 0.5
    return 5.0 * (0.5 * close + 0.5 * rel)


def _names(terms: Sequence[str], limit: int = 3) -> str:
    t = [x.lower() for x in terms[:limit]]
    return "nothing" if not t else t[0] if len(t) == 1 else ", ".join(t[:-1]) + " and " + t[-1]


class FeaturesAssessor(SyncAssessor):
    """Measures images and scores them per element; no model, no network, same answer every time."""

    name = "features"

    def __init__(self, cache_size: int = 512, vocabulary: Vocabulary | None = None) -> None:
        self.cache = MeasurementCache(maxsize=cache_size)
        self.vocab = vocabulary or load_vocabulary()

    # -- measurement ---------------------------------------------------------------------

    def measure(self, image: ImageLike) -> Measurements:
        """Measurements of one image, cached by content hash."""
        return self.cache.get(ImageRef.coerce(image))

    # -- profile ---------------------------------------------------------------------------

    def profile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile:
        like_refs = [ImageRef.coerce(x) for x in likes]
        dislike_refs = [ImageRef.coerce(x) for x in dislikes]
        if not like_refs:
            raise InputError("likes: need at least one liked image to predict a profile")
        return build_profile(
            [self.cache.get(r) for r in like_refs],
            [self.cache.get(r) for r in dislike_refs],
            [r.prompt for r in like_refs],
            [r.prompt for r in dislike_refs],
            self.vocab,
        )

    def _target(self, refs_or_profile: RefsOrProfile) -> _Target:
        if isinstance(refs_or_profile, UserProfile):
            return _Target(refs_or_profile, [], [])
        if isinstance(refs_or_profile, References):
            likes = [self.cache.get(r) for r in refs_or_profile.likes]
            dislikes = [self.cache.get(r) for r in refs_or_profile.dislikes]
            profile = self.profile(refs_or_profile.likes, refs_or_profile.dislikes)
            return _Target(profile, likes, dislikes)
        raise InputError(
            f"refs_or_profile: expected References or UserProfile, got {type(refs_or_profile).__name__}"
        )

    # -- scoring ---------------------------------------------------------------------------

    def score(
        self, refs_or_profile: RefsOrProfile, image: ImageLike
    ) -> tuple[float, dict[Element, float], dict[Element, str]]:
        """(total out of 25, per-element 0-5 scores, per-element reasons) for one image."""
        s = self._score(self._target(refs_or_profile), ImageRef.coerce(image))
        return s.total, s.scores, s.rationale

    def _score(self, target: _Target, ref: ImageRef) -> CandidateScore:
        m = self.cache.get(ref)
        raw: dict[Element, float] = {}
        why: dict[Element, str] = {}
        for e in ELEMENTS:
            if target.likes:
                d_like = set_distance(e, m, target.likes)
                d_dislike = set_distance(e, m, target.dislikes) if target.dislikes else None
            else:
                d_like = term_distance(e, m, self._terms(target.profile.likes.terms(e), e))
                d_dislike = term_distance(e, m, self._terms(target.profile.dislikes.terms(e), e))
            raw[e] = _to_score(d_like, d_dislike)
            why[e] = self._reason(e, m, target, d_like, d_dislike)
        scores = {e: round(float(np.clip(raw[e], 0.0, 5.0)), 1) for e in ELEMENTS}
        return CandidateScore(ref, m, scores, raw, why)

    def _terms(self, names: Sequence[str], element: Element) -> list[Term]:
        out = []
        for n in names:
            t = self.vocab.get(n, element) or self.vocab.normalize(n, element)
            if t is not None:
                out.append(t)
        return out

    # -- words -----------------------------------------------------------------------------

    def _reason(
        self, e: Element, m: Measurements, target: _Target, d_like: float | None, d_dislike: float | None
    ) -> str:
        likes, dislikes = target.profile.likes, target.profile.dislikes
        if d_like is None and d_dislike is None:
            return f"no {e.value.lower()} preference is known, so this is neutral"
        near_dislike = d_dislike is not None and (d_like is None or d_dislike < d_like)
        fit = (
            "close to"
            if d_like is not None and d_like < 1.0
            else "near"
            if d_like is not None and d_like < 2.0
            else "far from"
        )
        if e is Element.COLOR:
            own = f"its palette of {_names(m.color_terms(3))}"
            if near_dislike:
                disliked = _names(dislikes.color)
                return f"{own} is closer to what you disliked ({disliked}) than to your liked palette"
            return f"{own} is {fit} your liked palette of {_names(likes.color)}"
        if e is Element.SATURATION:
            level = best_saturation_term(
                m.saturation_mean, m.lightness_mean, self.vocab.terms(Element.SATURATION)
            )
            own = (
                f"it is {level.name.lower()} "
                f"(saturation {m.saturation_mean:.2f}, lightness {m.lightness_mean:.2f})"
            )
            if target.likes:
                ref = [x.saturation_mean for x in target.likes]
                lo, hi = min(ref), max(ref)
                if m.saturation_mean > hi + 0.08:
                    cmp_ = (
                        "much more saturated than anything you liked"
                        if m.saturation_mean > hi + 0.2
                        else "more saturated than your likes"
                    )
                elif m.saturation_mean < lo - 0.08:
                    cmp_ = (
                        "much less saturated than anything you liked"
                        if m.saturation_mean < lo - 0.2
                        else "less saturated than your likes"
                    )
                else:
                    cmp_ = f"as saturated as your likes ({lo:.2f}-{hi:.2f})"
                return f"{own}, {cmp_}" + ("; like your dislikes" if near_dislike else "")
            return f"{own}, {fit} your liked {_names(likes.saturation)}" + (
                f"; it resembles your disliked {_names(dislikes.saturation)}" if near_dislike else ""
            )
        if e is Element.DETAIL:
            level = best_detail_term(m.edge_density, self.vocab.terms(Element.DETAIL))
            own = f"{level.name.lower()} detail (edge density {m.edge_density:.2f})"
            if target.likes:
                ref = [x.edge_density for x in target.likes]
                mean = float(np.mean(ref))
                ratio = (m.edge_density + 0.01) / (mean + 0.01)
                cmp_ = next(
                    (words for bound, words in _DETAIL_WORDS if ratio > bound), "much plainer than your likes"
                )
                return f"{own}, {cmp_}" + ("; like your dislikes" if near_dislike else "")
            return f"{own}, {fit} your liked {_names(likes.detail)}" + (
                f"; it resembles your disliked {_names(dislikes.detail)}" if near_dislike else ""
            )
        if e is Element.ARTISTIC_MEDIUM:
            p = treatment_probabilities(m)
            own = f"it looks like {TREATMENT_WORDS[max(p, key=p.__getitem__)]}"
            side = "your disliked" if near_dislike else "your liked"
            names = dislikes.artistic_medium if near_dislike else likes.artistic_medium
            return f"{own}, {'closer to' if near_dislike else fit} {side} {_names(names)}"
        p = family_probabilities(m)
        own = f"its composition reads as {FAMILY_WORDS[max(p, key=p.__getitem__)]}"
        side = "your disliked" if near_dislike else "your liked"
        names = dislikes.art_styles if near_dislike else likes.art_styles
        return f"{own}, {'closer to' if near_dislike else fit} {side} {_names(names)}"

    # -- compare and rank ------------------------------------------------------------------

    def compare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        target = self._target(refs_or_profile)
        ra, rb = ImageRef.coerce(a), ImageRef.coerce(b)
        sa, sb = self._score(target, ra), self._score(target, rb)
        issues: list[str] = []
        if sa.total != sb.total:
            winner = "A" if sa.total > sb.total else "B"
        elif not math.isclose(sa.raw_total, sb.raw_total, abs_tol=1e-9):
            winner = "A" if sa.raw_total > sb.raw_total else "B"
            issues.append(f"totals tied at {sa.total:g}; {winner} won on the unrounded scores")
        else:
            winner = "A" if ra.sha256 <= rb.sha256 else "B"
            issues.append(f"exact tie at {sa.total:g}; {winner} chosen by the stable content-hash rule")
        scores = [
            DimensionScore(
                element=e,
                score_a=sa.scores[e],
                score_b=sb.scores[e],
                rationale_a=sa.rationale[e],
                rationale_b=sb.rationale[e],
            )
            for e in ELEMENTS
        ]
        win, lose = (sa, sb) if winner == "A" else (sb, sa)
        key = max(ELEMENTS, key=lambda e: win.scores[e] - lose.scores[e])
        summary = (
            f"Image {winner} fits this taste better ({win.total:g} vs {lose.total:g} of {MAX_SCORE:g}); "
            f"the biggest difference is {key.value.lower()}: {win.rationale[key]}."
        )
        judgment = Judgment(
            a=ra.label,
            b=rb.label,
            scores=scores,
            total_a=sa.total,
            total_b=sb.total,
            winner=winner,
            profile=target.profile,
            summary=summary,
            issues=issues,
            assessor=self.name,
        )
        judgment.raw_text = format_judgment(judgment)  # the same answer in PreferThinker's layout
        return judgment

    def rank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking:
        candidates = image_list(candidates, what="candidates")
        if not candidates:
            raise InputError("candidates: need at least one image to rank")
        target = self._target(refs_or_profile)
        scored = [self._score(target, ImageRef.coerce(c)) for c in candidates]
        scored.sort(key=lambda s: (-s.total, -s.raw_total, s.ref.sha256))
        ranked = [
            RankedCandidate(
                label=s.ref.label,
                image_hash=s.ref.sha256,
                score=s.total,
                element_scores=dict(s.scores),
                rationale=dict(s.rationale),
                wins=sum(1 for o in scored if o.total < s.total),
            )
            for s in scored
        ]
        return Ranking(candidates=ranked, profile=target.profile, assessor=self.name, max_score=MAX_SCORE)


def from_uri(rest: str, **options: Any) -> FeaturesAssessor:
    """The `features` backend: no argument; options are `FeaturesAssessor`'s keyword arguments."""
    if rest:
        raise InputError(f"backend 'features' takes no argument, got features:{rest}")
    return FeaturesAssessor(**options)
