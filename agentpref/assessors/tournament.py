"""Ranking many candidates with a pairwise judge in few comparisons: a Swiss tournament.

A pairwise judge (PreferThinker compares two images at a time) would need N(N-1)/2
comparisons to meet every pair. A Swiss tournament plays ceil(log2 N) rounds; each round
pairs candidates with equal records who have not met yet, so N/2 · ceil(log2 N)
comparisons find the best (the only one winning every round) and order the rest by
record. The games of a round are independent, so a backend runs them concurrently.

Standings come from the judgments: wins first, then the mean total score the judge gave
the candidate (PreferThinker scores both images 0-25 in every comparison), then the
strength of the opponents met (Buchholz), then the input order.

>>> pairs = first_round(4)
>>> pairs
[(0, 2), (1, 3)]
>>> t = Standings(4)
>>> t.record(0, 2, winner=0, score_a=20, score_b=12)
>>> t.record(1, 3, winner=3, score_a=9, score_b=18)
>>> next_round(t)  # 3 and 2 have not been Image A yet
[(3, 0), (2, 1)]
>>> t.record(3, 0, winner=0, score_a=17, score_b=21)
>>> t.record(2, 1, winner=2, score_a=11, score_b=8)
>>> t.order()
[0, 3, 2, 1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING

from agentpref.errors import BackendError
from agentpref.judgment import Judgment, RankedCandidate, Ranking
from agentpref.profile import ELEMENTS, Element, UserProfile

if TYPE_CHECKING:
    from agentpref.images.refs import ImageRef

MAX_TOTAL = 25.0  # five elements scored 0-5


def swiss_rounds(n: int) -> int:
    """Rounds that single out one unbeaten candidate: ceil(log2 n).

    >>> [swiss_rounds(n) for n in (1, 2, 3, 8, 9)]
    [0, 1, 2, 3, 4]
    """
    return math.ceil(math.log2(n)) if n > 1 else 0


def all_pairs(n: int) -> list[tuple[int, int]]:
    """Every pair once; who is shown first alternates so no candidate is always Image A.

    >>> all_pairs(3)
    [(0, 1), (2, 0), (1, 2)]
    """
    return [(i, j) if (i + j) % 2 else (j, i) for i, j in combinations(range(n), 2)]


def first_round(n: int) -> list[tuple[int, int]]:
    """Top half against bottom half in input order (the odd last candidate sits out)."""
    half = n // 2
    return [(i, i + half) for i in range(half)]


@dataclass
class _Record:
    wins: float = 0.0
    games: int = 0
    scores: list[float] = field(default_factory=list)
    opponents: list[int] = field(default_factory=list)
    shown_first: int = 0
    byes: int = 0


class Standings:
    """Results so far: who met whom, wins and the scores the judge gave."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.records = [_Record() for _ in range(n)]

    def record(
        self,
        a: int,
        b: int,
        *,
        winner: int | None,
        score_a: float | None = None,
        score_b: float | None = None,
    ) -> None:
        """One comparison of candidate `a` (shown as Image A) with `b`.

        `winner` None means the judgment failed: the pair counts as met (so it is not
        asked again) but neither side gets a game.
        """
        ra, rb = self.records[a], self.records[b]
        ra.opponents.append(b)
        rb.opponents.append(a)
        ra.shown_first += 1
        if winner is None:
            return
        for r, s in ((ra, score_a), (rb, score_b)):
            r.games += 1
            if s is not None:
                r.scores.append(s)
        self.records[winner].wins += 1

    def bye(self, i: int) -> None:
        self.records[i].byes += 1

    def win_rate(self, i: int) -> float:
        r = self.records[i]
        return r.wins / r.games if r.games else 0.0

    def mean_score(self, i: int) -> float:
        scores = self.records[i].scores
        return sum(scores) / len(scores) if scores else 0.0

    def buchholz(self, i: int) -> float:
        return sum(self.records[o].wins for o in self.records[i].opponents)

    def order(self) -> list[int]:
        """Candidate indices, best first."""
        return sorted(
            range(self.n),
            key=lambda i: (
                -self.records[i].wins,
                -self.win_rate(i),
                -self.mean_score(i),
                -self.buchholz(i),
                i,
            ),
        )

    def met(self, i: int, j: int) -> bool:
        return j in self.records[i].opponents


def next_round(standings: Standings) -> list[tuple[int, int]]:
    """Pairs for the next round: neighbours in the standings who have not met yet.

    With an odd count the lowest-placed candidate without a bye sits out. Of each pair,
    the one shown first less often so far becomes Image A, which balances position bias.
    """
    order = standings.order()
    if len(order) % 2:
        sitting = next(
            (i for i in reversed(order) if standings.records[i].byes == 0),
            order[-1],
        )
        standings.bye(sitting)
        order.remove(sitting)
    pairs: list[tuple[int, int]] = []
    waiting = list(order)
    while len(waiting) > 1:
        top = waiting.pop(0)
        partner = next((j for j in waiting if not standings.met(top, j)), waiting[0])
        waiting.remove(partner)
        first, second = top, partner
        if standings.records[partner].shown_first < standings.records[top].shown_first:
            first, second = partner, top
        pairs.append((first, second))
    return pairs


class RankingFailed(BackendError):
    """Every comparison of a ranking was unreadable: its order would only be the input order.

    `judgments` keeps the failed judgments (with the raw model text) for the caller to show.
    """

    def __init__(self, message: str, judgments: list[Judgment]) -> None:
        super().__init__(message)
        self.judgments = judgments


def check_ranking(ranking: Ranking) -> Ranking:
    """`ranking` if at least one of its comparisons was read, else `RankingFailed` saying why.

    A ranking made of failed comparisons scores every candidate 0 in input order: shown as a
    result, it would name an arbitrary best.
    """
    judgments = ranking.judgments
    if judgments and all(j.failed for j in judgments):
        who = f" by {ranking.assessor}" if ranking.assessor else ""
        raise RankingFailed(
            f"no ranking: all {len(judgments)} pairwise comparison(s){who} were unreadable; "
            f"the first: {judgments[0].error or 'no error given'}",
            list(judgments),
        )
    return ranking


def ranking_from_judgments(
    candidates: Sequence[ImageRef],
    standings: Standings,
    judgments: Sequence[Judgment],
    *,
    profile: UserProfile | None = None,
    assessor: str = "",
) -> Ranking:
    """A `Ranking` in standings order; each candidate's scores are its means over its comparisons.

    Raises `RankingFailed` when every comparison failed (there is no order to give).
    """
    by_label: dict[str, list[tuple[Judgment, str]]] = {}
    for j in judgments:
        if not j.failed:
            by_label.setdefault(j.a, []).append((j, "a"))
            by_label.setdefault(j.b, []).append((j, "b"))
    ranked = []
    for i in standings.order():
        ref = candidates[i]
        element_scores: dict[Element, float] = {}
        rationale: dict[Element, str] = {}
        games = by_label.get(ref.label, [])
        for element in ELEMENTS:
            values = [getattr(s, f"score_{side}") for j, side in games if (s := j.score(element)) is not None]
            if values:
                element_scores[element] = sum(values) / len(values)
            reasons = [
                getattr(s, f"rationale_{side}") for j, side in games if (s := j.score(element)) is not None
            ]
            if reasons and reasons[-1]:
                rationale[element] = reasons[-1]
        ranked.append(
            RankedCandidate(
                label=ref.label,
                image_hash=ref.sha256,
                score=standings.mean_score(i),
                element_scores=element_scores,
                rationale=rationale,
                wins=int(standings.records[i].wins),
            )
        )
    return check_ranking(
        Ranking(
            candidates=ranked,
            judgments=list(judgments),
            profile=profile,
            assessor=assessor,
            max_score=MAX_TOTAL,
        )
    )
