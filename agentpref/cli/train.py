"""`agentpref train`: make a judge (dataset, teacher CoT, filter, export, SFT, GRPO)."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from agentpref.cli.common import handle_errors, parse_size, say


@click.group()
def train() -> None:
    """Build PreferThinker-style training data and train a judge with SFT then GRPO.

    \b
    The whole pipeline, on a GPU cluster (teacher: any OpenAI-compatible VLM):
      agentpref train run --out runs/judge --users 2000 \\
          --teacher 'openai://api.openai.com/v1?model=gpt-4o' \\
          --generator diffusers:black-forest-labs/FLUX.1-schnell
    One stage alone: --stages dataset (or annotate, export, sft, grpo; repeatable).
    Each stage picks up what an interrupted run left.
    """


@train.command("run")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Folder for data, checkpoints, report."
)
@click.option("--teacher", required=True, help="Assessor URI of the teacher that writes the reasoning.")
@click.option("--users", default=16, show_default=True, help="Simulated users.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--generator", default="painter", show_default=True, help="Generator URI that renders the images."
)
@click.option("--size", default="256x256", show_default=True, help="Image size WIDTHxHEIGHT.")
@click.option("--refs", "refs_per_side", default=5, show_default=True, help="References per side per user.")
@click.option("--pairs", "pairs_per_user", default=2, show_default=True, help="Candidate pairs per user.")
@click.option(
    "--model", default="Qwen/Qwen2.5-VL-7B-Instruct", show_default=True, help="The student to train."
)
@click.option("--sft-recipe", default="sft_7b", show_default=True, help="Bundled recipe name or YAML file.")
@click.option("--grpo-recipe", default="grpo_7b", show_default=True, help="Bundled recipe name or YAML file.")
@click.option("--max-steps", type=int, help="Cap SFT and GRPO steps (smoke runs).")
@click.option("--min-agreement", default=0.5, show_default=True, help="Profile agreement a CoT needs.")
@click.option(
    "--template-targets", is_flag=True, help="Also SFT on ground-truth targets where no CoT passed."
)
@click.option("--dreamsim-cache-dir", type=click.Path(path_type=Path), help="DreamSim checkpoints (offline).")
@click.option("--stages", multiple=True, help="Run only these stages (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@handle_errors
def run(out: Path, size: str, stages: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Run the pipeline: users -> images -> teacher CoT -> filter -> export -> SFT -> GRPO."""
    from agentpref.io import writable_folder
    from agentpref.train.pipeline import STAGES, PipelineSettings, run_pipeline

    settings = PipelineSettings(out=out, size=parse_size(size), stages=stages or STAGES, **options)
    writable_folder(out)  # a file or read-only --out fails here, not after the first paid stage
    # Trainers print their logs to stdout; stdout is for the report alone (scripts parse it).
    with contextlib.redirect_stdout(sys.stderr):
        report = run_pipeline(settings, log=say)
    click.echo(report.model_dump_json(indent=None if as_json else 2))


@train.command("import")
@click.argument("jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--images", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="The folder their image paths are relative to.")  # fmt: skip
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Folder for sft.jsonl and grpo.jsonl."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@handle_errors
def import_(jsonl: Path, images: Path, out: Path, as_json: bool) -> None:
    """Turn PreferThinker's released JSONL into TRL-ready SFT and GRPO files."""
    from agentpref.io import writable_folder
    from agentpref.preferthinker.jsonl import read_preferthinker
    from agentpref.train.export import export_grpo, export_sft

    writable_folder(out)
    samples = read_preferthinker(jsonl)
    sft = export_sft(samples, out / "sft.jsonl", image_root=images)
    grpo = export_grpo(samples, out / "grpo.jsonl", image_root=images)
    counts = {"samples": len(samples), "sft_rows": sft.rows, "grpo_rows": grpo.rows, "out": str(out)}
    click.echo(json.dumps(counts) if as_json else f"{len(samples)} samples -> {sft.path}, {grpo.path}")


@train.command("export-preferthinker")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("jsonl", type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def export_preferthinker(dataset: Path, jsonl: Path) -> None:
    """Write a dataset built here (with its CoT) in PreferThinker's JSONL layout."""
    from agentpref.preferthinker.jsonl import write_preferthinker
    from agentpref.samples import load_samples

    samples = load_samples(dataset)
    write_preferthinker(samples, jsonl)
    click.echo(f"{len(samples)} records -> {jsonl} (image paths relative to {dataset})")
