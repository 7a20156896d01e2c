"""State and context of the personalisation graph.

State holds only serialisable values (paths, URIs, pydantic dumps), so every step can be
checkpointed to SQLite and a killed run resumes. Live backend objects travel in the
runtime `Context` instead; when it is empty (e.g. under `langgraph dev`) nodes build the
backends from the URIs recorded in the state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from agentpref.assessors.base import Assessor
from agentpref.generators.base import Generator
from agentpref.run import RunRecord


class RunSettings(BaseModel):
    """Everything a personalisation run is asked to do (the CLI's and SDK's input)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, description="what to depict, e.g. 'a lighthouse at dawn'")
    likes: list[Path] = Field(min_length=1)
    dislikes: list[Path] = Field(default_factory=list)
    out: Path
    assessor: str = "features"
    generator: str = "painter"
    n: int = Field(4, ge=1, le=64, description="candidates per iteration")
    iterations: int = Field(3, ge=1, le=50, description="at most this many generate -> assess rounds")
    target: float = Field(4.5, ge=0, le=5, description="stop early when the best averages this per element")
    seed: int = 0
    size: tuple[int, int] = (512, 512)

    def initial_state(self) -> PersonalizeState:
        record = RunRecord(
            subject=self.subject,
            assessor=self.assessor,
            generator=self.generator,
            n=self.n,
            max_iterations=self.iterations,
            target=self.target,
            seed=self.seed,
            size=self.size,
        )
        # Absolute paths: a resumed run may start from another working directory.
        return {
            "run_dir": str(self.out.resolve()),
            "likes": [str(p.resolve()) for p in self.likes],
            "dislikes": [str(p.resolve()) for p in self.dislikes],
            "record": record.model_dump(mode="json"),
        }


class PersonalizeState(TypedDict, total=False):
    run_dir: str
    likes: list[str]
    dislikes: list[str]
    record: dict[str, Any]  # a RunRecord dump; it grows as the run goes


@dataclass
class Context:
    """Backends for one run; None means: build from the URI in the run record."""

    assessor: Assessor | None = None
    generator: Generator | None = None
