"""`agentpref`: the command line.

Heavy modules (backends, LangGraph, rich) are imported inside the commands, so
`agentpref --help` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from agentpref.cli_common import handle_errors, json_option, parse_size, stderr_console

if TYPE_CHECKING:
    from agentpref.images import References
    from agentpref.profile import UserProfile

F = TypeVar("F", bound=Callable[..., Any])

ASSESSOR_HELP = (
    "Assessor URI: 'features' (default, any CPU, no weights); 'vllm://HOST:PORT?model=NAME' "
    "(PreferThinker on a vLLM server, see `agentpref serve`); 'openai://HOST/v1?model=NAME' "
    "(any OpenAI-compatible API); 'hf:MODEL_OR_FOLDER' (transformers, in-process); 'random' (a coin flip)."
)
GENERATOR_HELP = (
    "Generator URI: 'painter' (default, any CPU; renders style, not the subject); "
    "'diffusers:MODEL_OR_FOLDER' (SD-Turbo, SDXL-Turbo, FLUX.1-schnell or any text-to-image "
    "pipeline; options as a query, e.g. ?steps=2&profile_guidance=1)."
)


def _refs_options(command: F) -> F:
    command = click.option(
        "--dislikes",
        type=click.Path(path_type=Path),
        help="Folder of images the person dislikes (optional; or put a dislikes/ folder inside --refs).",
    )(command)
    return click.option(
        "--refs",
        type=click.Path(path_type=Path),
        help="Folder of images the person likes, or a folder holding likes/ and dislikes/.",
    )(command)


def _assessor_option(command: F) -> F:
    return click.option(
        "--assessor", "assessor_uri", default=None, envvar="AGENTPREF_ASSESSOR", help=ASSESSOR_HELP
    )(command)


def _load_refs(refs: Path | None, dislikes: Path | None) -> References:
    from agentpref.errors import InputError
    from agentpref.images import load_references

    if refs is None:
        raise InputError("--refs is required: a folder of liked images (or one with likes/ and dislikes/)")
    references = load_references(refs, dislikes)
    console = stderr_console()
    for skipped in references.skipped:
        console.print(f"[yellow]skipped[/] {skipped}", markup=True, highlight=False)
    if not references.dislikes:
        console.print("[yellow]note:[/] no disliked images: the profile says only what is liked.")
    return references


def _print_profile(profile: UserProfile) -> None:
    from rich.table import Table

    from agentpref.profile import ELEMENTS

    table = Table(title="Visual preference profile", show_lines=False)
    table.add_column("Element")
    table.add_column("Likes")
    table.add_column("Dislikes")
    for e in ELEMENTS:
        cells = []
        for side in (profile.likes, profile.dislikes):
            text = ", ".join(side.terms(e)) or "-"
            if e in side.confidence:
                text += f"  ({side.confidence[e]:.2f}{', uncertain' if side.is_uncertain(e) else ''})"
            cells.append(text)
        table.add_row(e.value, *cells)
    stderr_console().print(table)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="agentpref")
def main() -> None:
    """Personalised image generation from images a person liked and disliked.

    \b
    Start here (runs on any CPU, no model weights):
      agentpref generate --refs examples/likes --dislikes examples/dislikes \\
                         --prompt "a lighthouse at dawn" --out runs/first
    then open runs/first/report.html.

    \b
    Other commands:
      agentpref profile --refs DIR              predict the visual preference profile
      agentpref compare --refs DIR A.png B.png  which of two images suits the taste, and why
      agentpref rank --refs DIR IMAGES...       order many images by the taste
      agentpref serve [MODEL]                   run PreferThinker on vLLM (GPU)
      agentpref train run --out DIR --teacher URI   make a judge: data, CoT, SFT, GRPO
      agentpref eval DATA --assessor URI ...    measure judges on a benchmark

    Backends are chosen with --assessor / --generator or the AGENTPREF_ASSESSOR /
    AGENTPREF_GENERATOR environment variables. Exit codes: 0 ok, 2 bad input,
    3 backend failure.
    """


@main.command()
@_refs_options
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
@_assessor_option
@click.option("--generator", "generator_uri", default=None, envvar="AGENTPREF_GENERATOR", help=GENERATOR_HELP)
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
    the run folder. A killed run continues with --resume --out RUN_FOLDER, without
    generating any finished candidate again.
    """
    from agentpref.backends import DEFAULT_ASSESSOR, DEFAULT_GENERATOR, load_assessor, load_generator
    from agentpref.errors import InputError
    from agentpref.graphs.personalize import run
    from agentpref.graphs.state import Context, RunSettings

    console = stderr_console()
    settings = None
    if resume:
        if out is None:
            raise InputError("--resume needs --out: the folder of the run to continue")
        assessor_uri = generator_uri = None  # the run's own backends, as recorded
    else:
        if not prompt:
            raise InputError("--prompt is required, e.g. --prompt 'a lighthouse at dawn'")
        references = _load_refs(refs, dislikes)
        settings = RunSettings(
            subject=prompt,
            likes=[r.path for r in references.likes if r.path],
            dislikes=[r.path for r in references.dislikes if r.path],
            out=out or Path("runs") / time.strftime("run-%Y%m%d-%H%M%S"),
            assessor=assessor_uri or DEFAULT_ASSESSOR,
            generator=generator_uri or DEFAULT_GENERATOR,
            n=n,
            iterations=iterations,
            target=target,
            seed=seed,
            size=parse_size(size),
        )
        out = settings.out
    assert out is not None
    context = Context(
        assessor=load_assessor(assessor_uri) if assessor_uri else None,
        generator=load_generator(generator_uri) if generator_uri else None,
    )
    if (generator_uri or DEFAULT_GENERATOR).startswith("painter") and not resume:
        console.print(
            "[dim]note: the painter renders your taste's palette, saturation, detail and medium;"
            " it does not draw the prompt's subject. Use a diffusers generator for that.[/]"
        )
    from agentpref.cli_progress import RunProgress

    with RunProgress(console) as progress:
        record = run(settings, out=out, resume=resume, context=context, on_progress=progress)
    if as_json:
        click.echo(
            json.dumps(
                {"run_dir": str(out), "report": str(out / "report.html"), **record.model_dump(mode="json")}
            )
        )
        return
    if record.profile:
        _print_profile(record.profile)
    best = record.assessment(record.best) if record.best else None
    if best:
        console.print(
            f"best: [bold]{out / record.candidate(best.candidate_id).file}[/] "
            f"score {best.score:.1f}/{best.max_score:.0f} ({record.stop_reason})"
        )
    console.print(f"report: [bold]{out / 'report.html'}[/]")


@main.command()
@_refs_options
@_assessor_option
@click.option("--tags", is_flag=True, help="Print PreferThinker's tag text instead of a table.")
@json_option
@handle_errors
def profile(
    refs: Path | None, dislikes: Path | None, assessor_uri: str | None, tags: bool, as_json: bool
) -> None:
    """Predict the visual preference profile from liked (and disliked) images."""
    from agentpref.backends import load_assessor

    references = _load_refs(refs, dislikes)
    result = load_assessor(assessor_uri).profile(references.likes, references.dislikes)
    if as_json:
        click.echo(result.model_dump_json())
    elif tags:
        click.echo(result.to_tag_text())
    else:
        _print_profile(result)


@main.command()
@_refs_options
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@_assessor_option
@json_option
@handle_errors
def compare(
    refs: Path | None, dislikes: Path | None, a: Path, b: Path, assessor_uri: str | None, as_json: bool
) -> None:
    """Judge which of two images, A or B, suits the person's taste, element by element."""
    from agentpref.backends import load_assessor
    from agentpref.images import ImageRef

    references = _load_refs(refs, dislikes)
    image_a, image_b = ImageRef.from_path(a), ImageRef.from_path(b)
    judgment = load_assessor(assessor_uri).compare(references, image_a, image_b)
    if as_json:
        click.echo(judgment.model_dump_json())
    if judgment.failed:
        raw = (judgment.raw_text or "").strip()
        stderr_console().print(
            f"[bold red]error:[/] {judgment.error}\n[dim]the model wrote:[/] {raw[:500]!r}",
            markup=True,
            highlight=False,
        )
        sys.exit(3)
    if as_json:
        return
    from rich.table import Table

    table = Table(title=f"A = {image_a.label}   B = {image_b.label}")
    for column in ("Element", "A", "B"):
        table.add_column(column)
    for s in judgment.scores:
        a_text, b_text = f"{s.score_a:.1f}  {s.rationale_a}", f"{s.score_b:.1f}  {s.rationale_b}"
        table.add_row(s.element.value, a_text, b_text)
    table.add_row("Total", f"{judgment.total_a}", f"{judgment.total_b}")
    console = stderr_console()
    console.print(table)
    for issue in judgment.issues:
        console.print(f"[yellow]note:[/] {issue}", markup=True, highlight=False)
    click.echo(f"winner: {judgment.winner} ({a if judgment.winner == 'A' else b})")


@main.command()
@_refs_options
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@_assessor_option
@json_option
@handle_errors
def rank(
    refs: Path | None,
    dislikes: Path | None,
    images: tuple[Path, ...],
    assessor_uri: str | None,
    as_json: bool,
) -> None:
    """Order IMAGES from best to worst for the person's taste."""
    from agentpref.errors import InputError
    from agentpref.images import load_images

    references = _load_refs(refs, dislikes)
    candidates, skipped = load_images(list(images))
    for bad in skipped:
        stderr_console().print(f"[yellow]skipped[/] {bad}", markup=True, highlight=False)
    if not candidates:
        raise InputError("no usable image to rank")
    from agentpref.backends import load_assessor

    ranking = load_assessor(assessor_uri).rank(references, candidates)
    if as_json:
        click.echo(ranking.model_dump_json())
        return
    for place, c in enumerate(ranking.candidates, 1):
        click.echo(f"{place:>3}. {c.score:5.1f}/{ranking.max_score:.0f}  {c.label}")
    if ranking.judgments:
        failed = sum(j.failed for j in ranking.judgments)
        note = f"; {failed} unreadable (use --json to see the raw text)" if failed else ""
        stderr_console().print(f"[dim]{len(ranking.judgments)} pairwise comparisons{note}[/]", markup=True)


def _add_commands() -> None:
    from agentpref.cli_eval import eval_
    from agentpref.cli_serve import serve
    from agentpref.cli_train import train

    main.add_command(serve)
    main.add_command(train)
    main.add_command(eval_)


_add_commands()

if __name__ == "__main__":
    main()
