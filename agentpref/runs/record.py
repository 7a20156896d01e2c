"""The run record: everything a personalisation run produced, as pydantic models.

`summary.json` holds the whole `RunRecord` and the report is drawn from it; the folder
that holds them is `agentpref.runs.folder`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentpref.judgment import Judgment
from agentpref.profile import Element, UserProfile


class Candidate(BaseModel):
    """One generated image of a run and everything needed to reproduce it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    iteration: int
    index: int
    file: str = Field(description="path inside the run folder")
    sha256: str
    seed: int
    prompt: str
    negative_prompt: str | None = None
    generator: str
    params: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Assessment(BaseModel):
    """How one candidate scored against the person's profile."""

    model_config = ConfigDict(extra="forbid")

    candidate_id: str
    iteration: int
    score: float
    max_score: float
    element_scores: dict[Element, float] = Field(default_factory=dict)
    rationale: dict[Element, str] = Field(default_factory=dict)


class RefineSettings(BaseModel):
    """How the refine step moves from one round to the next (`agentpref.loop.refine`).

    Feedback rewriting always runs (and is what a failed rewriter falls back to); the rest
    are added on request and combine.
    """

    model_config = ConfigDict(extra="forbid")

    exploit: bool = Field(
        True, description="later rounds vary the best so far, one element at a time, on its seed"
    )
    rewriter: str | None = Field(
        None, description="URI of an OpenAI-compatible model that rewrites the prompts (recorded redacted)"
    )
    img2img_strength: float | None = Field(
        None, gt=0, lt=1, description="term search's candidates start from the image they change, this far"
    )
    image_prompt_scale: float | None = Field(
        None, ge=0, le=2, description="the liked references as IP-Adapter image prompts, at this scale"
    )


class Variant(BaseModel):
    """A candidate made as the best so far with one element changed (`agentpref.loop.search`).

    `terms`, `emphasis` and `variation` are what the change left in force, counted from the
    profile: the changes of the candidate it came from plus its own, so a later round builds
    on them.
    """

    model_config = ConfigDict(extra="forbid")

    prompt: str
    negative_prompt: str
    parent: str = Field(description="id of the candidate it changes")
    element: Element = Field(description="the element it changes")
    kind: Literal["term", "stress", "draw"] = Field(
        description="another term, more emphasis, or the element's randomness drawn again"
    )
    change: str = Field(description="what was changed and why, in words")
    terms: dict[Element, str] = Field(default_factory=dict, description="element -> the term used instead")
    emphasis: dict[Element, int] = Field(default_factory=dict)
    variation: dict[Element, int] = Field(
        default_factory=dict, description="element -> which other draw of its randomness (0: the seed's own)"
    )


class IterationRecord(BaseModel):
    """One round of generate -> assess: the prompt used, what shaped it and what came of it."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    prompt: str
    negative_prompt: str
    emphasis: dict[Element, int] = Field(default_factory=dict)
    strategies: list[str] = Field(default_factory=list, description="what shaped this round, in words")
    negative_terms: list[str] = Field(
        default_factory=list, description="terms feedback put in the negative prompt (kept for later rounds)"
    )
    seeds: dict[int, int] = Field(
        default_factory=dict, description="candidate index -> seed, where not the round's own (term search)"
    )
    starts_from: dict[int, str] = Field(
        default_factory=dict, description="candidate index -> id of the candidate its img2img starts from"
    )
    variants: dict[int, Variant] = Field(
        default_factory=dict, description="candidate index -> its own prompts, where it changes the best"
    )
    best_candidate: str | None = None
    best_score: float | None = None
    judgment: Judgment | None = Field(
        None, description="this round's best (B) against the best before it (A)"
    )
    ranking_judgments: list[Judgment] = Field(
        default_factory=list, description="the pairwise comparisons that ranked this round (model assessors)"
    )


class ReferenceInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str
    path: str | None
    sha256: str
    liked: bool
    prompt: str | None = None


class RunRecord(BaseModel):
    """Everything a run produced; summary.json holds it and the report is drawn from it."""

    model_config = ConfigDict(extra="forbid")

    subject: str
    assessor: str
    generator: str
    n: int
    max_iterations: int
    target: float = Field(description="stop when the best candidate averages this per element (0-5)")
    seed: int
    size: tuple[int, int]
    refine: RefineSettings = Field(default_factory=RefineSettings)
    references: list[ReferenceInfo] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    profile: UserProfile | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    assessments: list[Assessment] = Field(default_factory=list)
    iterations: list[IterationRecord] = Field(default_factory=list)
    best: str | None = Field(None, description="id of the best candidate so far")
    finished: bool = False
    stop_reason: str | None = None

    def candidate(self, candidate_id: str) -> Candidate:
        return next(c for c in self.candidates if c.id == candidate_id)

    def assessment(self, candidate_id: str) -> Assessment | None:
        return next((a for a in self.assessments if a.candidate_id == candidate_id), None)


def candidate_id(iteration: int, index: int) -> str:
    return f"it{iteration:02d}-c{index:02d}"
