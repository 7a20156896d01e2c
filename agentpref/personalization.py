"""`agentpref.personalize`: the loop in one call, for apps and for `agentpref generate`.

    >>> result = agentpref.personalize("examples/likes", "a lighthouse at dawn", n=3)  # doctest: +SKIP
    >>> result.best.path, result.report_path                                            # doctest: +SKIP

Backends are URIs or ready objects; references are a folder or loaded `References`. The
run folder holds the images, profile.json, judgments.jsonl, summary.json and
report.html; `resume(run_dir)` continues a run that was killed or failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from agentpref.assessors.base import Assessor
from agentpref.backends import (
    Kind,
    redact_uri,
    resolve_uri,
    shared_assessor,
    shared_generator,
    shared_rewriter,
)
from agentpref.errors import InputError
from agentpref.generators.base import Generator
from agentpref.images.png import DEFAULT_LEVEL
from agentpref.images.references import References, load_references
from agentpref.images.refs import ImageLike
from agentpref.images.store import ImageStore
from agentpref.io import exclusive_folder
from agentpref.loop.graph import build_graph, recursion_limit
from agentpref.loop.runner import change_saved_state, check_new_run_folder, run_graph, saved_state
from agentpref.loop.state import Context, RunSettings, record_of
from agentpref.profile import UserProfile
from agentpref.runs.folder import RunFolder
from agentpref.runs.record import RefineSettings, RunRecord
from agentpref.subjects import NEUTRAL_SUBJECTS, choose_subject

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


def _uri(kind: Kind, backend: str | Assessor | Generator | None) -> str:
    """The URI a run records for a backend: the one given (or its name), secrets redacted."""
    if backend is None or isinstance(backend, str):
        return redact_uri(resolve_uri(kind, backend))
    return redact_uri(backend.name)


def _backends(
    assessor: str | Assessor | None, generator: str | Generator | None
) -> tuple[Assessor, Generator]:
    """The backend objects to run with (one per URI per process). A URI's libraries are checked
    when it is loaded: a missing extra is an InputError naming it, before any work."""
    if assessor is None or isinstance(assessor, str):
        assessor = shared_assessor(resolve_uri("assessor", assessor))
    if generator is None or isinstance(generator, str):
        generator = shared_generator(resolve_uri("generator", generator))
    return assessor, generator


def _load(
    refs: References | str | Path | Sequence[ImageLike],
    dislikes: str | Path | Sequence[ImageLike] | None,
    store: ImageStore,
) -> References:
    if not isinstance(refs, References):
        return load_references(refs, dislikes, store=store)
    if dislikes is not None:
        raise InputError("dislikes: loaded References carry their own dislikes; give refs.dislikes instead")
    return refs


def _reference_paths(
    folder: RunFolder, references: References, *, keep: bool
) -> tuple[list[Path], list[Path]]:
    """The files the run reads its liked and disliked references from; in-memory images are
    written into the run folder when `keep`."""
    path = folder.keep_reference if keep else folder.reference_path
    return [path(r) for r in references.likes], [path(r) for r in references.dislikes]


def personalize(
    refs: References | str | Path | Sequence[ImageLike],
    prompt: str | None = None,
    *,
    dislikes: str | Path | Sequence[ImageLike] | None = None,
    n: int = 4,
    iterations: int = 3,
    target: float = 4.5,
    assessor: str | Assessor | None = None,
    generator: str | Generator | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    size: tuple[int, int] = (512, 512),
    png_compression: int = DEFAULT_LEVEL,
    refine: RefineSettings | None = None,
    on_progress: ProgressCallback | None = None,
) -> PersonalizeResult:
    """Predict the taste behind `refs`, then generate -> assess -> refine toward it.

    `refs` is a folder (liked images, or likes/ + dislikes/ inside), a list of images
    (paths, bytes, PIL images) or loaded `References`; images given in memory are saved in
    the run folder's references/, so the run can be resumed. Backends are URIs (default:
    `$AGENTPREF_ASSESSOR` / `$AGENTPREF_GENERATOR`, else the embedded `features` and
    `painter`) or ready objects; the run records their URIs with secrets redacted. The run
    folder (default: a new folder under ./runs) holds the images and report.html; its PNGs
    are compressed at zlib level `png_compression` (0 stores them: fastest, biggest). `refine`
    chooses how rounds improve on each other (`RefineSettings`: term search around the best
    so far, a language-model rewriter, img2img, image prompts; feedback rewriting always).
    `on_progress(kind, payload)` receives each finished step ("node") and the nodes' own
    progress messages ("progress"). Without a `prompt` the subject is the liked images'
    shared one, else a neutral scene (`agentpref.subjects.choose_subject`); the choice is
    sent as a "subject" event and is the run record's `subject`.

    Everything is checked before the folder is touched: the settings, the folder (not a
    file, writable, not holding a run), the backends' libraries and the references.
    Another process writing the same folder is an InputError.
    """
    settings = RunSettings(
        subject=prompt if prompt is not None else NEUTRAL_SUBJECTS[0],  # chosen below when not given
        out=Path(out) if out is not None else Path("runs") / time.strftime("run-%Y%m%d-%H%M%S"),
        assessor=_uri("assessor", assessor),
        generator=_uri("generator", generator),
        n=n,
        iterations=iterations,
        target=target,
        seed=seed,
        size=size,
        png_compression=png_compression,
        refine=_recorded(refine or RefineSettings()),
    )
    check_new_run_folder(settings.out)
    judge, maker = _backends(assessor, generator)
    images = ImageStore()
    references = _load(refs, dislikes, images)
    for ref in references.all:
        images.add(ref)  # already decoded: the run's nodes will not decode them again
    if prompt is None:
        choice = choose_subject([r.prompt for r in references.likes], seed=seed)
        settings = settings.model_copy(update={"subject": choice.subject})
        if on_progress is not None:
            on_progress(
                "subject", {"subject": choice.subject, "source": choice.source, "text": choice.describe()}
            )
    with exclusive_folder(settings.out, "run"):
        check_new_run_folder(settings.out)  # again, now that no other process can start one here
        likes, dislikes_ = _reference_paths(RunFolder(settings.out), references, keep=True)
        state = run_graph(
            build_graph(),
            settings.out,
            settings.initial_state(likes, dislikes_),
            recursion_limit=recursion_limit,
            context=Context(
                assessor=judge,
                generator=maker,
                rewriter=shared_rewriter(refine.rewriter) if refine and refine.rewriter else None,
                images=images,
            ),
            on_event=on_progress,
        )
    return PersonalizeResult(run_dir=settings.out, record=record_of(state))


def _recorded(refine: RefineSettings) -> RefineSettings:
    """Refine settings as the run keeps them: the rewriter's URI without its secrets."""
    return refine.model_copy(update={"rewriter": redact_uri(refine.rewriter) if refine.rewriter else None})


FORCIBLE = ("n", "iterations", "target", "png_compression")
"""Settings `resume(..., force=True)` may change: they shape only the steps still to come.
The prompt, references, seed, size and backends stay: a run mixing two of them is no run."""

_STATE_NAMES = {"prompt": "subject", "iterations": "max_iterations"}
DEFAULTS: dict[str, Any] = {"png_compression": DEFAULT_LEVEL}  # of settings runs made before them lack


def _differences(out: Path, saved: Mapping[str, Any], given: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, the run's value, the value given) for every given setting that differs from the run's."""
    differ = []
    for name, value in given.items():
        ours: Any
        theirs: Any
        if value is None:
            continue
        if name in ("assessor", "generator"):
            ours, theirs = saved[name], _uri(cast(Kind, name), value)
        elif name == "refs":
            likes, dislikes = _reference_paths(RunFolder(out), value, keep=False)
            run = (saved["likes"], saved.get("dislikes") or [])
            if run != ([str(p.resolve()) for p in likes], [str(p.resolve()) for p in dislikes]):
                differ.append(
                    (name, _describe(*run), _describe([str(p) for p in likes], [str(p) for p in dislikes]))
                )
            continue
        elif name == "size":
            ours, theirs = tuple(saved["size"]), tuple(value)
        else:
            ours, theirs = saved.get(_STATE_NAMES.get(name, name), DEFAULTS.get(name)), value
        if ours != theirs:
            differ.append((name, ours, theirs))
    return differ


def _describe(likes: Sequence[str], dislikes: Sequence[str]) -> str:
    folders = sorted({str(Path(p).parent) for p in [*likes, *dislikes]})
    where = folders[0] if len(folders) == 1 else f"{len(folders)} folders"
    return f"{len(likes)} liked + {len(dislikes)} disliked images in {where}"


def resume(
    out: str | Path,
    *,
    assessor: str | Assessor | None = None,
    generator: str | Generator | None = None,
    prompt: str | None = None,
    refs: References | str | Path | Sequence[ImageLike] | None = None,
    dislikes: str | Path | Sequence[ImageLike] | None = None,
    n: int | None = None,
    iterations: int | None = None,
    target: float | None = None,
    seed: int | None = None,
    size: tuple[int, int] | None = None,
    png_compression: int | None = None,
    force: bool = False,
    on_progress: ProgressCallback | None = None,
) -> PersonalizeResult:
    """Continue the run in `out` from its last finished step, with its own settings and backends.

    Settings given must equal the run's; otherwise an InputError lists each that differs
    (the run's value and the one given). With `force=True`, `n`, `iterations`, `target` and
    `png_compression` take the values given, for the steps still to come (`FORCIBLE`). A
    backend URI the run saved with its secrets redacted (`***`) must be given again: the same
    URI, key included. Another process writing the same folder is an InputError.
    """
    out = Path(out)
    builder = build_graph()
    saved_state(builder, out)  # nothing to resume, or a damaged file: said before the folder is locked
    with exclusive_folder(out, "run"):
        saved = saved_state(builder, out)
        store = ImageStore()
        if refs is not None:
            refs = _load(refs, dislikes, store)
        given = {
            "prompt": prompt, "refs": refs, "n": n, "iterations": iterations, "target": target,
            "seed": seed, "size": size, "png_compression": png_compression,
            "assessor": assessor, "generator": generator,
        }  # fmt: skip
        differ = _differences(out, saved, given)
        if differ and not (force and all(name in FORCIBLE for name, _, _ in differ)):
            raise InputError(_refusal(out, differ, force))
        for kind, backend in (("assessor", assessor), ("generator", generator)):
            if backend is None and "***" in saved[kind]:
                raise InputError(
                    f"the run in {out} saved its {kind} URI without its secrets ({saved[kind]}): "
                    f"give it again, key included (--{kind} URI; {kind}= in the SDK)"
                )
        judge, maker = _backends(assessor or saved["assessor"], generator or saved["generator"])
        if differ:
            if saved.get("finished"):
                raise InputError(f"the run in {out} has finished; start a new run to change its settings")
            change_saved_state(builder, out, {_STATE_NAMES.get(name, name): new for name, _, new in differ})
        state = run_graph(
            builder,
            out,
            None,
            recursion_limit=recursion_limit,
            context=Context(assessor=judge, generator=maker, images=store),
            on_event=on_progress,
        )
    return PersonalizeResult(run_dir=out, record=record_of(state))


def _refusal(out: Path, differ: list[tuple[str, Any, Any]], force: bool) -> str:
    listed = "; ".join(
        f"{name}: the run's {ours!r:.120}, given {theirs!r:.120}" for name, ours, theirs in differ
    )
    fixed = [name for name, _, _ in differ if name not in FORCIBLE]
    if fixed:
        advice = (
            f"{', '.join(fixed)} cannot change in a run: resume without them, or start a new run "
            "in another folder (--out)"
        )
    else:
        advice = "resume without them, or with --force (force=True) to take the new values"
    return f"the run in {out} was started with other settings: {listed}. {advice}"
