"""State and context of the personalisation graph.

The state's channels are the fields of the `RunRecord`: the run's settings, written once
by the input, and what the nodes produce. Each node returns only what it changed: new
candidates are appended, an iteration's assessments and record replace that iteration's
(reducers keyed by id), the profile is written once. So a LangGraph `updates` event
carries one step's work, not the whole run, and `record_of` rebuilds the record.

State holds only serialisable values (paths, content hashes, pydantic models), so every
step is checkpointed and a killed run resumes. Live objects (backends, the decoded
images) travel in the runtime `Context`; when it is empty nodes build the backends from
the URIs in the state. Those hold no secret (a URI with one is recorded redacted), so a run
whose URI was redacted is resumed with the backend given again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field

from agentpref.assessors.base import Assessor
from agentpref.generators.base import Generator
from agentpref.images.png import DEFAULT_LEVEL
from agentpref.images.store import ImageStore
from agentpref.profile import UserProfile
from agentpref.rewriters import Rewriter
from agentpref.runs.record import (
    Assessment,
    Candidate,
    IterationRecord,
    ReferenceInfo,
    RefineSettings,
    RunRecord,
)

T = TypeVar("T")


def _merge_by(key: Callable[[T], Hashable]) -> Callable[[list[T] | None, list[T]], list[T]]:
    """A reducer: items with a new key are appended, an item with a known key replaces it in place."""

    def merge(old: list[T] | None, new: list[T]) -> list[T]:
        merged = {key(item): item for item in old or []}
        merged.update((key(item), item) for item in new)
        return list(merged.values())

    return merge


def _add_unique(old: list[str] | None, new: list[str]) -> list[str]:
    return list(dict.fromkeys([*(old or []), *new]))


class PersonalizeState(TypedDict, total=False):
    # The run's input, written once.
    run_dir: str
    likes: list[str]
    dislikes: list[str]
    subject: str
    assessor: str
    generator: str
    n: int
    max_iterations: int
    target: float
    seed: int
    size: tuple[int, int]
    png_compression: int
    refine: RefineSettings
    # What the nodes produce.
    references: list[ReferenceInfo]
    warnings: Annotated[list[str], _add_unique]
    profile: UserProfile | None
    candidates: Annotated[list[Candidate], _merge_by(lambda c: c.id)]
    assessments: Annotated[list[Assessment], _merge_by(lambda a: a.candidate_id)]
    iterations: Annotated[list[IterationRecord], _merge_by(lambda it: it.iteration)]
    best: str | None
    finished: bool
    stop_reason: str | None


_REDUCERS: dict[str, Callable[[Any, Any], Any]] = {
    name: hint.__metadata__[0]
    for name, hint in get_type_hints(PersonalizeState, include_extras=True).items()
    if hasattr(hint, "__metadata__")
}


def apply_update(state: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """`state` with a node's `update` applied the way the graph applies it (the same reducers)."""
    merged = dict(state)
    for name, value in update.items():
        reducer = _REDUCERS.get(name)
        merged[name] = reducer(merged.get(name), value) if reducer else value
    return merged


def record_of(state: Mapping[str, Any]) -> RunRecord:
    """The run record the state describes (what summary.json and the report show)."""
    return RunRecord.model_validate({name: state[name] for name in RunRecord.model_fields if name in state})


MAX_SEED = 2**63 - 1
"""The largest base seed: every candidate's seed (seed + iteration * 1000 + index) then fits
the unsigned 64 bits that torch's generators and the checkpoints' msgpack take."""

Side = Annotated[int, Field(ge=16, le=4096)]


class RunSettings(BaseModel):
    """Everything a personalisation run is asked to do but its references (the CLI's and SDK's
    input), validated before anything is read or written."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, description="what to depict, e.g. 'a lighthouse at dawn'")
    out: Path
    assessor: str = Field("features", description="the assessor's URI as recorded (secrets redacted)")
    generator: str = Field("painter", description="the generator's URI as recorded (secrets redacted)")
    n: int = Field(4, ge=1, le=64, description="candidates per iteration")
    iterations: int = Field(3, ge=1, le=50, description="at most this many generate -> assess rounds")
    target: float = Field(4.5, ge=0, le=5, description="stop early when the best averages this per element")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    size: tuple[Side, Side] = (512, 512)
    refine: RefineSettings = Field(default_factory=RefineSettings)
    png_compression: int = Field(
        DEFAULT_LEVEL, ge=0, le=9, description="zlib level of the candidates' PNGs: 0 stores, 9 is smallest"
    )

    def initial_state(self, likes: Sequence[Path], dislikes: Sequence[Path]) -> PersonalizeState:
        # Absolute paths: a resumed run may start from another working directory.
        return {
            "run_dir": str(self.out.resolve()),
            "likes": [str(p.resolve()) for p in likes],
            "dislikes": [str(p.resolve()) for p in dislikes],
            "subject": self.subject,
            "assessor": self.assessor,
            "generator": self.generator,
            "n": self.n,
            "max_iterations": self.iterations,
            "target": self.target,
            "seed": self.seed,
            "size": self.size,
            "png_compression": self.png_compression,
            "refine": self.refine,
        }


@dataclass
class Context:
    """What one run's nodes share in memory: backends (None: build from the URI in the
    state) and the images already decoded."""

    assessor: Assessor | None = None
    generator: Generator | None = None
    rewriter: Rewriter | None = None
    images: ImageStore = field(default_factory=ImageStore)
