"""`agentpref eval`: measure assessors on a benchmark, side by side."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from agentpref.cli_common import handle_errors, json_option, stderr_console


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
    as_json: bool,
) -> None:
    """Judge the pairs of DATA with each assessor and report accuracy with confidence intervals.

    \b
    DATA is a PreferImg-Bench JSON file (with its images beside it), a Pick-a-Pic per-user
    split (pickle or parquet), a folder of per-user folders (liked/, disliked/, queries/,
    manifest.json) or a dataset built by `agentpref train run`. Writes samples.jsonl (one
    line per judgment; a rerun asks only what is missing), results.json and PNG plots to
    --out, and prints a table.
    """
    from rich.progress import Progress

    from agentpref.backends import load_assessor
    from agentpref.evaluation.loaders import load_eval_data
    from agentpref.evaluation.metrics import render_table, summarize
    from agentpref.evaluation.plots import plot_accuracy, plot_refs
    from agentpref.evaluation.runner import REFS_SWEEP, EvalPlan, evaluate, write_results

    samples = load_eval_data(data, image_root=image_root, splits=list(splits) or None)
    samples = samples[:limit] if limit else samples
    if not samples:
        from agentpref.errors import InputError

        raise InputError(f"{data}: no samples{' in splits ' + ', '.join(splits) if splits else ''}")
    judges = {uri: load_assessor(uri) for uri in assessors}
    plan = EvalPlan(swap=swap, refs_sweep=REFS_SWEEP if refs_sweep else (), concurrency=concurrency)
    with Progress(console=stderr_console(), transient=True) as progress:
        task = progress.add_task("judging", total=None)
        results = asyncio.run(
            evaluate(samples, judges, out, plan, on_result=lambda r: progress.advance(task))
        )
    summary = summarize(results)
    plots = [
        str(plot_accuracy(summary, out / "accuracy.png")),
        str(plot_refs(summary, out / "accuracy_vs_refs.png")),
    ]
    payload = {"data": str(data), "samples": len(samples), "plots": plots, **summary.model_dump(mode="json")}
    write_results(out / "results.json", payload)
    if as_json:
        import json

        click.echo(json.dumps(payload))
    else:
        click.echo(render_table(summary))
        click.echo(f"results: {out / 'results.json'}; plots: {', '.join(plots)}", err=True)
