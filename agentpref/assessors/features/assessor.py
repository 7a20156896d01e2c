"""The `features` assessor: embedded, weight-free, deterministic predict-then-assess.

It measures every image (`agentpref.images.measure`: palette, saturation, lightness,
detail, texture, layout), predicts the profile as what separates likes from dislikes
(`features.profile`), and scores a candidate 0-5 per element by how well it fits the
profile's liked side and how far it is from the disliked side (`features.fit`). Given
references it judges against the profile it predicts from them, so `compare(refs, a, b)`
and `compare(profile(refs), a, b)` are one judgment. Each score comes with a reason in plain
words (`features.rationale`). `compare` and `rank` both score each candidate once, so
ranking N candidates costs N measurements, not N^2 comparisons.

Ties: totals are compared at one decimal; equal totals are broken by the unrounded totals,
written into `Judgment.issues`. Pictures that fit the taste exactly as well (the same
picture twice) tie: no winner, and the summary says so. `rank` orders exact ties by content
hash (a stable, position-independent rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agentpref.assessors.base import RefsOrProfile, SyncAssessor
from agentpref.assessors.features.fit import fit_score, side_distance
from agentpref.assessors.features.profile import build_profile
from agentpref.assessors.features.rationale import reason
from agentpref.errors import InputError
from agentpref.images.measure import MeasurementCache, Measurements
from agentpref.images.references import References, image_list
from agentpref.images.refs import ImageLike, ImageRef
from agentpref.judgment import DimensionScore, Judgment, RankedCandidate, Ranking, Winner
from agentpref.preferthinker.layout import format_judgment
from agentpref.profile import ELEMENTS, Element, UserProfile
from agentpref.vocabulary import Vocabulary, load_vocabulary

MAX_SCORE = 5.0 * len(ELEMENTS)


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

    def _target(self, refs_or_profile: RefsOrProfile) -> UserProfile:
        """The profile candidates are judged against: the one given, or the one the references show."""
        if isinstance(refs_or_profile, UserProfile):
            return refs_or_profile
        if isinstance(refs_or_profile, References):
            return self.profile(refs_or_profile.likes, refs_or_profile.dislikes)
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

    def _score(self, profile: UserProfile, ref: ImageRef) -> CandidateScore:
        m = self.cache.get(ref)
        raw: dict[Element, float] = {}
        why: dict[Element, str] = {}
        for e in ELEMENTS:
            d_like = side_distance(e, m, profile.likes, self.vocab)
            d_dislike = side_distance(e, m, profile.dislikes, self.vocab)
            raw[e] = fit_score(d_like, d_dislike)
            why[e] = reason(e, m, profile.likes, profile.dislikes, d_like, d_dislike, self.vocab)
        scores = {e: round(float(np.clip(raw[e], 0.0, 5.0)), 1) for e in ELEMENTS}
        return CandidateScore(ref, m, scores, raw, why)

    # -- compare and rank ------------------------------------------------------------------

    def compare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        profile = self._target(refs_or_profile)
        ra, rb = ImageRef.coerce(a), ImageRef.coerce(b)
        sa, sb = self._score(profile, ra), self._score(profile, rb)
        issues: list[str] = []
        winner: Winner | None
        if sa.total != sb.total:
            winner = "A" if sa.total > sb.total else "B"
        elif not math.isclose(sa.raw_total, sb.raw_total, abs_tol=1e-9):
            winner = "A" if sa.raw_total > sb.raw_total else "B"
            issues.append(f"totals tied at {sa.total:g}; {winner} won on the unrounded scores")
        else:
            winner = None
            issues.append(f"tie: both fit this taste exactly as well ({sa.total:g} of {MAX_SCORE:g})")
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
        if winner is None:
            summary = f"Both images fit this taste equally well ({sa.total:g} of {MAX_SCORE:g} each)."
        else:
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
            profile=profile,
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
        profile = self._target(refs_or_profile)
        scored = [self._score(profile, ImageRef.coerce(c)) for c in candidates]
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
        return Ranking(candidates=ranked, profile=profile, assessor=self.name, max_score=MAX_SCORE)


def from_uri(rest: str, **options: Any) -> FeaturesAssessor:
    """The `features` backend: no argument; options are `FeaturesAssessor`'s keyword arguments."""
    if rest:
        raise InputError(f"backend 'features' takes no argument, got features:{rest}")
    return FeaturesAssessor(**options)
