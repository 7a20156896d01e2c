"""`agentpref eval` end to end on a small synthetic set built by train/ with the painter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib")

from agentpref.backends import load_generator
from agentpref.cli.main import main
from agentpref.evaluation.loaders import load_eval_data
from agentpref.train.dataset_build import build_dataset
from agentpref.train.users import sample_users


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    build_dataset(
        root / "data",
        sample_users(8, seed=3, mp_fraction=0.5, unseen_fraction=0.25),
        load_generator("painter"),
        refs_per_side=2,
        pairs_per_user=4,
        size=(64, 64),
        seed=3,
    )
    return root / "data"


def _eval(data: Path, out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["eval", str(data), "--assessor", "features", "--assessor", "random", "--out", str(out), *extra]
    )
    if result.exit_code:
        print(result.output)
    return result.exit_code, result.stdout


@pytest.mark.slow
def test_eval_reports_assessors_side_by_side_with_plots_and_resumes_without_asking_again(synthetic, tmp_path):
    out = tmp_path / "eval"
    code, stdout = _eval(synthetic, out, "--json")
    assert code == 0
    report = json.loads(stdout)
    samples = load_eval_data(synthetic)
    n = len(samples)  # 8 users x 4 pairs, less any pair the painter drew identical
    assert 30 <= n <= 32 and report["samples"] == n and set(report["assessors"]) == {"features", "random"}
    rows = {(r["assessor"], r["split"]): r for r in report["rows"]}
    users_with_4 = sum(1 for u in {s.user_id for s in samples} if sum(s.user_id == u for s in samples) == 4)
    assert users_with_4 >= 6
    for assessor in ("features", "random"):
        whole = (
            rows[(assessor, "ALL")]
            if (assessor, "ALL") in rows
            else next(r for (a, _), r in rows.items() if a == assessor)
        )
        assert (
            whole["n"] == n
            and whole["accuracy"]["low"] <= whole["accuracy"]["value"] <= whole["accuracy"]["high"]
        )
        assert whole["position_consistency"]["total"] == n
        assert set(whole["by_refs"]) >= {"1", "2"}  # the reference sweep: 1 per side, then all 2
        # one 1-liked-vs-k-disliked group per user, for k = 2, and for k = 4 where a user has 4 pairs
        assert {k: v["total"] for k, v in whole["top_k"].items()} == {"2": 8, "4": users_with_4}
    agreement = rows[("features", "ALL")]["profile_agreement"]  # features predicts a profile; SBERT scores it
    assert agreement and all(0.0 <= v <= 1.0 for v in agreement.values()) and "Color" in agreement
    assert rows[("random", "ALL")]["profile_agreement"] is None  # a coin predicts nothing
    for plot in report["plots"]:
        assert Path(plot).stat().st_size > 5000
    html = Path(report["report"]).read_text()  # one file: the plots embedded, a table per split
    assert html.count("data:image/png;base64,") == 2 and "1 liked vs 4 disliked" in html and "MP_OD" in html
    lines = (out / "samples.jsonl").read_text().splitlines()
    # samples x assessors x (all refs, 1 ref), then the extra pairs of each user's group x assessors
    assert len(lines) == n * 2 * 2 + (n - 8) * 2

    # A rerun (as after a kill) asks no finished sample again.
    code, _ = _eval(synthetic, out)
    assert code == 0 and len((out / "samples.jsonl").read_text().splitlines()) == len(lines)


def test_eval_names_a_missing_split(synthetic, tmp_path):
    code, _ = _eval(synthetic, tmp_path / "e", "--split", "PICKAPIC")
    assert code == 2


def test_an_eval_killed_midway_asks_no_finished_sample_again(synthetic, tmp_path):
    import asyncio

    from agentpref.evaluation.loaders import load_eval_data
    from agentpref.evaluation.runner import EvalPlan, evaluate
    from agentpref.evaluation.top_k import with_top_k

    class Dying:
        """The features judge, dying (like a killed process) after `limit` judgments."""

        def __init__(self, limit: int | None) -> None:
            from agentpref.backends import load_assessor

            self.inner, self.limit, self.calls = load_assessor("features"), limit, 0

        async def acompare(self, refs, a, b):
            self.calls += 1
            if self.limit is not None and self.calls > self.limit:
                raise RuntimeError("killed")
            return await self.inner.acompare(refs, a, b)

    samples = load_eval_data(synthetic)
    plan = EvalPlan(swap=False, refs_sweep=(), concurrency=1, profile_agreement=False)
    out = tmp_path / "eval"
    with pytest.raises(RuntimeError, match="killed"):
        asyncio.run(evaluate(samples, {"features": Dying(5)}, out, plan))
    kept = len((out / "samples.jsonl").read_text().splitlines())
    assert kept == 5
    again = Dying(None)
    results = asyncio.run(evaluate(samples, {"features": again}, out, plan))
    asks = len(with_top_k(samples, k_max=4))  # the data's pairs and the top-k groups' extra ones
    assert asks > len(samples)
    assert again.calls == asks - kept and len(results) == asks
