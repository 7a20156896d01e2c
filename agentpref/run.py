"""The run folder: what a personalisation run leaves behind, and how it is written.

    RUN/
      images/it01-c00.png   each candidate, named by iteration and index
      images/it01-c00.json  how to make it again (seed, prompt, generator params)
      profile.json          the predicted UserProfile
      judgments.jsonl       one line per assessed candidate, then the pairwise judgments
                            (iteration bests, then the comparisons that ranked each round)
      summary.json          the whole RunRecord (what the report is drawn from)
      report.html           self-contained report
      events.jsonl          append-only log of what happened, for audits and tests
      checkpoints.sqlite    LangGraph checkpoints: `--resume` continues from here

Every file but events.jsonl is written atomically (temp file + rename), so a killed run
never leaves a half-written image or JSON that a resumed run would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

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


class IterationRecord(BaseModel):
    """One round of generate -> assess: the prompt used and what came of it."""

    model_config = ConfigDict(extra="forbid")

    iteration: int
    prompt: str
    negative_prompt: str
    emphasis: dict[Element, int] = Field(default_factory=dict)
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


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunFolder:
    """Paths and writers of one run folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints.sqlite"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    def image(self, cid: str) -> Path:
        return self.root / "images" / f"{cid}.png"

    def image_meta(self, cid: str) -> Path:
        return self.root / "images" / f"{cid}.json"

    def has_run(self) -> bool:
        return self.checkpoints.exists()

    def load_candidate(self, cid: str) -> Candidate | None:
        """A candidate a previous (possibly killed) attempt finished, or None."""
        image, meta = self.image(cid), self.image_meta(cid)
        if not (image.exists() and meta.exists()):
            return None
        try:
            return Candidate.model_validate_json(meta.read_text())
        except ValueError:
            return None  # unreadable metadata: make the candidate again

    def save_candidate(self, candidate: Candidate, png: bytes) -> None:
        # Image first, metadata second: metadata present means the image is complete.
        write_atomic(self.root / candidate.file, png)
        write_atomic(self.image_meta(candidate.id), candidate.model_dump_json(indent=2))

    def log(self, event: str, **fields: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": round(time.time(), 3), "event": event, **fields})
        with open(self.root / "events.jsonl", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def events(self) -> list[dict[str, Any]]:
        path = self.root / "events.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def write_record(self, record: RunRecord) -> None:
        """profile.json, judgments.jsonl and summary.json, each derived from the record."""
        if record.profile is not None:
            write_atomic(self.root / "profile.json", record.profile.model_dump_json(indent=2))
        lines = [json.dumps({"kind": "assessment", **a.model_dump(mode="json")}) for a in record.assessments]
        lines += [
            json.dumps({"kind": "judgment", "iteration": it.iteration, **it.judgment.model_dump(mode="json")})
            for it in record.iterations
            if it.judgment is not None
        ]
        lines += [
            json.dumps({"kind": "ranking-judgment", "iteration": it.iteration, **j.model_dump(mode="json")})
            for it in record.iterations
            for j in it.ranking_judgments
        ]
        write_atomic(self.root / "judgments.jsonl", "".join(line + "\n" for line in lines))
        write_atomic(self.root / "summary.json", record.model_dump_json(indent=2))
