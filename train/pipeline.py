"""The whole judge-making pipeline in one call: users -> images -> CoT -> filter -> export -> SFT -> GRPO.

Every stage writes into one folder and picks up what an earlier, interrupted run left:

    out/data/        the rendered dataset (resumable, content-addressed images)
    out/annotations.jsonl   one teacher answer per sample, appended as they arrive
    out/filter.json  what the quality filter kept and dropped, and why
    out/data/sft.jsonl, out/data/grpo.jsonl   the TRL datasets
    out/sft/, out/grpo/     the trained checkpoints
    out/report.json  figures of every stage

Samples of unseen users stay out of training (they are for evaluation).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentpref.errors import InputError
from agentpref.io import JsonlAppender, exclusive_folder, read_jsonl, writable_folder, write_atomic
from agentpref.profile import UserProfile
from agentpref.samples import PairSample, load_samples
from agentpref.train.annotate import Annotation, AnnotationCost, TeacherJob, annotate
from agentpref.train.quality import FilterReport, why_dropped

STAGES = ("dataset", "annotate", "export", "sft", "grpo")
ANNOTATE_CHUNK = 256  # samples whose images are in memory at once during annotation
_COUNTS = ("requests", "failed", "prompt_tokens", "completion_tokens", "seconds")


class PipelineSettings(BaseModel):
    out: Path
    users: int = Field(16, ge=1)
    seed: int = 0
    mp_fraction: float = Field(0.3, ge=0, le=1)
    unseen_fraction: float = Field(0.2, ge=0, lt=1)
    size: tuple[int, int] = (256, 256)
    refs_per_side: int = Field(5, ge=1)
    pairs_per_user: int = Field(2, ge=1)
    generator: str = "painter"
    teacher: str = Field(description="assessor URI of the teacher model, e.g. openai://...?model=gpt-4o")
    min_agreement: float = Field(0.5, ge=0, le=1, description="profile agreement a CoT needs to be kept")
    template_targets: bool = Field(
        False, description="SFT also on samples without a kept CoT, with the ground truth as target"
    )
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    sft_recipe: str = "sft_7b"
    grpo_recipe: str = "grpo_7b"
    max_steps: int | None = Field(None, description="cap SFT and GRPO steps (smoke runs)")
    dreamsim_cache_dir: Path | None = None
    stages: tuple[str, ...] = STAGES


class PipelineReport(BaseModel):
    samples: int = 0
    identical_pairs: int = Field(0, description="pairs this build left out: both images rendered alike")
    training_samples: int = 0
    annotation: AnnotationCost | None = None
    filter: FilterReport | None = None
    sft_rows: int = 0
    grpo_rows: int = 0
    sft_model: str | None = None
    grpo_model: str | None = None


def _annotations(path: Path) -> dict[str, Annotation]:
    """The teacher's answers so far (a torn last line, from a kill or a full disk, is left out)."""
    return {a.key: a for a in read_jsonl(path, Annotation)} if path.exists() else {}


def _truth(sample: PairSample) -> UserProfile:
    """The sample's true profiles, which a teacher is shown and its answer is checked against."""
    if sample.profile is None:
        raise InputError(f"sample {sample.sample_id}: no true profiles (likes, dislikes) to annotate against")
    return sample.profile


def _annotate(
    settings: PipelineSettings, data: Path, samples: list[PairSample], log: Callable[[str], None]
) -> Any:
    from agentpref.backends import load_assessor, redact_uri
    from agentpref.images.refs import ImageRef
    from agentpref.paths import inside_root

    path = settings.out / "annotations.jsonl"
    done = _annotations(path)
    todo = [s for s in samples if s.sample_id not in done or done[s.sample_id].error is not None]
    teacher = load_assessor(settings.teacher)

    def job(s: PairSample) -> TeacherJob:
        def ref(p: str) -> ImageRef:
            # The data set names its images; none may lead the teacher's requests out of its folder.
            return ImageRef.from_path(inside_root(p, data, where=f"{s.sample_id}: image {p!r}"))

        return TeacherJob(
            s.sample_id,
            [ref(p) for p in s.refs_liked],
            [ref(p) for p in s.refs_disliked],
            ref(s.image_a),
            ref(s.image_b),
            _truth(s),
            s.answer,
        )

    log(f"annotating {len(todo)} samples ({len(done)} already done) with {redact_uri(settings.teacher)}")
    with JsonlAppender(path) as ledger:
        keep = ledger.append  # appended as they arrive: a killed run loses nothing finished

        cost = AnnotationCost()
        # A chunk at a time: only its images are read into memory (a large set would not fit).
        for start in range(0, len(todo), ANNOTATE_CHUNK):
            chunk = [job(s) for s in todo[start : start + ANNOTATE_CHUNK]]
            _, part = asyncio.run(annotate(teacher, chunk, on_done=keep))
            cost = cost.model_copy(update={k: getattr(cost, k) + getattr(part, k) for k in _COUNTS})
    return cost


def run_pipeline(settings: PipelineSettings, log: Callable[[str], None] = print) -> PipelineReport:
    """Run the stages in `settings.stages` (see the module docs); returns the figures.

    One process at a time per output folder (a second one exits 2 at once).
    """
    unknown = set(settings.stages) - set(STAGES)
    if unknown:
        raise InputError(f"stages: unknown {sorted(unknown)}; choose from {', '.join(STAGES)}")
    out, data = settings.out, settings.out / "data"
    with exclusive_folder(writable_folder(out), "train"):
        return _run_stages(settings, out, data, log)


def _run_stages(
    settings: PipelineSettings, out: Path, data: Path, log: Callable[[str], None]
) -> PipelineReport:
    from agentpref.backends import load_generator
    from agentpref.train.dataset_build import build_dataset
    from agentpref.train.export import export_grpo, export_sft
    from agentpref.train.users import sample_users

    report = PipelineReport()
    if "dataset" in settings.stages:
        users = sample_users(settings.users, settings.seed, settings.mp_fraction, settings.unseen_fraction)
        log(f"rendering {len(users)} users with {settings.generator}")
        built = build_dataset(
            data,
            users,
            load_generator(settings.generator),
            refs_per_side=settings.refs_per_side,
            pairs_per_user=settings.pairs_per_user,
            size=settings.size,
            seed=settings.seed,
        )
        report.identical_pairs = built.run.identical_pairs if built.run else 0
    samples = load_samples(data)
    training = [s for s in samples if s.seen is not False]
    report.samples, report.training_samples = len(samples), len(training)
    if "annotate" in settings.stages:
        report.annotation = _annotate(settings, data, training, log)
    annotations = _annotations(out / "annotations.jsonl")
    kept: list[PairSample] = []
    reasons: dict[str, int] = {}
    for s in training:
        a = annotations.get(s.sample_id)
        reason = why_dropped(a.text if a else None, s.answer, _truth(s), min_agreement=settings.min_agreement)
        if reason is None:
            kept.append(s.model_copy(update={"cot": a.text if a else None}))
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
            if settings.template_targets:
                kept.append(s.model_copy(update={"cot": None}))
    report.filter = FilterReport(kept=len(training) - sum(reasons.values()), dropped=reasons)
    write_atomic(out / "filter.json", report.filter.model_dump_json(indent=2))
    log(f"quality filter: kept {report.filter.kept} of {len(training)}, dropped {reasons}")
    if "export" in settings.stages:
        report.sft_rows = export_sft(kept, data / "sft.jsonl").rows
        report.grpo_rows = export_grpo(training, data / "grpo.jsonl").rows
    if "sft" in settings.stages:
        report.sft_model = str(_train_sft(settings, data, report))
    if "grpo" in settings.stages:
        report.grpo_model = str(_train_grpo(settings, data))
    write_atomic(out / "report.json", report.model_dump_json(indent=2))
    return report


def _train_sft(settings: PipelineSettings, data: Path, report: PipelineReport) -> Path:
    from agentpref.train.recipes import SFTRecipe, load_recipe, resolve_recipe
    from agentpref.train.sft import train_sft

    if not (data / "sft.jsonl").exists() or not (data / "sft.jsonl").read_text().strip():
        raise InputError(
            "no SFT rows: no annotation passed the quality filter (see filter.json); "
            "use a stronger teacher, lower min_agreement, or template_targets for a smoke run"
        )
    recipe = load_recipe(
        resolve_recipe(settings.sft_recipe),
        SFTRecipe,
        model=settings.model,
        train_file=data / "sft.jsonl",
        output_dir=settings.out / "sft",
        max_steps=settings.max_steps,
    )
    return train_sft(recipe)


def _train_grpo(settings: PipelineSettings, data: Path) -> Path:
    from agentpref.train.grpo import train_grpo
    from agentpref.train.recipes import GRPORecipe, load_recipe, resolve_recipe

    sft = settings.out / "sft"
    recipe = load_recipe(
        resolve_recipe(settings.grpo_recipe),
        GRPORecipe,
        model=str(sft) if (sft / "config.json").exists() else settings.model,
        train_file=data / "grpo.jsonl",
        output_dir=settings.out / "grpo",
        max_steps=settings.max_steps,
        dreamsim_cache_dir=settings.dreamsim_cache_dir,
    )
    return train_grpo(recipe)
