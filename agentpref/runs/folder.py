"""The run folder: what a personalisation run leaves behind, and how it is written.

    RUN/
      images/it01-c00.png   each candidate, named by iteration and index
      images/it01-c00.json  how to make it again (seed, prompt, generator params)
      references/SHA.png    references given in memory (bytes, PIL images), by content
      profile.json          the predicted UserProfile
      judgments.jsonl       one line per assessed candidate, then the pairwise judgments
                            (iteration bests, then the comparisons that ranked each round)
      summary.json          the whole RunRecord (what the report is drawn from)
      report.html           self-contained report
      events.jsonl          append-only log of what happened, for audits and tests
      checkpoints.sqlite    LangGraph checkpoints: `--resume` continues from here

Every file but events.jsonl is written atomically (temp file + rename) and synced to disk,
so a killed run never leaves a half-written image or JSON that a resumed run would trust.
A candidate's files are synced before the step that made them ends: a crash of the machine
never loses one that a checkpoint names, and one made by a step whose checkpoint it lost is
reused (`load_candidate` checks its content).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentpref.images.refs import ImageRef, content_hash
from agentpref.io import write_atomic
from agentpref.runs.record import Candidate, RunRecord


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

    def reference_path(self, ref: ImageRef) -> Path:
        """Where the run reads `ref` from: its file, or for an image given in memory (bytes,
        a PIL image) a file named by its content in references/."""
        if ref.path is not None:
            return ref.path
        return self.root / "references" / f"{ref.sha256[:32]}.{ref.format.lower()}"

    def keep_reference(self, ref: ImageRef) -> Path:
        """`reference_path(ref)`, writing an in-memory image there first: a resumed run, in
        another process, must find every reference on disk."""
        path = self.reference_path(ref)
        if ref.path is None and not path.exists():
            write_atomic(path, ref.data)
        return path

    def load_candidate(self, cid: str) -> Candidate | None:
        """A candidate a previous (possibly killed) attempt finished, or None (make it again):
        its metadata reads and its image holds the content the metadata records. A crash of
        the machine can leave either cut short; that is logged ("damaged")."""
        image, meta = self.image(cid), self.image_meta(cid)
        if not (image.exists() and meta.exists()):
            return None
        try:
            candidate = Candidate.model_validate_json(meta.read_text())
            intact = content_hash(image.read_bytes()) == candidate.sha256
        except (ValueError, OSError) as err:
            self.log("damaged", id=cid, reason=f"{meta.name}: {type(err).__name__}")
            return None
        if not intact:
            self.log("damaged", id=cid, reason=f"{image.name} does not hold the content {meta.name} records")
            return None
        return candidate

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

    def write_record(self, record: RunRecord, report: str) -> None:
        """profile.json, judgments.jsonl, summary.json and `report` (report.html), each derived
        from the record."""
        if record.profile is not None:
            write_atomic(self.root / "profile.json", record.profile.model_dump_json(indent=2))
        lines = [_line("assessment", {}, a) for a in record.assessments]
        lines += [
            _line("judgment", {"iteration": it.iteration}, it.judgment)
            for it in record.iterations
            if it.judgment is not None
        ]
        lines += [
            _line("ranking-judgment", {"iteration": it.iteration}, j)
            for it in record.iterations
            for j in it.ranking_judgments
        ]
        write_atomic(self.root / "judgments.jsonl", "".join(lines))
        write_atomic(self.root / "summary.json", record.model_dump_json(indent=2))
        write_atomic(self.report, report)


def _line(kind: str, head: dict[str, Any], model: BaseModel) -> str:
    """One judgments.jsonl line: its kind and `head` first, then the model's fields (pydantic's
    own JSON writer: several times faster than json.dumps of a dumped dict)."""
    fields = model.model_dump_json()
    return json.dumps({"kind": kind, **head})[:-1] + (", " + fields[1:] if fields != "{}" else "}") + "\n"
