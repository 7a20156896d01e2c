"""The `random` assessor: a coin flip per comparison, the floor every judge must beat.

Reproducible (the coin is seeded by the seed and the two images, in their order), so
an evaluation can be rerun; and, like any judge with no taste, it agrees with itself on
a swapped pair only half the time.

>>> from PIL import Image
>>> a, b = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
>>> judge = RandomAssessor(seed=1)
>>> judge.compare(UserProfile(), a, b).winner == RandomAssessor(seed=1).compare(UserProfile(), a, b).winner
True
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl

from agentpref.assessors.base import RefsOrProfile, SyncAssessor
from agentpref.errors import InputError
from agentpref.images.references import image_list
from agentpref.images.refs import ImageLike, ImageRef
from agentpref.judgment import Judgment, RankedCandidate, Ranking
from agentpref.profile import UserProfile


class RandomAssessor(SyncAssessor):
    """Picks A or B with equal odds; predicts an empty profile."""

    name = "random"

    def __init__(self, seed: int | str = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | str):
            raise InputError(f"random: seed must be an integer (got {seed!r:.80})")
        try:
            self.seed = int(seed)
        except ValueError:
            raise InputError(f"random: seed must be an integer (got {seed!r:.80})") from None

    def coin(self, a: ImageRef, b: ImageRef) -> Literal["A", "B"]:
        digest = hashlib.sha256(f"{self.seed}:{a.sha256}:{b.sha256}".encode()).digest()
        return "A" if digest[0] % 2 == 0 else "B"

    def profile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile:
        return UserProfile()

    def compare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        ra, rb = ImageRef.coerce(a), ImageRef.coerce(b)
        winner = self.coin(ra, rb)
        return Judgment(a=ra.label, b=rb.label, winner=winner, summary="a coin flip", assessor=self.name)

    def rank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking:
        refs = [ImageRef.coerce(c) for c in image_list(candidates, what="candidates")]
        if not refs:
            raise InputError("candidates: need at least one image to rank")
        order = random.Random(f"{self.seed}:" + ",".join(r.sha256 for r in refs)).sample(refs, len(refs))
        ranked = [
            RankedCandidate(label=r.label, image_hash=r.sha256, score=float(len(order) - i))
            for i, r in enumerate(order)
        ]
        return Ranking(candidates=ranked, assessor=self.name, max_score=float(len(order)))


def from_uri(rest: str, **options: Any) -> RandomAssessor:
    """The `random` backend: `random` or `random:?seed=3`; any other setting is an InputError.

    >>> from_uri("?seed=3").seed
    3
    >>> from_uri("?bogus=1")
    Traceback (most recent call last):
    agentpref.errors.InputError: random: unknown setting 'bogus'; the only one is seed
    """
    query = dict(parse_qsl(rest.lstrip("?"), keep_blank_values=True))
    settings = {**query, **options}
    if unknown := sorted(set(settings) - {"seed"}):
        raise InputError(f"random: unknown setting {unknown[0]!r}; the only one is seed")
    return RandomAssessor(**settings)
