"""Running assessors over an evaluation set: every judgment asked once, kept, and resumable.

For each sample and assessor the pair is judged as given and with A and B exchanged
(position consistency), with the sample's references, and optionally with only the
first 1, 2, 4, 8 of them per side (accuracy against the number of references). Top-k
groups (`top_k.py`) add, for a few pairs per user, the extra pairs that put the pair's
winner against the user's other disliked images; those are judged once. Each
judgment becomes a `SampleResult` appended to `samples.jsonl` the moment it exists, so
a killed run asks nothing it already has when it is run again; a line cut short by a kill
or a full disk is left out and cut off (`io.JsonlAppender`), never a reason to start over.
Assessors share the loaded data; requests run concurrently within a bound.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentpref.agreement import ProfileAgreement
from agentpref.assessors.base import Assessor
from agentpref.evaluation.metrics import SampleResult
from agentpref.evaluation.top_k import with_top_k
from agentpref.io import JsonlAppender, JsonlError, read_jsonl, writable_folder, write_atomic
from agentpref.judgment import Judgment
from agentpref.samples import PairSample

REFS_SWEEP = (1, 2, 4, 8)


class EvalPlan(BaseModel):
    """What to ask: which reference counts, and whether to ask the swapped order too."""

    swap: bool = True
    refs_sweep: tuple[int, ...] = Field(default=(), description="reference counts to try besides all of them")
    concurrency: int = Field(4, ge=1)
    profile_agreement: bool = Field(True, description="SBERT similarity of predicted and true profiles")
    top_k: tuple[int, ...] = Field(default=(2, 4), description="sizes k of 1-liked-vs-k-disliked groups")
    top_k_groups: int = Field(1, ge=0, description="top-k groups per user; 0 switches them off")


def _per_side(sample: PairSample, n: int | None) -> int:
    """References per side that `n` gives (all of them when None): a sample's n_refs."""
    if n is None:
        return max(len(sample.refs_liked), len(sample.refs_disliked))
    return max(len(sample.refs_liked[:n]), len(sample.refs_disliked[:n]))


def _done(path: Path) -> dict[str, SampleResult]:
    """The judgments a previous run left in the ledger, by assessor and sample."""
    if not path.exists():
        return {}
    try:
        rows = read_jsonl(path, SampleResult)
    except JsonlError as exc:
        hint = (
            f"{path.name} holds this eval's finished judgments: delete that line to ask it again "
            "(the other lines are kept), or evaluate into another folder"
        )
        raise JsonlError(exc.path, exc.line, exc.field, f"{exc.reason}; {hint}") from None
    return {r.assessor + "|" + r.sample_id: r for r in rows}


def _result(
    sample: PairSample,
    name: str,
    n: int | None,
    first: Judgment,
    second: Judgment | None,
    agreement: ProfileAgreement | None = None,
) -> SampleResult:
    usage = [j.usage for j in (first, second) if j is not None and j.usage is not None]
    truth = sample.profile
    swapped = None
    if second is not None and not second.failed and second.winner is not None:
        swapped = "B" if second.winner == "A" else "A"  # back in the original labels
    return SampleResult(
        sample_id=sample.sample_id if n is None else sample.with_references(n).sample_id,
        split=sample.split,
        assessor=name,
        label=sample.winner,
        winner=None if first.failed else first.winner,
        failed=first.failed or first.winner is None,
        error=first.error,
        swapped_winner=swapped,
        swap_failed=second is not None and swapped is None,
        n_refs=_per_side(sample, n),
        latency_s=first.usage.latency_s if first.usage else None,
        prompt_tokens=sum(u.prompt_tokens for u in usage) if usage else None,
        completion_tokens=sum(u.completion_tokens for u in usage) if usage else None,
        k_group=sample.k_group if n is None else None,
        k_rank=sample.k_rank if n is None else 0,
        sweep=n is not None,
        profile_similarity=(
            agreement.per_element(first.profile, truth)
            if agreement is not None and first.profile is not None and truth is not None and n is None
            else None
        ),
    )


async def evaluate(
    samples: Sequence[PairSample],
    assessors: dict[str, Assessor],
    out: Path,
    plan: EvalPlan | None = None,
    on_result: Callable[[SampleResult], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> list[SampleResult]:
    """Judge every sample with every assessor; results are appended to `out/samples.jsonl`.

    `on_plan` hears how many judgments are left to ask (for a progress bar), `on_result` each
    new one. Returns this plan's results, those a previous run left in the ledger included.
    One writer per `out`: the caller holds `io.exclusive_folder(out, ...)` (the CLI does), or
    two runs would ask everything twice.
    """
    plan = plan or EvalPlan()
    k_max = max(plan.top_k, default=0) if plan.top_k_groups else 0
    planned = with_top_k(samples, k_max, plan.top_k_groups)
    ledger_path = writable_folder(out) / "samples.jsonl"
    done = _done(ledger_path)
    bound = asyncio.Semaphore(plan.concurrency)
    counts: list[int | None] = [None, *plan.refs_sweep]
    agreement = ProfileAgreement() if plan.profile_agreement else None

    def key(sample: PairSample, name: str, n: int | None) -> str:
        return name + "|" + (sample.sample_id if n is None else sample.with_references(n).sample_id)

    asks = [
        (key(sample, name, n), sample, name, assessor, n)
        for sample in planned
        for name, assessor in assessors.items()
        for n in counts
        if n is None or (sample.k_rank == 0 and _per_side(sample, n) < _per_side(sample, None))
    ]

    todo = [ask for ask in asks if ask[0] not in done]
    if on_plan is not None:
        on_plan(len(todo))

    async def one(
        k: str, sample: PairSample, name: str, assessor: Assessor, n: int | None, ledger: JsonlAppender
    ) -> None:
        asked = sample.with_references(n) if n is not None else sample
        # Everything inside the bound: only the samples in flight sit in memory, and a judgment
        # is on disk before its slot is free, so a killed run loses only what was in flight.
        async with bound:
            refs = asked.load_references()
            a, b = asked.load_candidates()
            first = await assessor.acompare(refs, a, b)
            # A group's extra pair counts only towards top-k, which reads the first pass.
            second = await assessor.acompare(refs, b, a) if plan.swap and sample.k_rank == 0 else None
            result = await asyncio.to_thread(_result, sample, name, n, first, second, agreement)
            ledger.append(result)
        done[k] = result
        if on_result is not None:
            on_result(result)

    with JsonlAppender(ledger_path) as ledger:
        tasks = [asyncio.ensure_future(one(*ask, ledger)) for ask in todo]
        try:
            await asyncio.gather(*tasks)
        finally:
            # On a failure gather returns at once while the others run on: stop them before
            # the ledger closes, so none writes after it (or into a reused descriptor).
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    # Group membership comes from this plan, not from the run that stored the judgment.
    return [
        done[k].model_copy(
            update={"k_group": s.k_group if n is None else None, "k_rank": s.k_rank if n is None else 0}
        )
        for k, s, _, _, n in asks
        if k in done
    ]


def write_results(path: Path, payload: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(payload, indent=2))
