"""`agentpref eval`: measure assessors on a benchmark, side by side."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from agentpref.cli.common import handle_errors, json_option, stderr_console


@click.command("eval")
@click.argument("data", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--assessor",
    "assessors",
    multiple=True,
    default=("features", "random"),
    show_default=True,
    help="Assessor URI, repeatable: every one judges the same samples.",
)
@click.option("--split", "splits", multiple=True, help="Only these splits (e.g. SP_ID), repeatable.")
@click.option(
    "--image-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder the data's image paths are relative to (default: beside the data file).",
)
@click.option("--limit", type=int, help="At most this many samples (after the split filter).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("eval"), show_default=True)
@click.option("--concurrency", default=4, show_default=True, help="Judgments in flight at once.")
@click.option("--refs-sweep/--no-refs-sweep", default=True, show_default=True,
              help="Also judge with only 1, 2, 4, 8 references per side.")  # fmt: skip
@click.option("--swap/--no-swap", default=True, show_default=True, help="Also judge each pair swapped.")
@click.option("--top-k", multiple=True, type=click.IntRange(min=2), default=(2, 4), show_default=True,
              help="Group size k of the 1-liked-vs-k-disliked accuracy, repeatable.")  # fmt: skip
@click.option("--top-k-groups", type=click.IntRange(min=0), default=1, show_default=True,
              help="Top-k groups per user (each adds k-1 judgments); 0 skips top-k.")  # fmt: skip
@json_option
@handle_errors
def eval_(
    data: Path,
    assessors: tuple[str, ...],
    splits: tuple[str, ...],
    image_root: Path | None,
    limit: int | None,
    out: Path,
    concurrency: int,
    refs_sweep: bool,
    swap: bool,
    top_k: tuple[int, ...],
    top_k_groups: int,
    as_json: bool,
) -> None:
    """Judge the pairs of DATA with each assessor and report accuracy with confidence intervals.

    \b
    DATA is a PreferImg-Bench JSON file (with its images beside it), a Pick-a-Pic per-user
    split (pickle or parquet), a folder of per-user folders (liked/, disliked/, queries/,
    manifest.json) or a dataset built by `agentpref train run`. Writes samples.jsonl (one
    line per judgment; a rerun asks only what is missing), results.json, PNG plots and
    report.html (table and plots in one file) to --out, and prints the table.

    \b
    Top-k accuracy needs users with several pairs: a group puts the winner of one of a
    user's pairs against the losers of k of them (its own and the next ones), and counts
    as right when the winner beats every one, as in learn-user-pref's 1-vs-k setting.

    \b
    Examples:
      agentpref eval bench/ --assessor features --assessor random
      agentpref eval SP_ID.json --image-root images/ --assessor vllm://localhost:8000/PreferThinker
      agentpref eval test.parquet --limit 200 --top-k 2 --top-k 4 --top-k 8 --json
    """
    from rich.progress import Progress

    from agentpref.backends import load_assessor
    from agentpref.evaluation.loaders import load_eval_data
    from agentpref.evaluation.metrics import render_table, summarize
    from agentpref.evaluation.plots import plot_accuracy, plot_refs
    from agentpref.evaluation.report import write_eval_report
    from agentpref.evaluation.runner import REFS_SWEEP, EvalPlan, evaluate, write_results

    samples = load_eval_data(data, image_root=image_root, splits=list(splits) or None)
    samples = samples[:limit] if limit else samples
    if not samples:
        from agentpref.errors import InputError

        raise InputError(f"{data}: no samples{' in splits ' + ', '.join(splits) if splits else ''}")
    judges = {uri: load_assessor(uri) for uri in assessors}
    plan = EvalPlan(
        swap=swap,
        refs_sweep=REFS_SWEEP if refs_sweep else (),
        concurrency=concurrency,
        top_k=top_k,
        top_k_groups=top_k_groups,
    )
    with Progress(console=stderr_console(), transient=True) as progress:
        task = progress.add_task("judging", total=None)
        results = asyncio.run(
            evaluate(
                samples,
                judges,
                out,
                plan,
                on_result=lambda r: progress.advance(task),
                on_plan=lambda n: progress.update(task, total=n),
            )
        )
    summary = summarize(results, top_k)
    plots = [plot_accuracy(summary, out / "accuracy.png"), plot_refs(summary, out / "accuracy_vs_refs.png")]
    report = write_eval_report(
        out / "report.html", summary, data=str(data), samples=len(samples), plots=plots
    )
    payload = {
        "data": str(data),
        "samples": len(samples),
        "plots": [str(p) for p in plots],
        "report": str(report),
        **summary.model_dump(mode="json"),
    }
    write_results(out / "results.json", payload)
    if as_json:
        import json

        click.echo(json.dumps(payload))
    else:
        click.echo(render_table(summary))
        click.echo(f"results: {out / 'results.json'}; report with plots: {report}", err=True)
