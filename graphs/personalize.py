"""The personalisation loop as a LangGraph graph, and the runner the CLI and SDK use.

    predict_profile -> compose_prompt -> generate -> assess -> refine -> generate ...
                                                          \\-> finish

`graph` (no checkpointer) is what `langgraph dev` serves (see langgraph.json). `run`
compiles the same graph with a SQLite checkpointer inside the run folder and streams
progress; `run(..., resume=True)` continues a killed run from its last finished step.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from agentpref.assessors.base import Assessor
from agentpref.errors import InputError
from agentpref.generators.base import Generator
from agentpref.graphs import nodes
from agentpref.graphs.state import Context, PersonalizeState, RunSettings
from agentpref.images import References, load_references
from agentpref.profile import UserProfile
from agentpref.run import RunFolder, RunRecord

ProgressCallback = Callable[[str, dict[str, Any]], None]
THREAD = {"configurable": {"thread_id": "run"}}


def build_graph() -> StateGraph:
    builder = StateGraph(PersonalizeState, context_schema=Context)
    builder.add_node("predict_profile", nodes.predict_profile)
    builder.add_node("compose_prompt", nodes.compose_prompt)
    builder.add_node("generate", nodes.generate)
    builder.add_node("assess", nodes.assess)
    builder.add_node("refine", nodes.refine)
    builder.add_node("finish", nodes.finish)
    builder.add_edge(START, "predict_profile")
    builder.add_edge("predict_profile", "compose_prompt")
    builder.add_edge("compose_prompt", "generate")
    builder.add_edge("generate", "assess")
    builder.add_conditional_edges("assess", nodes.route_after_assess, ["refine", "finish"])
    builder.add_edge("refine", "generate")
    builder.add_edge("finish", END)
    return builder


graph = build_graph().compile()


def _recursion_limit(max_iterations: int) -> int:
    # 3 steps before the loop, 3 per round, 1 to finish; the record's own bound stops first.
    return 3 * max_iterations + 10


def run(
    settings: RunSettings | None = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    context: Context | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunRecord:
    """Run (or with `resume=True`, continue) a personalisation loop; return its record.

    A new run needs `settings`; a resumed one needs only the run folder (`out`).
    `on_progress(kind, payload)` receives each node's name as it finishes ("node") and
    the nodes' own progress messages ("progress").
    """
    folder = RunFolder(out if out is not None else settings.out if settings else ".")
    if resume and not folder.has_run():
        raise InputError(f"nothing to resume in {folder.root}: no checkpoints.sqlite there")
    if not resume:
        if settings is None:
            raise InputError("a new run needs settings (refs, prompt, ...)")
        if folder.has_run():
            raise InputError(
                f"{folder.root} already holds a run: pass --resume to continue it, or choose another --out"
            )
    folder.root.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(folder.checkpoints, check_same_thread=False)) as conn:
        app = build_graph().compile(checkpointer=SqliteSaver(conn))
        if resume:
            snapshot = app.get_state(THREAD)
            if not snapshot.values:
                raise InputError(f"the run in {folder.root} never started; start it again without --resume")
            record = RunRecord.model_validate(snapshot.values["record"])
            inputs = None
        else:
            assert settings is not None
            inputs = settings.initial_state()
            record = RunRecord.model_validate(inputs["record"])
        config = {**THREAD, "recursion_limit": _recursion_limit(record.max_iterations)}
        # durability="sync": each step's checkpoint is on disk before the next step starts.
        for mode, chunk in app.stream(
            inputs, config, context=context or Context(), stream_mode=["updates", "custom"], durability="sync"
        ):
            if on_progress is None:
                continue
            if mode == "custom":
                on_progress("progress", chunk)
            else:
                for node in chunk:
                    on_progress("node", {"node": node})
        return RunRecord.model_validate(app.get_state(THREAD).values["record"])


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


def personalize(
    refs: References | str | Path,
    prompt: str,
    *,
    dislikes: str | Path | None = None,
    n: int = 4,
    iterations: int = 3,
    target: float = 4.5,
    assessor: str | Assessor = "features",
    generator: str | Generator = "painter",
    out: str | Path | None = None,
    seed: int = 0,
    size: tuple[int, int] = (512, 512),
    on_progress: ProgressCallback | None = None,
) -> PersonalizeResult:
    """Predict the taste behind `refs`, then generate -> assess -> refine toward it.

    `refs` is a folder (liked images, or likes/ + dislikes/ inside) or loaded
    `References`; backends are URIs or ready objects. The run folder (default: a new
    folder under ./runs) holds the images and report.html.
    """
    references = refs if isinstance(refs, References) else load_references(refs, dislikes)
    settings = RunSettings(
        subject=prompt,
        likes=[r.path for r in references.likes if r.path],
        dislikes=[r.path for r in references.dislikes if r.path],
        out=Path(out) if out is not None else Path("runs") / time.strftime("run-%Y%m%d-%H%M%S"),
        assessor=assessor if isinstance(assessor, str) else assessor.name,
        generator=generator if isinstance(generator, str) else generator.name,
        n=n,
        iterations=iterations,
        target=target,
        seed=seed,
        size=size,
    )
    context = Context(
        assessor=None if isinstance(assessor, str) else assessor,
        generator=None if isinstance(generator, str) else generator,
    )
    record = run(settings, context=context, on_progress=on_progress)
    return PersonalizeResult(run_dir=settings.out, record=record)
