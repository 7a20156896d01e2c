"""Running assessors over an evaluation set: every judgment asked once, kept, and resumable.

For each sample and assessor the pair is judged as given and with A and B exchanged
(position consistency), with the sample's references, and optionally with only the
first 1, 2, 4, 8 of them per side (accuracy against the number of references). Each
judgment becomes a `SampleResult` appended to `samples.jsonl` the moment it exists, so
a killed run asks nothing it already has when it is run again. Assessors share the
loaded data; requests run concurrently within a bound.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, Field

from agentpref.assessors.base import Assessor
from agentpref.evaluation.agreement import ProfileAgreement
from agentpref.evaluation.metrics import SampleResult
from agentpref.evaluation.samples import EvalSample
from agentpref.judgment import Judgment

REFS_SWEEP = (1, 2, 4, 8)


class EvalPlan(BaseModel):
    """What to ask: which reference counts, and whether to ask the swapped order too."""

    swap: bool = True
    refs_sweep: tuple[int, ...] = Field(default=(), description="reference counts to try besides all of them")
    concurrency: int = Field(4, ge=1)
    profile_agreement: bool = Field(True, description="SBERT similarity of predicted and true profiles")


def _per_side(sample: EvalSample, n: int | None) -> int:
    """References per side that `n` gives (all of them when None): a sample's n_refs."""
    if n is None:
        return max(len(sample.likes), len(sample.dislikes))
    return max(len(sample.likes[:n]), len(sample.dislikes[:n]))


def _done(path: Path) -> dict[str, SampleResult]:
    if not path.exists():
        return {}
    results = {}
    for line in path.read_text().splitlines():
        if line.strip():
            r = SampleResult.model_validate_json(line)
            results[r.assessor + "|" + r.sample_id] = r
    return results


def _result(
    sample: EvalSample,
    name: str,
    n: int | None,
    first: Judgment,
    second: Judgment | None,
    agreement: ProfileAgreement | None = None,
) -> SampleResult:
    usage = [j.usage for j in (first, second) if j is not None and j.usage is not None]
    swapped = None
    if second is not None and not second.failed and second.winner is not None:
        swapped = "B" if second.winner == "A" else "A"  # back in the original labels
    return SampleResult(
        sample_id=sample.sample_id if n is None else sample.with_references(n).sample_id,
        split=sample.split,
        assessor=name,
        label=sample.label,
        winner=None if first.failed else first.winner,
        failed=first.failed or first.winner is None,
        error=first.error,
        swapped_winner=swapped,
        swap_failed=second is not None and swapped is None,
        n_refs=_per_side(sample, n),
        latency_s=first.usage.latency_s if first.usage else None,
        prompt_tokens=sum(u.prompt_tokens for u in usage) if usage else None,
        completion_tokens=sum(u.completion_tokens for u in usage) if usage else None,
        k_group=None,
        sweep=n is not None,
        profile_similarity=(
            agreement.score(first.profile, sample.truth)
            if agreement is not None and first.profile is not None and sample.truth is not None and n is None
            else None
        ),
    )


async def evaluate(
    samples: Sequence[EvalSample],
    assessors: dict[str, Assessor],
    out: Path,
    plan: EvalPlan | None = None,
    on_result: Callable[[SampleResult], None] | None = None,
) -> list[SampleResult]:
    """Judge every sample with every assessor; results are appended to `out/samples.jsonl`."""
    plan = plan or EvalPlan()
    out.mkdir(parents=True, exist_ok=True)
    ledger_path = out / "samples.jsonl"
    done = _done(ledger_path)
    bound = asyncio.Semaphore(plan.concurrency)
    counts: list[int | None] = [None, *plan.refs_sweep]
    agreement = ProfileAgreement() if plan.profile_agreement else None

    async def one(sample: EvalSample, name: str, assessor: Assessor, n: int | None, ledger: IO[str]) -> None:
        key = name + "|" + (sample.sample_id if n is None else sample.with_references(n).sample_id)
        if key in done:
            return
        asked = sample.with_references(n) if n is not None else sample
        # Everything inside the bound: only the samples in flight sit in memory, and a judgment
        # is on disk before its slot is free, so a killed run loses only what was in flight.
        async with bound:
            refs = asked.load_references()
            a, b = asked.load_candidates()
            first = await assessor.acompare(refs, a, b)
            second = await assessor.acompare(refs, b, a) if plan.swap else None
            result = await asyncio.to_thread(_result, sample, name, n, first, second, agreement)
            ledger.write(result.model_dump_json() + "\n")
            ledger.flush()
        done[key] = result
        if on_result is not None:
            on_result(result)

    with ledger_path.open("a") as ledger:
        await asyncio.gather(
            *(
                one(sample, name, assessor, n, ledger)
                for sample in samples
                for name, assessor in assessors.items()
                for n in counts
                if n is None or _per_side(sample, n) < _per_side(sample, None)
            )
        )
    return list(done.values())


def write_results(path: Path, payload: dict[str, Any]) -> None:
    from agentpref.run import write_atomic

    write_atomic(path, json.dumps(payload, indent=2))
