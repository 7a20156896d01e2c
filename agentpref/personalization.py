"""`agentpref.personalize`: the loop in one call, for apps and for `agentpref generate`.

    >>> result = agentpref.personalize("examples/likes", "a lighthouse at dawn", n=3)  # doctest: +SKIP
    >>> result.best.path, result.report_path                                            # doctest: +SKIP

Backends are URIs or ready objects; references are a folder or loaded `References`. The
run folder holds the images, profile.json, judgments.jsonl, summary.json and
report.html; `resume(run_dir)` continues a run that was killed or failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentpref.assessors.base import Assessor
from agentpref.backends import resolve_uri, shared_assessor, shared_generator
from agentpref.generators.base import Generator
from agentpref.images.refs import References, load_references
from agentpref.images.store import ImageStore
from agentpref.loop.graph import build_graph, recursion_limit
from agentpref.loop.runner import run_graph, saved_state
from agentpref.loop.state import Context, RunSettings, record_of
from agentpref.profile import UserProfile
from agentpref.runs.folder import RunFolder
from agentpref.runs.record import RunRecord

ProgressCallback = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Picture:
    """One candidate of a finished run, with its file's full path."""

    id: str
    path: Path
    score: float | None
    seed: int


@dataclass(frozen=True)
class PersonalizeResult:
    """What `agentpref.personalize` returns: the record plus the paths a caller wants."""

    run_dir: Path
    record: RunRecord

    @property
    def profile(self) -> UserProfile | None:
        return self.record.profile

    @property
    def report_path(self) -> Path:
        return RunFolder(self.run_dir).report

    @property
    def candidates(self) -> list[Picture]:
        """Every candidate, best first."""
        pictures = []
        for c in self.record.candidates:
            assessment = self.record.assessment(c.id)
            pictures.append(
                Picture(c.id, self.run_dir / c.file, assessment.score if assessment else None, c.seed)
            )
        return sorted(pictures, key=lambda p: -(p.score or 0.0))

    @property
    def best(self) -> Picture:
        return next(p for p in self.candidates if p.id == self.record.best)


def _backends(
    assessor: str | Assessor | None, generator: str | Generator | None
) -> tuple[str, str, Assessor, Generator]:
    """The URIs to record, and the backend objects to run with (one per URI per process)."""
    if assessor is None or isinstance(assessor, str):
        assessor_uri = resolve_uri("assessor", assessor)
        judge = shared_assessor(assessor_uri)
    else:
        assessor_uri, judge = assessor.name, assessor
    if generator is None or isinstance(generator, str):
        generator_uri = resolve_uri("generator", generator)
        maker = shared_generator(generator_uri)
    else:
        generator_uri, maker = generator.name, generator
    return assessor_uri, generator_uri, judge, maker


def personalize(
    refs: References | str | Path,
    prompt: str,
    *,
    dislikes: str | Path | None = None,
    n: int = 4,
    iterations: int = 3,
    target: float = 4.5,
    assessor: str | Assessor | None = None,
    generator: str | Generator | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    size: tuple[int, int] = (512, 512),
    on_progress: ProgressCallback | None = None,
) -> PersonalizeResult:
    """Predict the taste behind `refs`, then generate -> assess -> refine toward it.

    `refs` is a folder (liked images, or likes/ + dislikes/ inside) or loaded
    `References`; backends are URIs (default: `$AGENTPREF_ASSESSOR` / `$AGENTPREF_GENERATOR`,
    else the embedded `features` and `painter`) or ready objects. The run folder
    (default: a new folder under ./runs) holds the images and report.html.
    `on_progress(kind, payload)` receives each finished step ("node") and the nodes' own
    progress messages ("progress").
    """
    images = ImageStore()
    references = refs if isinstance(refs, References) else load_references(refs, dislikes, store=images)
    for ref in references.all:
        images.add(ref)  # already decoded: the run's nodes will not decode them again
    assessor_uri, generator_uri, judge, maker = _backends(assessor, generator)
    settings = RunSettings(
        subject=prompt,
        likes=[r.path for r in references.likes if r.path],
        dislikes=[r.path for r in references.dislikes if r.path],
        out=Path(out) if out is not None else Path("runs") / time.strftime("run-%Y%m%d-%H%M%S"),
        assessor=assessor_uri,
        generator=generator_uri,
        n=n,
        iterations=iterations,
        target=target,
        seed=seed,
        size=size,
    )
    context = Context(assessor=judge, generator=maker, images=images)
    state = run_graph(
        build_graph(),
        settings.out,
        settings.initial_state(),
        recursion_limit=recursion_limit,
        context=context,
        on_event=on_progress,
    )
    return PersonalizeResult(run_dir=settings.out, record=record_of(state))


def resume(
    out: str | Path,
    *,
    assessor: str | Assessor | None = None,
    generator: str | Generator | None = None,
    on_progress: ProgressCallback | None = None,
) -> PersonalizeResult:
    """Continue the run in `out` from its last finished step, with its own backends unless given."""
    builder = build_graph()
    saved = saved_state(builder, out)
    _, _, judge, maker = _backends(assessor or saved["assessor"], generator or saved["generator"])
    state = run_graph(
        builder,
        out,
        None,
        recursion_limit=recursion_limit,
        context=Context(assessor=judge, generator=maker),
        on_event=on_progress,
    )
    return PersonalizeResult(run_dir=Path(out), record=record_of(state))
