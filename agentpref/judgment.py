"""What an assessor says about candidates: per-element scores, a winner, a ranking.

A `Judgment` keeps everything a person (or a later training run) needs to trust or
audit it: per-element 0-5 scores for A and B with a rationale each, the totals, the
winner, the raw model text, and any inconsistency found in it (reported, never hidden).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agentpref.profile import Element, UserProfile

Winner = Literal["A", "B"]


class DimensionScore(BaseModel):
    """One element's scores for candidates A and B, each with its reason."""

    model_config = ConfigDict(extra="forbid")

    element: Element
    score_a: float = Field(ge=0, le=5)
    score_b: float = Field(ge=0, le=5)
    rationale_a: str = ""
    rationale_b: str = ""


class Usage(BaseModel):
    """What a model-backed judgment cost: requests sent, tokens (as the server reports them), time."""

    model_config = ConfigDict(extra="forbid")

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            requests=self.requests + other.requests,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            latency_s=self.latency_s + other.latency_s,
        )


class Judgment(BaseModel):
    """The outcome of comparing candidate A with candidate B for one person.

    `failed` judgments carry the raw text and the error instead of scores, so a batch
    keeps going when a model answers nonsense.
    """

    model_config = ConfigDict(extra="forbid")

    a: str = Field("A", description="label of candidate A (file name or content hash)")
    b: str = Field("B", description="label of candidate B")
    scores: list[DimensionScore] = Field(default_factory=list)
    total_a: float | None = None
    total_b: float | None = None
    winner: Winner | None = None
    profile: UserProfile | None = Field(None, description="the profile the judgment was made against")
    summary: str = ""
    issues: list[str] = Field(
        default_factory=list, description="inconsistencies found, e.g. totals that disagree with the answer"
    )
    raw_text: str | None = None
    failed: bool = False
    error: str | None = None
    assessor: str = ""
    swap_agreement: bool | None = Field(None, description="whether a swapped second pass agreed")
    usage: Usage | None = Field(None, description="requests, tokens and time, for model backends")

    def score(self, element: Element) -> DimensionScore | None:
        return next((s for s in self.scores if s.element == element), None)

    @property
    def margin(self) -> float:
        """total_b - total_a (0 when either is unknown)."""
        if self.total_a is None or self.total_b is None:
            return 0.0
        return self.total_b - self.total_a

    @classmethod
    def failure(
        cls, error: str, raw_text: str | None = None, *, a: str = "A", b: str = "B", assessor: str = ""
    ) -> Judgment:
        return cls(a=a, b=b, failed=True, error=error, raw_text=raw_text, assessor=assessor)


class RankedCandidate(BaseModel):
    """One candidate's place in a ranking, with its per-element scores against the profile."""

    model_config = ConfigDict(extra="forbid")

    label: str
    image_hash: str
    score: float = Field(description="higher is closer to the person's taste; the assessor says the scale")
    element_scores: dict[Element, float] = Field(default_factory=dict)
    rationale: dict[Element, str] = Field(default_factory=dict)
    wins: int = 0


class Ranking(BaseModel):
    """Candidates best first, with the judgments that produced the order."""

    model_config = ConfigDict(extra="forbid")

    candidates: list[RankedCandidate]
    judgments: list[Judgment] = Field(default_factory=list)
    profile: UserProfile | None = None
    assessor: str = ""
    max_score: float = Field(25.0, description="score a perfect match would get")

    @property
    def best(self) -> RankedCandidate:
        return self.candidates[0]
