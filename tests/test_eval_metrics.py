"""Eval metrics and plots: Wilson CIs, failure accounting, position consistency, top-k, tables, PNGs."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from agentpref.evaluation.metrics import (
    ALL,
    EvalSummary,
    SampleResult,
    quantile,
    render_table,
    summarize,
    wilson_interval,
)


def res(sid: str, label: str = "A", winner: str | None = "A", **kw: object) -> SampleResult:
    base: dict[str, object] = {"sample_id": sid, "split": "SP_ID", "assessor": "features", "n_refs": 4}
    base.update(kw)
    return SampleResult(label=label, winner=winner, failed=winner is None, **base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # textbook values (e.g. Newcombe 1998, Brown-Cai-DasGupta tables)
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (1, 1, 0.2065, 1.0),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_bounds_are_exact_at_the_extremes() -> None:
    # Computed, the lower bound at 0 of 3 is 5.6e-17: above the value, a negative error bar.
    assert [wilson_interval(0, n)[0] for n in (1, 3, 7)] == [0.0, 0.0, 0.0]
    assert [wilson_interval(n, n)[1] for n in (1, 3, 7)] == [1.0, 1.0, 1.0]


def test_wilson_bounds_solve_the_score_equation() -> None:
    # The Wilson bounds are the p where the score statistic |phat - p| / sqrt(p(1-p)/n) equals z.
    k, n = 37, 90
    for p in wilson_interval(k, n):
        assert abs(k / n - p) / math.sqrt(p * (1 - p) / n) == pytest.approx(1.959964, rel=1e-6)


def test_wilson_rejects_bad_counts() -> None:
    with pytest.raises(ValueError, match="total"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 4)


def random_results(seed: int, n: int = 400) -> list[SampleResult]:
    rng = random.Random(seed)
    return [res(f"s{i}", label=rng.choice("AB"), winner=rng.choice("AB")) for i in range(n)]


def test_random_judge_lands_within_ci_of_half() -> None:
    acc = summarize(random_results(0)).get("features", "SP_ID").accuracy  # type: ignore[union-attr]
    assert acc.total == 400
    assert acc.low is not None and acc.high is not None
    assert acc.low < 0.5 < acc.high
    assert acc.high - acc.low < 0.1  # 400 pairs pin chance to within about +-5 points
    # and the interval has its promised coverage: about 95% of random runs contain 0.5.
    covered = 0
    for seed in range(200):
        a = summarize(random_results(seed, 100)).get("features", "SP_ID").accuracy  # type: ignore[union-attr]
        covered += a.low <= 0.5 <= a.high  # type: ignore[operator]
    assert 0.90 <= covered / 200 <= 0.995


def test_failed_count_as_wrong_and_are_reported_separately() -> None:
    results = [res("1"), res("2"), res("3", winner="B"), res("4", winner=None), res("5", winner=None)]
    m = summarize(results).get("features", "SP_ID")
    assert m is not None
    assert (m.accuracy.successes, m.accuracy.total) == (2, 5)
    assert m.accuracy.value == pytest.approx(0.4)
    assert (m.answered_accuracy.successes, m.answered_accuracy.total) == (2, 3)
    assert (m.failed.successes, m.failed.total) == (2, 5)
    # a failed record that somehow carries a winner is still wrong
    odd = SampleResult(sample_id="x", split="S", assessor="a", label="A", winner="A", failed=True)
    assert not odd.correct


def test_position_consistency_on_hand_made_pairs() -> None:
    results = [
        res("1", label="A", winner="A", swapped_winner="A"),  # same image both ways
        res("2", label="A", winner="B", swapped_winner="B"),  # consistently wrong is still consistent
        res("3", label="A", winner="A", swapped_winner="B"),  # flipped with position
        res("4", label="B", winner="B", swap_failed=True),  # swapped pass failed: inconsistent
        res("5", label="B", winner="B"),  # never swapped: not counted
    ]
    pc = summarize(results).get("features", "SP_ID").position_consistency  # type: ignore[union-attr]
    assert (pc.successes, pc.total) == (2, 4)


def group(gid: str, outcomes: list[str | None], split: str = "SP_ID") -> list[SampleResult]:
    """A top-k group's results: rank 0 is the data's own pair (label A), ranks 1.. the extra pairs."""
    return [
        res(gid if rank == 0 else f"{gid}~vs~{rank}", winner=w, k_group=gid, k_rank=rank, split=split)
        for rank, w in enumerate(outcomes)
    ]


def test_top_k_needs_the_liked_image_to_beat_every_disliked_one() -> None:
    results = [
        *group("g1", ["A", "A"]),  # a 2-group, both right
        *group("g2", ["A", "B"]),  # a 2-group, second disliked image wins
        *group("g3", ["A", "A", "A", "A"]),  # a 4-group, all right: right at k=2 and k=4
        *group("g4", ["A", "A", "B", "A"]),  # right at k=2, wrong at k=4
        *group("g5", [None, "A", "A", "A"]),  # the anchor pair failed: wrong at every k
        res("lone"),  # not in a group: ignored by top-k
    ]
    top = summarize(results, top_k=(2, 4)).get("features", "SP_ID").top_k  # type: ignore[union-attr]
    assert set(top) == {2, 4}
    assert (top[2].successes, top[2].total) == (3, 5)
    assert (top[4].successes, top[4].total) == (1, 3)
    assert summarize(results, top_k=(2, 8)).get("features", "SP_ID").top_k.keys() == {2}  # type: ignore[union-attr]
    # the same group id in another split is another group, also in the pooled row
    pooled = summarize([*results, *group("g1", ["A", "A"], split="MP_OD")]).get("features", ALL)
    assert (pooled.top_k[2].successes, pooled.top_k[2].total) == (4, 6)  # type: ignore[union-attr]


def test_extra_top_k_pairs_count_only_towards_top_k() -> None:
    results = [*group("g1", ["A", "B", "B", "B"]), res("s2", winner="A")]
    m = summarize(results).get("features", "SP_ID")
    assert m is not None and m.n == 2 and m.accuracy.successes == 2
    assert sum(p.total for p in m.by_refs.values()) == 2


def test_refs_profile_and_cost_metrics() -> None:
    results = [
        res("1", n_refs=1, winner="B", latency_s=1.0, prompt_tokens=100, completion_tokens=10),
        res("2", n_refs=1, latency_s=2.0, prompt_tokens=200, completion_tokens=20),
        res("3", n_refs=8, latency_s=3.0, profile_similarity={"Color": 0.5, "Detail": 1.0}),
        res("4", n_refs=8, latency_s=10.0, profile_similarity={"Color": 0.7}),
    ]
    m = summarize(results).get("features", "SP_ID")
    assert m is not None
    assert {k: (p.successes, p.total) for k, p in m.by_refs.items()} == {1: (1, 2), 8: (2, 2)}
    assert m.profile_agreement == pytest.approx({"Color": 0.6, "Detail": 1.0})
    assert m.profile_n == 2
    assert m.latency_s is not None
    assert (m.latency_s.mean, m.latency_s.p50, m.latency_s.p90) == pytest.approx((4.0, 2.5, 7.9))
    assert m.prompt_tokens is not None and m.prompt_tokens.n == 2 and m.prompt_tokens.mean == 150
    assert quantile([5.0], 0.9) == 5.0


def test_summary_per_assessor_and_split_with_pooled_row_and_dedup() -> None:
    results = [
        res("1", split="SP_ID"),
        res("2", split="MP_OD", winner="B"),
        res("1", split="SP_ID", assessor="random", winner="B"),
        res("1", split="SP_ID", winner="B"),  # re-asked on resume: the last record wins
    ]
    s = summarize(results)
    assert s.assessors == ["features", "random"]
    assert s.splits == ["SP_ID", "MP_OD"]
    assert s.get("features", "SP_ID").accuracy.successes == 0  # type: ignore[union-attr]
    assert s.get("features", ALL).accuracy.total == 2  # type: ignore[union-attr]
    assert s.get("random", "MP_OD") is None
    # the summary is JSON for results.json and comes back equal
    assert EvalSummary.model_validate_json(s.model_dump_json()) == s


def test_render_table_puts_assessors_side_by_side() -> None:
    results = [
        *[
            res(f"f{i}", n_refs=n, winner="A", swapped_winner="A", latency_s=0.1)
            for i, n in enumerate([1, 8])
        ],
        *[res(f"f{i}", split="MP_OD", assessor="features") for i in range(3)],
        *[res(f"f{i}", assessor="random", winner="B", n_refs=n) for i, n in enumerate([1, 8])],
    ]
    table = render_table(summarize(results))
    lines = table.splitlines()
    header = lines[0].split()
    assert header == ["split", "metric", "features", "random"]
    acc_line = next(line for line in lines if line.startswith("SP_ID"))
    assert "accuracy [95% CI]" in acc_line
    assert "1.000 [0.342, 1.000] n=2" in acc_line and "0.000 [0.000, 0.658] n=2" in acc_line
    assert any(line.startswith(ALL) for line in lines)
    assert "position consistency" in table and "accuracy @ 8 refs" in table and "latency" in table
    assert "tok" not in table  # no backend reported tokens
    assert render_table(summarize([])) == "no results"


def test_plots_write_png_files(tmp_path: Path) -> None:
    from agentpref.evaluation.plots import plot_accuracy, plot_refs

    results = [
        *[
            res(f"{s}{i}", split=s, assessor=a, n_refs=n, winner=rng_w)
            for a in ("features", "random")
            for s in ("SP_ID", "MP_OD")
            for i, (n, rng_w) in enumerate([(1, "A"), (2, "B"), (4, "A"), (8, "A"), (8, None)])
        ]
    ]
    summary = summarize(results)
    acc = plot_accuracy(summary, tmp_path / "plots" / "accuracy.png")
    refs = plot_refs(summary, tmp_path / "refs.png")
    for path in (acc, refs):
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5000


def test_the_html_report_escapes_names_from_outside(tmp_path: Path) -> None:
    from agentpref.evaluation.report import render_eval_report

    hostile = "openai://x?model=<script>alert(1)</script>"
    summary = summarize([res("1", assessor=hostile, split="<b>split</b>")])
    html = render_eval_report(summary, data="<img src=x onerror=alert(1)>", samples=1, plots=[])
    assert "<script>" not in html and "<b>split" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;split&lt;/b&gt;" in html
