"""The nodes of the personalisation graph: predict_profile -> compose_prompt -> generate
-> assess -> (refine -> generate ... | finish).

Each node reads the state, does one step and returns only what it changed; the nodes
that finish a step a person would look at (profile, assess, finish) also rewrite the run
folder's files from the record (in the background until the run ends: see `_save`). Side
effects are idempotent: a candidate whose image and metadata already exist (from a killed
attempt) is reused, never generated again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from langgraph.runtime import Runtime

from agentpref.assessors.base import Assessor, Measuring
from agentpref.assessors.tournament import RankingFailed, check_ranking
from agentpref.backends import redact_uri, shared_assessor, shared_generator, shared_rewriter
from agentpref.errors import BackendError, ParseError
from agentpref.generators.base import GeneratedImage, Generator
from agentpref.images.pixels import edge_density, mean_saturation
from agentpref.images.png import DEFAULT_LEVEL
from agentpref.images.references import References, load_references
from agentpref.images.refs import ImageRef
from agentpref.images.store import ImageStore
from agentpref.io import write_atomic
from agentpref.judgment import Judgment
from agentpref.loop.refine import conditioning_for, plan_next_round
from agentpref.loop.state import Context, PersonalizeState, apply_update, record_of
from agentpref.profile import Element, UserProfile
from agentpref.prompting import compose_prompt as compose
from agentpref.rewriters import Rewriter
from agentpref.runs.folder import RunFolder
from agentpref.runs.record import (
    Assessment,
    Candidate,
    IterationRecord,
    ReferenceInfo,
    RefineSettings,
    RunRecord,
    candidate_id,
)
from agentpref.runs.report import CARD_THUMBNAIL, render_report

# Seeds of iteration k are seed + k * SEED_STRIDE + index: reproducible one by one.
SEED_STRIDE = 1000

_SHARED_IMAGES = ImageStore()  # for runs without a Context (a served graph)
# Twice as many threads as cores: while one waits for the disk (a file's sync), another encodes.
_WORKERS = ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2), thread_name_prefix="agentpref-save")
_RECORD_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="agentpref-record")
_RECORDS: dict[Path, Future[None]] = {}  # a run folder's record files being written (see `_save`)
_RECORDS_LOCK = threading.Lock()


def _context(runtime: Runtime[Context] | None) -> Context | None:
    return runtime.context if runtime is not None else None


def _assessor(runtime: Runtime[Context] | None, state: PersonalizeState) -> Assessor:
    ctx = _context(runtime)
    return (
        ctx.assessor if ctx is not None and ctx.assessor is not None else shared_assessor(state["assessor"])
    )


def _generator(runtime: Runtime[Context] | None, state: PersonalizeState) -> Generator:
    ctx = _context(runtime)
    return (
        ctx.generator
        if ctx is not None and ctx.generator is not None
        else shared_generator(state["generator"])
    )


def _images(runtime: Runtime[Context] | None) -> ImageStore:
    ctx = _context(runtime)
    return ctx.images if ctx is not None else _SHARED_IMAGES


def _emit(runtime: Runtime[Context] | None, **payload: Any) -> None:
    if runtime is not None:
        runtime.stream_writer(payload)


def _save(
    runtime: Runtime[Context] | None,
    state: PersonalizeState,
    update: Mapping[str, Any],
    *,
    wait: bool = False,
) -> RunRecord:
    """Rewrite profile.json, judgments.jsonl, summary.json and report.html as of after `update`.

    The files are written (and synced to disk) in the background unless `wait`, while the
    next round is planned and generated; the previous save's are on disk before this one starts
    (and before the judge is asked again: `_settle`), so after a kill or a crash they are at
    most one round stale.
    """
    record = record_of(apply_update(state, update))
    folder = RunFolder(state["run_dir"])
    report = render_report(folder, record, _images(runtime))
    _settle(folder.root)
    job = _RECORD_WRITER.submit(folder.write_record, record, report)
    if wait:
        job.result()
    else:
        with _RECORDS_LOCK:
            _RECORDS[folder.root] = job
    return record


def _settle(run_dir: Path) -> None:
    """Wait for the run's record files under way, raising what stopped them (a full disk)."""
    with _RECORDS_LOCK:
        pending = _RECORDS.pop(run_dir, None)
    if pending is not None:
        pending.result()


def _references(runtime: Runtime[Context] | None, state: PersonalizeState) -> References:
    """The run's references, by content hash; read from their files only if not in memory."""
    store = _images(runtime)
    likes = [store.load(r.path, r.sha256) for r in state["references"] if r.liked and r.path]
    dislikes = [store.load(r.path, r.sha256) for r in state["references"] if not r.liked and r.path]
    return References(likes=likes, dislikes=dislikes)


def predict_profile(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    folder = RunFolder(state["run_dir"])
    refs = load_references(state["likes"], state.get("dislikes", []), store=_images(runtime))
    warnings = [f"skipped reference {err}" for err in refs.skipped]
    references = [
        ReferenceInfo(
            label=r.label, path=str(r.path) if r.path else None, sha256=r.sha256, liked=liked, prompt=r.prompt
        )
        for liked, group in ((True, refs.likes), (False, refs.dislikes))
        for r in group
    ]
    try:
        profile = _assessor(runtime, state).profile(refs.likes, refs.dislikes)
    except ParseError as err:
        # A model that answers nonsense should not end the run: go on with the subject alone.
        write_atomic(folder.root / "profile_raw.txt", err.raw_text)
        profile = UserProfile()
        warnings.append(
            f"the assessor's profile could not be read ({err}); its text is in profile_raw.txt. "
            "Prompts carry only the subject; candidates are still judged against the references."
        )
    folder.log("profile", likes=len(refs.likes), dislikes=len(refs.dislikes))
    update = {"references": references, "warnings": warnings, "profile": profile}
    _save(runtime, state, update)
    return update


def compose_prompt(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    prompt = compose(state["subject"], state["profile"] or UserProfile())
    strategies, warnings = ["the profile as prompts: likes positive, dislikes negative"], []
    settings = _refine_settings(state)
    if settings.image_prompt_scale is not None:
        generator = _generator(runtime, state)
        if "image_prompts" in _can(generator):
            strategies.append(f"image prompts: the liked references at scale {settings.image_prompt_scale:g}")
        else:
            warnings.append(
                f"image prompts: the generator {redact_uri(generator.name)} takes none (an IP-Adapter "
                "diffusers pipeline does); prompts only"
            )
    first = IterationRecord(
        iteration=1, prompt=prompt.positive, negative_prompt=prompt.negative, strategies=strategies
    )
    return {"iterations": [first], "warnings": warnings}


def _refine_settings(state: PersonalizeState) -> RefineSettings:
    return state.get("refine") or RefineSettings()


def _can(generator: Generator) -> frozenset[str]:
    """What the generator takes besides a prompt ("img2img", "image_prompts")."""
    return frozenset(getattr(generator, "conditioning", frozenset()))


def _calls(indices: list[int], seed_of: Mapping[int, int], alone: Collection[int]) -> list[list[int]]:
    """Candidates grouped into generator calls: consecutive indices whose seeds follow one another
    and that are not to be made `alone` (own prompts or a start image) ([0, 1, 3] -> [[0, 1],
    [3]]); one call makes a group together."""
    calls: list[list[int]] = []
    for i in indices:
        prev = calls[-1][-1] if calls else None
        if prev == i - 1 and seed_of[i] == seed_of[i - 1] + 1 and i not in alone and prev not in alone:
            calls[-1].append(i)
        else:
            calls.append([i])
    return calls


def _keep(
    folder: RunFolder,
    store: ImageStore,
    current: IterationRecord,
    index: int,
    image: GeneratedImage,
    level: int,
    generator: str,
) -> Candidate:
    """Encode, save and remember one new candidate (and make its report thumbnail, once)."""
    cid = candidate_id(current.iteration, index)
    png = image.png_bytes(level)
    ref = store.add(ImageRef.from_encoded(png, image.image, path=folder.image(cid)))
    store.thumbnail(ref, CARD_THUMBNAIL)
    candidate = Candidate(
        id=cid,
        iteration=current.iteration,
        index=index,
        file=f"images/{cid}.png",
        sha256=ref.sha256,
        seed=image.seed,
        prompt=image.prompt,
        negative_prompt=image.negative_prompt,
        generator=redact_uri(generator),
        params=image.params,
        notes=image.notes,
    )
    folder.save_candidate(candidate, png)
    return candidate


def generate(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The round's candidates: those a killed attempt finished are reused from the folder; the
    rest go to the generator in as few calls as their seeds allow (one per run of consecutive
    indices, so a batching generator makes them together), each saved as its call returns,
    while the next call runs. Every file is written before the node ends, so a checkpoint
    never names a missing one."""
    saving: list[tuple[int, Future[Candidate]]] = []  # (index, its save), in index order
    try:
        return _generate(state, runtime, saving)
    except BaseException:
        # A failed call ends the node only once the saves under way have landed and are
        # logged: a resume reuses them, and never races them to make them again.
        for _, future in saving:
            if future.exception() is None:
                candidate = future.result()
                RunFolder(state["run_dir"]).log("generated", id=candidate.id, seed=candidate.seed)
        raise


def _generate(
    state: PersonalizeState, runtime: Runtime[Context], saving: list[tuple[int, Future[Candidate]]]
) -> dict[str, Any]:
    folder = RunFolder(state["run_dir"])
    current = state["iterations"][-1]
    generator = _generator(runtime, state)
    store = _images(runtime)
    level = state.get("png_compression", DEFAULT_LEVEL)
    done = {c.id for c in state.get("candidates", [])}
    n = state["n"]
    made: dict[int, Candidate] = {}

    def finished(index: int, candidate: Candidate) -> None:
        made[index] = candidate
        _emit(runtime, stage="generate", candidate=candidate.id, done=len(made), total=n)

    def saved(wait: bool) -> None:
        """Record the candidates whose files are written (all of them when `wait`), in order."""
        while saving and (wait or saving[0][1].done()):
            index, future = saving.pop(0)
            candidate = future.result()
            folder.log("generated", id=candidate.id, seed=candidate.seed)
            finished(index, candidate)

    missing: list[int] = []
    for index in range(n):
        cid = candidate_id(current.iteration, index)
        if cid in done:
            continue
        if (candidate := folder.load_candidate(cid)) is not None:
            folder.log("reused", id=cid)
            finished(index, candidate)
        else:
            missing.append(index)
    base = state["seed"] + current.iteration * SEED_STRIDE
    seed_of = {i: current.seeds.get(i, base + i) for i in range(n)}
    settings, can = _refine_settings(state), _can(generator)
    likes = _references(runtime, state).likes if settings.image_prompt_scale is not None else []
    by_id = {c.id: c for c in state.get("candidates", [])}
    for run in _calls(missing, seed_of, {*current.starts_from, *current.variants}):
        first, last = candidate_id(current.iteration, run[0]), candidate_id(current.iteration, run[-1])
        label = first if len(run) == 1 else f"{first}..{last.rsplit('-', 1)[1]}"

        def on_step(step: int, steps: int, label: str = label) -> None:
            _emit(runtime, stage="denoise", candidate=label, step=step, steps=steps)

        start = by_id.get(current.starts_from.get(run[0], ""))
        variant = current.variants.get(run[0])
        conditioning = conditioning_for(
            settings,
            likes,
            store.load(folder.root / start.file, start.sha256) if start else None,
            can,
            variant.variation if variant else None,
        )
        images = generator.generate(
            variant.prompt if variant else current.prompt,
            negative_prompt=(variant.negative_prompt if variant else current.negative_prompt) or None,
            n=len(run),
            seed=seed_of[run[0]],
            size=(state["size"][0], state["size"][1]),
            profile=state["profile"],
            on_step=on_step,
            **({"conditioning": conditioning} if conditioning is not None else {}),
        )
        if len(images) != len(run):
            raise BackendError(
                f"{redact_uri(generator.name)}: asked for {len(run)} images, got {len(images)}"
            )
        # Encoding and saving run in parallel (zlib and file writes release the GIL), and beside
        # the round's next generator call.
        saving += [
            (index, _WORKERS.submit(_keep, folder, store, current, index, image, level, generator.name))
            for index, image in zip(run, images, strict=True)
        ]
        saved(wait=False)
    saved(wait=True)
    return {"candidates": [made[i] for i in sorted(made)]}


def _recorded(judgment: Judgment) -> Judgment:
    """A judgment as the run keeps it: its assessor named without secrets (a plug-in's name may hold one)."""
    return judgment.model_copy(update={"assessor": redact_uri(judgment.assessor)})


def assess(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    folder = RunFolder(state["run_dir"])
    _settle(folder.root)  # the judge's time is its own, not shared with the last round's files
    store = _images(runtime)
    current = state["iterations"][-1].model_copy()
    refs = _references(runtime, state)
    assessor = _assessor(runtime, state)
    fresh = [c for c in state["candidates"] if c.iteration == current.iteration]
    images = [store.load(folder.root / c.file, c.sha256) for c in fresh]
    try:
        ranking = check_ranking(assessor.rank(refs, images))
    except RankingFailed as err:
        # No comparison was readable: crowning a best would name one at random. Stop here,
        # with the reason and the raw answers in the run's files; a resume assesses again.
        head = f"iteration {current.iteration} was not assessed, so no best is named"
        current.ranking_judgments = [_recorded(j) for j in err.judgments]
        update = {"iterations": [current], "warnings": [f"{head}: {err}"], "stop_reason": f"{head}: {err}"}
        _save(runtime, state, update, wait=True)
        folder.log("assess-failed", iteration=current.iteration, reason=str(err))
        again = f"{head} (continue with --resume once the assessor answers): {err}"
        raise RankingFailed(again, err.judgments) from None
    current.ranking_judgments = [_recorded(j) for j in ranking.judgments]
    by_label = {img.label: c for img, c in zip(images, fresh, strict=True)}
    assessments = [
        Assessment(
            candidate_id=by_label[ranked.label].id,
            iteration=current.iteration,
            score=ranked.score,
            max_score=ranking.max_score,
            element_scores=ranked.element_scores,
            rationale=ranked.rationale,
        )
        for ranked in ranking.candidates
    ]
    round_best = by_label[ranking.best.label]
    previous_best = state.get("best")
    current.best_candidate, current.best_score = round_best.id, ranking.best.score
    if previous_best is not None:
        # Explain, in the assessor's own pairwise terms, how this round's best compares.
        old = next(c for c in state["candidates"] if c.id == previous_best)
        judgment = assessor.compare(
            refs,
            store.load(folder.root / old.file, old.sha256),
            store.load(folder.root / round_best.file, round_best.sha256),
        )
        current.judgment = _recorded(judgment.model_copy(update={"a": old.id, "b": round_best.id}))
    everyone = [*(a for a in state.get("assessments", []) if a.iteration != current.iteration), *assessments]
    best = max(everyone, key=lambda a: a.score / a.max_score)
    update = {"assessments": assessments, "iterations": [current], "best": best.candidate_id}
    _save(runtime, state, update)
    folder.log("assessed", iteration=current.iteration, best=best.candidate_id, score=best.score)
    _emit(runtime, stage="assess", iteration=current.iteration, best=best.candidate_id, score=best.score)
    return update


def stop_reason(record: RunRecord) -> str | None:
    """Why the loop should stop now, or None to refine and go again."""
    best = record.assessment(record.best) if record.best else None
    if best is not None and best.score / best.max_score * 5 >= record.target:
        return f"target reached: best averages {best.score / best.max_score * 5:.2f}/5 per element"
    if record.iterations[-1].iteration >= record.max_iterations:
        return f"iteration limit ({record.max_iterations}) reached"
    return None


def route_after_assess(state: PersonalizeState) -> Literal["refine", "finish"]:
    return "finish" if stop_reason(record_of(state)) else "refine"


def _rewriter(runtime: Runtime[Context] | None, state: PersonalizeState) -> Rewriter | None:
    ctx = _context(runtime)
    if ctx is not None and ctx.rewriter is not None:
        return ctx.rewriter
    uri = _refine_settings(state).rewriter
    return shared_rewriter(uri) if uri else None


def refine(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    record = record_of(state)
    assert record.profile is not None and record.best is not None
    folder, store, assessor = RunFolder(state["run_dir"]), _images(runtime), _assessor(runtime, state)

    def measured(candidate: Candidate, element: Element) -> float:
        ref = store.load(folder.root / candidate.file, candidate.sha256)
        if isinstance(assessor, Measuring):  # it measured the picture while judging (cached)
            m = assessor.measure(ref)
            return m.edge_density if element is Element.DETAIL else m.saturation_mean
        image = ref.image()
        return edge_density(image) if element is Element.DETAIL else mean_saturation(image)

    following, warnings = plan_next_round(
        record,
        _refine_settings(state),
        _rewriter(runtime, state),
        _can(_generator(runtime, state)),
        measured,
    )
    folder.log("refined", iteration=following.iteration, strategies=following.strategies)
    return {"iterations": [following], "warnings": warnings}


def finish(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    reason = stop_reason(record_of(state))
    update = {"finished": True, "stop_reason": reason}
    _save(runtime, state, update, wait=True)
    RunFolder(state["run_dir"]).log("finished", reason=reason, best=state.get("best"))
    return update
