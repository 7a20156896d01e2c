"""`agentpref generate`: the personalisation loop from the shell (it calls `agentpref.personalize`)."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import click
from click.core import ParameterSource

from agentpref.cli.common import (
    backend_option,
    echo,
    handle_errors,
    json_option,
    load_refs,
    parse_size,
    print_json,
    refs_options,
    say,
    stderr_console,
    stdout_is_terminal,
)

T = TypeVar("T")
MAX_SEED = 2**63 - 1  # agentpref.loop.state.MAX_SEED, a literal: `agentpref --help` loads no loop code


@click.command()
@refs_options
@click.option(
    "--prompt",
    multiple=True,
    help="What to depict, e.g. 'a lighthouse at dawn'. Without it, the subject the liked images' "
    "prompts share, else a neutral scene (the run says which).",
)
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
    type=click.IntRange(0, MAX_SEED),
    help="Base seed; every candidate's seed is in the report.",
)
@click.option("--size", default="512x512", show_default=True, help="Image size WIDTHxHEIGHT.")
@click.option(
    "--png-compression",
    default=1,
    show_default=True,
    type=click.IntRange(0, 9),
    help="zlib level of the candidates' PNG files: 0 stores them (fastest, ~0.8 MB per 512 px image), "
    "1 is fast, 9 smallest (slowest).",
)
@click.option(
    "--exploit/--no-exploit",
    default=True,
    show_default=True,
    help="Term search: each later candidate is the best so far, on its seed, with one weak element "
    "changed (a neighbouring word in the direction it missed, another medium or style, more stress).",
)
@click.option(
    "--rewriter",
    "rewriter_uri",
    metavar="URI",
    help="A language model that rewrites the prompts each round from the judge's reasons, through any "
    "OpenAI-compatible server: openai://HOST[:PORT]/v1?model=NAME or vllm://HOST:PORT?model=NAME. If it "
    "fails, the round uses the judge's feedback and says so.",
)
@click.option(
    "--img2img-strength",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    help="Term search's candidates start from the images they change, this far toward the new prompt "
    "(diffusers generators; e.g. 0.5).",
)
@click.option(
    "--image-prompts",
    "image_prompt_scale",
    type=click.FloatRange(0, 2),
    metavar="SCALE",
    help="Show the liked references to the generator as IP-Adapter image prompts at this scale "
    "(a diffusers generator with ip_adapter=...; e.g. 0.5).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the killed or unfinished run in --out, with its own settings and backends. Options "
    "given with it must equal the run's (a backend saved without its key must be given again).",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --resume: take the -n, --iterations, --target and --png-compression given for the rounds "
    "still to come "
    "(the prompt, references, seed, size and backends of a run never change).",
)
@json_option
@handle_errors
def generate(
    refs: Path | None,
    dislikes: Path | None,
    prompt: tuple[str, ...],
    n: int,
    iterations: int,
    target: float,
    assessor_uri: str | None,
    generator_uri: str | None,
    out: Path | None,
    seed: int,
    size: str,
    png_compression: int,
    exploit: bool,
    rewriter_uri: str | None,
    img2img_strength: float | None,
    image_prompt_scale: float | None,
    resume: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Predict the profile, then generate -> assess -> refine until the taste is met.

    Writes the images, profile.json, judgments.jsonl, summary.json and report.html to
    the run folder; prints the best image and the report's path (--json: the whole
    record). A killed run continues with --resume --out RUN_FOLDER, without generating
    any finished candidate again. Exit codes: 2 bad input (including a run folder in use
    by another process), 3 a backend failed (including a round no comparison of which
    could be read: no best is named).
    """
    from agentpref.cli.progress import RunProgress
    from agentpref.errors import InputError

    console = stderr_console()
    if len(prompt) > 1:  # click keeps the last of a repeated option; say so instead of dropping one
        raise InputError(
            f"--prompt was given {len(prompt)} times: a run has one subject (run once per subject)"
        )
    subject = prompt[0] if prompt else None
    if subject is not None and not subject.strip():
        raise InputError(
            "--prompt is empty: name a subject, or leave --prompt out to let the references choose"
        )
    if resume:
        from agentpref.personalization import resume as resume_run

        if out is None:
            raise InputError("--resume needs --out: the folder of the run to continue")
        # Only what the person typed is compared with the run's settings: defaults and the
        # environment's backends are not a request to change anything.
        ctx = click.get_current_context()

        def typed(name: str, value: T) -> T | None:
            return value if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE else None

        refine_given = [
            flag
            for flag, name, value in (
                ("--exploit/--no-exploit", "exploit", exploit),
                ("--rewriter", "rewriter_uri", rewriter_uri),
                ("--img2img-strength", "img2img_strength", img2img_strength),
                ("--image-prompts", "image_prompt_scale", image_prompt_scale),
            )
            if typed(name, value) is not None
        ]
        if refine_given:
            raise InputError(
                f"{', '.join(refine_given)} with --resume: a run keeps the refine strategies it started with"
            )
        if typed("dislikes", dislikes) and not typed("refs", refs):
            raise InputError(
                "--dislikes with --resume needs --refs too: the run's references are compared whole"
            )
        with RunProgress(console) as progress:
            result = resume_run(
                out,
                assessor=typed("assessor_uri", assessor_uri),
                generator=typed("generator_uri", generator_uri),
                prompt=typed("prompt", subject),
                refs=typed("refs", refs),
                dislikes=typed("dislikes", dislikes),
                n=typed("n", n),
                iterations=typed("iterations", iterations),
                target=typed("target", target),
                seed=typed("seed", seed),
                size=parse_size(size) if typed("size", size) else None,
                png_compression=typed("png_compression", png_compression),
                force=force,
                on_progress=progress,
            )
    else:
        from agentpref.backends import resolve_uri, shared_assessor, shared_generator
        from agentpref.loop.runner import check_new_run_folder
        from agentpref.personalization import personalize

        if force:
            raise InputError("--force goes with --resume")
        # Everything that can be wrong is said before the references are read (which can take
        # minutes): the size, the folder, the backends and their extras.
        image_size = parse_size(size)
        if out is not None:
            check_new_run_folder(out)
        shared_assessor(resolve_uri("assessor", assessor_uri))
        shared_generator(resolve_uri("generator", generator_uri))
        references = load_refs(refs, dislikes)
        if resolve_uri("generator", generator_uri).startswith("painter"):
            say(
                "the painter renders your taste's palette, saturation, detail and medium;"
                " it does not draw the prompt's subject. Use a diffusers generator for that.",
                label="note:",
                style="dim",
            )
        from agentpref.runs.record import RefineSettings

        refine = RefineSettings(
            exploit=exploit,
            rewriter=rewriter_uri,
            img2img_strength=img2img_strength,
            image_prompt_scale=image_prompt_scale,
        )
        if rewriter_uri:
            from agentpref.backends import shared_rewriter

            shared_rewriter(rewriter_uri)  # a malformed URI is said now, not after the first round
        with RunProgress(console) as progress:
            result = personalize(
                references,
                subject,
                n=n,
                iterations=iterations,
                target=target,
                assessor=assessor_uri,
                generator=generator_uri,
                out=out,
                seed=seed,
                size=image_size,
                png_compression=png_compression,
                refine=refine,
                on_progress=progress,
            )
    record = result.record
    if as_json:
        payload = {"run_dir": str(result.run_dir), "report": str(result.report_path)}
        print_json({**payload, **record.model_dump(mode="json")})
        return
    if record.profile and stdout_is_terminal():
        from agentpref.cli.judge import print_profile

        print_profile(record.profile)
    if record.best:
        best = result.best
        assessment = record.assessment(best.id)
        assert assessment is not None
        score = f"{assessment.score:.1f}/{assessment.max_score:.0f}"
        echo(f"best: {best.path} (score {score}; {record.stop_reason})")
    echo(f"report: {result.report_path}")
    for warning in record.warnings:
        say(warning, label="warning:", console=console)
