"""`agentpref generate`: the personalisation loop from the shell (it calls `agentpref.personalize`)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agentpref.cli.common import (
    backend_option,
    escape,
    handle_errors,
    json_option,
    load_refs,
    parse_size,
    refs_options,
    stderr_console,
    stdout_is_terminal,
)


@click.command()
@refs_options
@click.option("--prompt", help="What to depict, e.g. 'a lighthouse at dawn'.")
@click.option(
    "-n", "n", default=4, show_default=True, type=click.IntRange(1, 64), help="Candidates per iteration."
)
@click.option(
    "--iterations", default=3, show_default=True, type=click.IntRange(1, 50), help="At most this many rounds."
)
@click.option(
    "--target",
    default=4.5,
    show_default=True,
    type=click.FloatRange(0, 5),
    help="Stop early once the best candidate averages this score (0-5) per element.",
)
@backend_option("assessor")
@backend_option("generator")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default: runs/run-DATE-TIME).")
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Base seed; every candidate's seed is in the report.",
)
@click.option("--size", default="512x512", show_default=True, help="Image size WIDTHxHEIGHT.")
@click.option("--resume", is_flag=True, help="Continue the killed or unfinished run in --out.")
@json_option
@handle_errors
def generate(
    refs: Path | None,
    dislikes: Path | None,
    prompt: str | None,
    n: int,
    iterations: int,
    target: float,
    assessor_uri: str | None,
    generator_uri: str | None,
    out: Path | None,
    seed: int,
    size: str,
    resume: bool,
    as_json: bool,
) -> None:
    """Predict the profile, then generate -> assess -> refine until the taste is met.

    Writes the images, profile.json, judgments.jsonl, summary.json and report.html to
    the run folder; prints the best image and the report's path (--json: the whole
    record). A killed run continues with --resume --out RUN_FOLDER, without generating
    any finished candidate again.
    """
    from agentpref.cli.progress import RunProgress
    from agentpref.errors import InputError
    from agentpref.personalization import personalize
    from agentpref.personalization import resume as resume_run

    console = stderr_console()
    if resume:
        if out is None:
            raise InputError("--resume needs --out: the folder of the run to continue")
        with RunProgress(console) as progress:
            result = resume_run(out, on_progress=progress)  # with the run's own backends, as recorded
    else:
        if not prompt:
            raise InputError("--prompt is required, e.g. --prompt 'a lighthouse at dawn'")
        references = load_refs(refs, dislikes)
        if (generator_uri or "painter").startswith("painter"):
            console.print(
                "[dim]note: the painter renders your taste's palette, saturation, detail and medium;"
                " it does not draw the prompt's subject. Use a diffusers generator for that.[/]"
            )
        with RunProgress(console) as progress:
            result = personalize(
                references,
                prompt,
                n=n,
                iterations=iterations,
                target=target,
                assessor=assessor_uri,
                generator=generator_uri,
                out=out,
                seed=seed,
                size=parse_size(size),
                on_progress=progress,
            )
    record = result.record
    if as_json:
        payload = {"run_dir": str(result.run_dir), "report": str(result.report_path)}
        click.echo(json.dumps({**payload, **record.model_dump(mode="json")}))
        return
    if record.profile and stdout_is_terminal():
        from agentpref.cli.judge import print_profile

        print_profile(record.profile)
    if record.best:
        best = result.best
        assessment = record.assessment(best.id)
        assert assessment is not None
        score = f"{assessment.score:.1f}/{assessment.max_score:.0f}"
        click.echo(f"best: {best.path} (score {score}; {record.stop_reason})")
    click.echo(f"report: {result.report_path}")
    if record.warnings:
        for warning in record.warnings:
            console.print(f"[yellow]warning:[/] {escape(warning)}", markup=True, highlight=False)
