"""Metrics over per-sample eval results: accuracy with Wilson CIs, position consistency, top-k, cost.

The runner writes one `SampleResult` per (assessor, sample); `summarize` groups them per assessor
and per split (plus a pooled `ALL` row) into an `EvalSummary` that `render_table` prints and
`plots.py` draws. Failed judgments count as wrong in the headline accuracy, the way the papers
count them, and are reported separately so a parser problem is not mistaken for bad taste.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Side = Literal["A", "B"]
ALL = "ALL"
"""Split name of the pooled row (all splits of one assessor together)."""
Z95 = 1.959963984540054


class SampleResult(BaseModel):
    """One assessor's outcome on one pairwise sample (one line of `samples.jsonl`)."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str
    split: str
    assessor: str
    label: Side = Field(description="the candidate the person preferred")
    winner: Side | None = Field(None, description="the assessor's pick; None when it failed")
    failed: bool = False
    error: str | None = None
    swapped_winner: Side | None = Field(
        None, description="pick with A and B shown the other way round, mapped back to the original labels"
    )
    swap_failed: bool = Field(False, description="a swapped pass was asked and gave no winner")
    n_refs: int = Field(0, ge=0, description="number of reference images the assessor saw")
    latency_s: float | None = Field(None, ge=0)
    prompt_tokens: int | None = Field(None, ge=0)
    completion_tokens: int | None = Field(None, ge=0)
    profile_similarity: dict[str, float] | None = Field(
        None, description="SBERT similarity of predicted vs ground-truth profile, per element"
    )
    k_group: str | None = Field(None, description="anchor pair of the 1-liked-vs-k-disliked group it is in")
    k_rank: int = Field(0, ge=0, description="0: a pair of the data; > 0: an extra pair of a top-k group")
    sweep: bool = Field(False, description="asked with fewer references than the sample has (ablation)")

    @property
    def correct(self) -> bool:
        return not self.failed and self.winner is not None and self.winner == self.label

    @property
    def answered(self) -> bool:
        return not self.failed and self.winner is not None


class Proportion(BaseModel):
    """`successes / total` with its 95% Wilson score interval (value and bounds None when total is 0)."""

    model_config = ConfigDict(extra="forbid")

    successes: int = Field(ge=0)
    total: int = Field(ge=0)
    value: float | None
    low: float | None
    high: float | None


class Distribution(BaseModel):
    """Mean and percentiles of a per-judgment quantity (latency, tokens)."""

    model_config = ConfigDict(extra="forbid")

    n: int
    mean: float
    p50: float
    p90: float


class SplitMetrics(BaseModel):
    """Every metric for one assessor on one split."""

    model_config = ConfigDict(extra="forbid")

    assessor: str
    split: str
    n: int
    accuracy: Proportion = Field(description="failed judgments count as wrong")
    answered_accuracy: Proportion = Field(description="over judgments that gave a winner")
    failed: Proportion = Field(description="failed-parse rate")
    position_consistency: Proportion = Field(description="same image wins with A and B swapped")
    by_refs: dict[int, Proportion] = Field(default_factory=dict, description="accuracy per number of refs")
    top_k: dict[int, Proportion] = Field(
        default_factory=dict, description="k -> share of groups where the liked image beat all k disliked"
    )
    profile_agreement: dict[str, float] | None = Field(None, description="mean similarity per element")
    profile_n: int = 0
    latency_s: Distribution | None = None
    prompt_tokens: Distribution | None = None
    completion_tokens: Distribution | None = None


class EvalSummary(BaseModel):
    """Metrics per assessor and split; `assessors` and `splits` keep first-seen order."""

    model_config = ConfigDict(extra="forbid")

    assessors: list[str]
    splits: list[str] = Field(description="real splits, without the pooled ALL row")
    rows: list[SplitMetrics]

    def get(self, assessor: str, split: str = ALL) -> SplitMetrics | None:
        return next((r for r in self.rows if r.assessor == assessor and r.split == split), None)


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; stays inside [0, 1] and works at 0 or n successes."""
    if total <= 0:
        raise ValueError(f"wilson_interval needs total > 0, got {total}")
    if not 0 <= successes <= total:
        raise ValueError(f"successes must be in 0..{total}, got {successes}")
    p = successes / total
    z2 = z * z
    denom = 1 + z2 / total
    centre = (p + z2 / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total)) / denom
    # At 0 or n successes a bound is exactly 0 or 1; computed, it can miss by a rounding error
    # and land on the wrong side of the value (a negative error bar in the plots).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


def proportion(successes: int, total: int) -> Proportion:
    if total == 0:
        return Proportion(successes=0, total=0, value=None, low=None, high=None)
    low, high = wilson_interval(successes, total)
    return Proportion(successes=successes, total=total, value=successes / total, low=low, high=high)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (numpy's default), for small lists without importing numpy."""
    if not values:
        raise ValueError("quantile of an empty list")
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def distribution(values: Iterable[float | int | None]) -> Distribution | None:
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None
    return Distribution(n=len(xs), mean=sum(xs) / len(xs), p50=quantile(xs, 0.5), p90=quantile(xs, 0.9))


def _position_consistency(results: Sequence[SampleResult]) -> Proportion:
    # Only pairs whose swapped pass was asked count; a failure on either side is inconsistent,
    # since the judge did not pick the same image both ways.
    asked = [r for r in results if r.swapped_winner is not None or r.swap_failed]
    same = sum(
        1 for r in asked if r.answered and r.swapped_winner is not None and r.winner == r.swapped_winner
    )
    return proportion(same, len(asked))


def _top_k(results: Sequence[SampleResult], ks: Sequence[int]) -> dict[int, Proportion]:
    # A group's pair of rank r puts its liked image against its (r+1)-th disliked one, so the
    # liked image is first among k + 1 when ranks 0 .. k-1 are all right. Group ids are scoped
    # by split so the pooled ALL row does not merge two splits' groups.
    groups: dict[tuple[str, str], dict[int, bool]] = defaultdict(dict)
    for r in results:
        if r.k_group is not None and not r.sweep:
            groups[(r.split, r.k_group)][r.k_rank] = r.correct
    out = {}
    for k in sorted(set(ks)):
        full = [ranks for ranks in groups.values() if all(i in ranks for i in range(k))]
        if full:
            out[k] = proportion(sum(all(ranks[i] for i in range(k)) for ranks in full), len(full))
    return out


def _profile_agreement(results: Sequence[SampleResult]) -> tuple[dict[str, float] | None, int]:
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    n = 0
    for r in results:
        if not r.profile_similarity:
            continue
        n += 1
        for element, sim in r.profile_similarity.items():
            sums[element] += sim
            counts[element] += 1
    if n == 0:
        return None, 0
    return {e: sums[e] / counts[e] for e in sums}, n


def split_metrics(
    assessor: str, split: str, results: Sequence[SampleResult], top_k: Sequence[int] = (2, 4)
) -> SplitMetrics:
    """All metrics for one assessor over `results` (already filtered to that assessor and split).

    Reference-count ablations (`sweep`) feed only `by_refs`, the extra pairs of top-k groups
    only `top_k`; every other figure is over the data's own pairs with all their references.
    """
    groups = _top_k(results, top_k)
    results = [r for r in results if r.k_rank == 0]
    refs: dict[int, list[bool]] = defaultdict(list)
    for r in results:
        refs[r.n_refs].append(r.correct)
    results = [r for r in results if not r.sweep]
    n = len(results)
    correct = sum(r.correct for r in results)
    answered = [r for r in results if r.answered]
    agreement, profile_n = _profile_agreement(results)
    return SplitMetrics(
        assessor=assessor,
        split=split,
        n=n,
        accuracy=proportion(correct, n),
        answered_accuracy=proportion(correct, len(answered)),
        failed=proportion(n - len(answered), n),
        position_consistency=_position_consistency(results),
        by_refs={k: proportion(sum(v), len(v)) for k, v in sorted(refs.items())},
        top_k=groups,
        profile_agreement=agreement,
        profile_n=profile_n,
        latency_s=distribution(r.latency_s for r in results),
        prompt_tokens=distribution(r.prompt_tokens for r in results),
        completion_tokens=distribution(r.completion_tokens for r in results),
    )


def summarize(results: Iterable[SampleResult], top_k: Sequence[int] = (2, 4)) -> EvalSummary:
    """Group results per assessor and split (plus a pooled `ALL` row per assessor) and measure each.

    `top_k`: the group sizes k to report top-k accuracy for (where the results have such groups).

    A sample recorded twice for the same assessor and split (a resumed run re-asked it) counts once:
    the last record wins.
    """
    latest: dict[tuple[str, str, str], SampleResult] = {}
    assessors: list[str] = []
    splits: list[str] = []
    for r in results:
        latest[(r.assessor, r.split, r.sample_id)] = r
        if r.assessor not in assessors:
            assessors.append(r.assessor)
        if r.split not in splits:
            splits.append(r.split)
    grouped: dict[tuple[str, str], list[SampleResult]] = defaultdict(list)
    for (assessor, split, _), r in latest.items():
        grouped[(assessor, split)].append(r)
        grouped[(assessor, ALL)].append(r)
    rows = [
        split_metrics(a, s, grouped[(a, s)], top_k)
        for a in assessors
        for s in [*splits, ALL]
        if (a, s) in grouped
    ]
    return EvalSummary(assessors=assessors, splits=splits, rows=rows)


def _fmt_prop(p: Proportion, ci: bool = True) -> str:
    if p.value is None:
        return "-"
    if ci and p.low is not None and p.high is not None:
        return f"{p.value:.3f} [{p.low:.3f}, {p.high:.3f}] n={p.total}"
    return f"{p.value:.3f} ({p.successes}/{p.total})"


def _fmt_dist(d: Distribution | None, unit: str = "") -> str:
    if d is None:
        return "-"
    return f"{d.mean:.3g}{unit} / {d.p50:.3g}{unit} / {d.p90:.3g}{unit}"


def metric_rows(summary: EvalSummary, split: str) -> list[tuple[str, list[str]]]:
    """One split's table rows: (metric name, a formatted cell per assessor), for the table and the HTML."""
    metrics = [summary.get(a, split) for a in summary.assessors]

    def row(name: str, cell: Callable[[SplitMetrics], str]) -> tuple[str, list[str]]:
        return name, [cell(m) if m is not None else "-" for m in metrics]

    present = [m for m in metrics if m is not None]
    refs = sorted({k for m in present for k in m.by_refs})
    ks = sorted({k for m in present for k in m.top_k})
    elements = sorted({e for m in present for e in (m.profile_agreement or {})})
    out = [
        row("accuracy [95% CI]", lambda m: _fmt_prop(m.accuracy)),
        row("accuracy (answered)", lambda m: _fmt_prop(m.answered_accuracy, ci=False)),
        row("failed", lambda m: _fmt_prop(m.failed, ci=False)),
    ]
    if any(m.position_consistency.total for m in present):
        out.append(row("position consistency", lambda m: _fmt_prop(m.position_consistency, ci=False)))
    if len(refs) > 1:
        for k in refs:
            out.append(
                row(f"accuracy @ {k} refs", lambda m, k=k: _fmt_prop(m.by_refs[k]) if k in m.by_refs else "-")
            )
    for k in ks:
        out.append(
            row(
                f"top-k: 1 liked vs {k} disliked",
                lambda m, k=k: _fmt_prop(m.top_k[k]) if k in m.top_k else "-",
            )
        )
    for e in elements:
        out.append(
            row(
                f"profile sim: {e}",
                lambda m, e=e: (
                    f"{m.profile_agreement[e]:.3f}"
                    if m.profile_agreement and e in m.profile_agreement
                    else "-"
                ),
            )
        )
    if any(m.latency_s for m in present):
        out.append(row("latency s mean/p50/p90", lambda m: _fmt_dist(m.latency_s)))
    if any(m.prompt_tokens for m in present):
        out.append(row("prompt tok mean/p50/p90", lambda m: _fmt_dist(m.prompt_tokens)))
    if any(m.completion_tokens for m in present):
        out.append(row("compl. tok mean/p50/p90", lambda m: _fmt_dist(m.completion_tokens)))
    return out


def render_table(summary: EvalSummary) -> str:
    """A plain-text table: one block of metric rows per split, one column per assessor."""
    if not summary.rows:
        return "no results"
    splits = [*summary.splits, ALL] if len(summary.splits) > 1 else summary.splits
    header = ["split", "metric", *summary.assessors]
    lines: list[list[str]] = []
    for split in splits:
        for i, (name, cells) in enumerate(metric_rows(summary, split)):
            lines.append([split if i == 0 else "", name, *cells])
    widths = [max(len(r[c]) for r in [header, *lines]) for c in range(len(header))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [fmt(header), rule]
    for r in lines:
        if r[0] and len(out) > 2:
            out.append(rule)
        out.append(fmt(r))
    return "\n".join(out)
