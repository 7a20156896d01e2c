"""The `Assessor` protocol every judging backend implements, and what they share.

An assessor predicts a person's profile from references and judges candidates against
it (predict-then-assess). `compare` and `rank` take either the references themselves or
an already predicted `UserProfile`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from agentpref.images.measure import Measurements
from agentpref.images.references import References
from agentpref.images.refs import ImageLike
from agentpref.judgment import Judgment, Ranking
from agentpref.profile import UserProfile

RefsOrProfile = References | UserProfile


@runtime_checkable
class Assessor(Protocol):
    """Predicts profiles and judges images. Sync methods, plus async twins for concurrency."""

    name: str

    def profile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile: ...

    def compare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment: ...

    def rank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking: ...

    async def aprofile(
        self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()
    ) -> UserProfile: ...

    async def acompare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment: ...

    async def arank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking: ...


@runtime_checkable
class Measuring(Protocol):
    """An assessor that measures pictures (the features judge): `measure` is cached by content,
    so what it measured while judging is free to ask again."""

    def measure(self, image: ImageLike) -> Measurements: ...


class SyncAssessor:
    """Mixin for backends whose work is CPU-bound: async twins run the sync method in a thread."""

    async def aprofile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile:
        return await asyncio.to_thread(self.profile, likes, dislikes)  # type: ignore[attr-defined]

    async def acompare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        return await asyncio.to_thread(self.compare, refs_or_profile, a, b)  # type: ignore[attr-defined]

    async def arank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking:
        return await asyncio.to_thread(self.rank, refs_or_profile, candidates)  # type: ignore[attr-defined]
