"""`agentpref eval`: measure assessors on a benchmark, side by side."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentpref.cli.common import echo, handle_errors, json_option, print_json, say, stderr_console

if TYPE_CHECKING:
    from agentpref.evaluation.metrics import EvalSummary


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
@click.option(
    "--limit", type=click.IntRange(min=1), help="At most this many samples (after the split filter)."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("eval"),
    show_default=True,
    help="Folder for the results; one eval at a time writes there (a second one exits 2).",
)
@click.option(
    "--plots/--no-plots",
    default=True,
    show_default=True,
    help="Draw PNG plots (needs matplotlib: pip install 'agentpref[eval]'; checked before any judgment).",
)
@click.option(
    "--allow-outside-root",
    is_flag=True,
    help="Let DATA name images outside --image-root (or DATA's folder): absolute paths, '..', symlinks "
    "out. Risk: a crafted data file can then make eval read any file you can read and send it to the "
    "assessor's server.",
)
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Read a pickle (.pkl) split. Risk: unpickling runs code the file contains, with your rights; "
    "pass it only for a file you made or fully trust, and prefer parquet.",
)
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
    plots: bool,
    allow_outside_root: bool,
    trust_pickle: bool,
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
    Results come first: results.json is written before any plot is drawn. A plot that
    cannot be drawn is reported on stderr and in results.json ("plot_error") and the report
    is written without it; the exit code stays 0, since every judgment and number is saved.
    A line of samples.jsonl cut short (a kill, a full disk) is dropped with a warning and
    asked again; nothing before it is lost.

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

    from agentpref.backends import load_assessor, redact_uri
    from agentpref.errors import InputError
    from agentpref.evaluation.loaders import load_eval_data
    from agentpref.evaluation.metrics import render_table, summarize
    from agentpref.evaluation.report import write_eval_report
    from agentpref.evaluation.runner import REFS_SWEEP, EvalPlan, evaluate, write_results
    from agentpref.io import exclusive_folder

    # The lock first (a second eval into --out fails before asking anything), then every
    # check that could otherwise fail after the paid judgments.
    with exclusive_folder(out, "eval"):
        if plots:
            from agentpref.evaluation.plots import require_matplotlib

            require_matplotlib()
        samples = load_eval_data(
            data,
            image_root=image_root,
            splits=list(splits) or None,
            allow_outside_root=allow_outside_root,
            trust_pickle=trust_pickle,
        )[:limit]
        if not samples:
            raise InputError(f"{data}: no samples{' in splits ' + ', '.join(splits) if splits else ''}")
        # Keyed by the redacted URI: it names the assessor in samples.jsonl, results and plots.
        judges = {redact_uri(uri): load_assessor(uri) for uri in assessors}
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
        payload = {"data": str(data), "samples": len(samples), **summary.model_dump(mode="json")}
        write_results(out / "results.json", payload)  # the numbers first: nothing after can lose them
        drawn, plot_error = _draw_plots(summary, out) if plots else ([], None)
        report = write_eval_report(
            out / "report.html", summary, data=str(data), samples=len(samples), plots=drawn
        )
        payload.update(plots=[str(p) for p in drawn], report=str(report))
        if plot_error:
            payload["plot_error"] = plot_error
        write_results(out / "results.json", payload)
    if plot_error:
        say(f"no plots ({plot_error}); results and report are written", label="warning:")
    if as_json:
        print_json(payload)
    else:
        echo(render_table(summary), newlines=True)
        say(f"results: {out / 'results.json'}; report: {report}")


def _draw_plots(summary: EvalSummary, out: Path) -> tuple[list[Path], str | None]:
    """The plots drawn, and why the rest could not be (None when all were)."""
    from agentpref.evaluation.plots import plot_accuracy, plot_refs

    drawn: list[Path] = []
    for plot, name in ((plot_accuracy, "accuracy.png"), (plot_refs, "accuracy_vs_refs.png")):
        try:
            drawn.append(plot(summary, out / name))
        except Exception as exc:  # the results are saved already: a drawing failure must not cost them
            return drawn, f"{name}: {type(exc).__name__}: {exc}"
    return drawn, None
