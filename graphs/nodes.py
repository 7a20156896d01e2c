"""The nodes of the personalisation graph: predict_profile -> compose_prompt -> generate
-> assess -> (refine -> generate ... | finish).

Each node reads the run record from the state, does one step, writes the run folder and
returns the updated record. Side effects are idempotent: a candidate whose image and
metadata already exist (from a killed attempt) is reused, never generated again, and
every derived file is rewritten whole from the record.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from langgraph.runtime import Runtime

from agentpref.assessors.base import Assessor
from agentpref.backends import load_assessor, load_generator
from agentpref.errors import ImageError, InputError, ParseError
from agentpref.generators.base import Generator
from agentpref.graphs.state import Context, PersonalizeState
from agentpref.images import ImageRef, References, content_hash
from agentpref.profile import ELEMENTS, UserProfile
from agentpref.prompting import compose_prompt as compose
from agentpref.prompting import refine_prompt
from agentpref.report import write_report
from agentpref.run import (
    Assessment,
    Candidate,
    IterationRecord,
    ReferenceInfo,
    RunFolder,
    RunRecord,
    candidate_id,
    write_atomic,
)

# Seeds of iteration k are seed + k * SEED_STRIDE + index: reproducible one by one.
SEED_STRIDE = 1000


@cache
def _assessor_for(uri: str) -> Assessor:
    return load_assessor(uri)


@cache
def _generator_for(uri: str) -> Generator:
    return load_generator(uri)


def _assessor(runtime: Runtime[Context] | None, record: RunRecord) -> Assessor:
    ctx = runtime.context if runtime is not None else None
    return ctx.assessor if ctx is not None and ctx.assessor is not None else _assessor_for(record.assessor)


def _generator(runtime: Runtime[Context] | None, record: RunRecord) -> Generator:
    ctx = runtime.context if runtime is not None else None
    return (
        ctx.generator if ctx is not None and ctx.generator is not None else _generator_for(record.generator)
    )


def _emit(runtime: Runtime[Context] | None, **payload: Any) -> None:
    if runtime is not None:
        runtime.stream_writer(payload)


def _record(state: PersonalizeState) -> RunRecord:
    return RunRecord.model_validate(state["record"])


def _save(folder: RunFolder, record: RunRecord) -> dict[str, Any]:
    folder.write_record(record)
    write_report(folder, record)
    return {"record": record.model_dump(mode="json")}


def _references(state: PersonalizeState) -> tuple[References, list[str]]:
    """Load the reference files again (cheap, content-hashed); report and skip bad ones."""
    warnings: list[str] = []

    def load(paths: list[str]) -> list[ImageRef]:
        refs = []
        for p in paths:
            try:
                refs.append(ImageRef.from_path(p))
            except ImageError as err:
                warnings.append(f"skipped reference {err}")
        return refs

    refs = References(likes=load(state["likes"]), dislikes=load(state.get("dislikes", [])), skipped=[])
    if not refs.likes:
        raise InputError("no usable liked image: " + "; ".join(warnings or ["none given"]))
    return refs, warnings


def predict_profile(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    record, folder = _record(state), RunFolder(state["run_dir"])
    refs, warnings = _references(state)
    record.warnings = list(dict.fromkeys([*record.warnings, *warnings]))
    record.references = [
        ReferenceInfo(
            label=r.label, path=str(r.path) if r.path else None, sha256=r.sha256, liked=liked, prompt=r.prompt
        )
        for liked, group in ((True, refs.likes), (False, refs.dislikes))
        for r in group
    ]
    try:
        record.profile = _assessor(runtime, record).profile(refs.likes, refs.dislikes)
    except ParseError as err:
        # A model that answers nonsense should not end the run: go on with the subject alone.
        write_atomic(folder.root / "profile_raw.txt", err.raw_text)
        record.profile = UserProfile()
        record.warnings.append(
            f"the assessor's profile could not be read ({err}); its text is in profile_raw.txt. "
            "Prompts carry only the subject; candidates are still judged against the references."
        )
    folder.log("profile", likes=len(refs.likes), dislikes=len(refs.dislikes))
    return _save(folder, record)


def compose_prompt(state: PersonalizeState) -> dict[str, Any]:
    record = _record(state)
    assert record.profile is not None  # predict_profile ran before
    prompt = compose(record.subject, record.profile)
    record.iterations = [
        IterationRecord(iteration=1, prompt=prompt.positive, negative_prompt=prompt.negative)
    ]
    return {"record": record.model_dump(mode="json")}


def generate(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    record, folder = _record(state), RunFolder(state["run_dir"])
    current = record.iterations[-1]
    generator = _generator(runtime, record)
    done = {c.id for c in record.candidates}
    for index in range(record.n):
        cid = candidate_id(current.iteration, index)
        if cid in done:
            continue
        candidate = folder.load_candidate(cid)
        if candidate is not None:
            folder.log("reused", id=cid)
        else:
            seed = record.seed + current.iteration * SEED_STRIDE + index
            [image] = generator.generate(
                current.prompt,
                negative_prompt=current.negative_prompt or None,
                n=1,
                seed=seed,
                size=record.size,
                profile=record.profile,
                on_step=lambda step, steps, cid=cid: _emit(
                    runtime, stage="denoise", candidate=cid, step=step, steps=steps
                ),
            )
            png = image.png_bytes()
            candidate = Candidate(
                id=cid,
                iteration=current.iteration,
                index=index,
                file=f"images/{cid}.png",
                sha256=content_hash(png),  # no decode: the bytes are ours, just made
                seed=image.seed,
                prompt=image.prompt,
                negative_prompt=image.negative_prompt,
                generator=generator.name,
                params=image.params,
                notes=image.notes,
            )
            folder.save_candidate(candidate, png)
            folder.log("generated", id=cid, seed=image.seed)
        record.candidates.append(candidate)
        _emit(runtime, stage="generate", candidate=cid, done=index + 1, total=record.n)
    return {"record": record.model_dump(mode="json")}


def assess(state: PersonalizeState, runtime: Runtime[Context]) -> dict[str, Any]:
    record, folder = _record(state), RunFolder(state["run_dir"])
    current = record.iterations[-1]
    refs, _ = _references(state)
    assessor = _assessor(runtime, record)
    fresh = [c for c in record.candidates if c.iteration == current.iteration]
    images = [ImageRef.from_path(folder.root / c.file) for c in fresh]
    ranking = assessor.rank(refs, images)
    current.ranking_judgments = ranking.judgments
    by_label = {img.label: c for img, c in zip(images, fresh, strict=True)}
    record.assessments = [a for a in record.assessments if a.iteration != current.iteration]
    for ranked in ranking.candidates:
        candidate = by_label[ranked.label]
        record.assessments.append(
            Assessment(
                candidate_id=candidate.id,
                iteration=current.iteration,
                score=ranked.score,
                max_score=ranking.max_score,
                element_scores=ranked.element_scores,
                rationale=ranked.rationale,
            )
        )
    round_best = by_label[ranking.best.label]
    previous_best = record.best
    current.best_candidate, current.best_score = round_best.id, ranking.best.score
    if previous_best is not None:
        # Explain, in the assessor's own pairwise terms, how this round's best compares.
        old = record.candidate(previous_best)
        current.judgment = assessor.compare(
            refs,
            ImageRef.from_path(folder.root / old.file),
            ImageRef.from_path(folder.root / round_best.file),
        ).model_copy(update={"a": old.id, "b": round_best.id})
    best = max(record.assessments, key=lambda a: a.score / a.max_score)
    record.best = best.candidate_id
    folder.log("assessed", iteration=current.iteration, best=record.best, score=best.score)
    _emit(runtime, stage="assess", iteration=current.iteration, best=record.best, score=best.score)
    return _save(folder, record)


def stop_reason(record: RunRecord) -> str | None:
    """Why the loop should stop now, or None to refine and go again."""
    best = record.assessment(record.best) if record.best else None
    if best is not None and best.score / best.max_score * 5 >= record.target:
        return f"target reached: best averages {best.score / best.max_score * 5:.2f}/5 per element"
    if record.iterations[-1].iteration >= record.max_iterations:
        return f"iteration limit ({record.max_iterations}) reached"
    return None


def route_after_assess(state: PersonalizeState) -> Literal["refine", "finish"]:
    return "finish" if stop_reason(_record(state)) else "refine"


def refine(state: PersonalizeState) -> dict[str, Any]:
    record = _record(state)
    assert record.profile is not None and record.best is not None
    best = record.assessment(record.best)
    last = record.iterations[-1]
    scores = best.element_scores if best else {e: 0.0 for e in ELEMENTS}
    # A generator that had to cut the prompt says so (params["prompt_used"]): keep weak elements in reach.
    truncated = any("prompt_used" in c.params for c in record.candidates if c.iteration == last.iteration)
    prompt = refine_prompt(record.subject, record.profile, last.emphasis, scores, truncated=truncated)
    record.iterations.append(
        IterationRecord(
            iteration=last.iteration + 1,
            prompt=prompt.positive,
            negative_prompt=prompt.negative,
            emphasis=prompt.emphasis,
        )
    )
    return {"record": record.model_dump(mode="json")}


def finish(state: PersonalizeState) -> dict[str, Any]:
    record, folder = _record(state), RunFolder(state["run_dir"])
    record.finished, record.stop_reason = True, stop_reason(record)
    folder.log("finished", reason=record.stop_reason, best=record.best)
    return _save(folder, record)
