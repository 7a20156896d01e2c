"""`agentpref serve`: the command that starts vLLM for PreferThinker (the logic is in
`agentpref.assessors.vlm.server`)."""

from __future__ import annotations

import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

import click

# Literals, not imports: `agentpref --help` must not load the image stack (vlm.server does).
DEFAULT_MODEL = "ZhouSimple/PreferThinker_model"
DEFAULT_SERVED_NAME = "preferthinker"
DEFAULT_MAX_PIXELS = 1024 * 1024


def _stop_on_sigterm() -> None:
    """SIGTERM (from a supervisor, `kill`) ends us like Ctrl-C, so the server is stopped too."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@click.command()
@click.argument("model", default=DEFAULT_MODEL)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to accept other machines.")
@click.option(
    "--served-name", default=DEFAULT_SERVED_NAME, show_default=True, help="The model name clients use."
)
@click.option(
    "--max-pixels",
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    type=int,
    help="Pixel cap per image on the server (the client's budget is the assessor's max_pixels).",
)
@click.option("--max-model-len", default=32768, show_default=True, type=int, help="Context length in tokens.")
@click.option(
    "--python",
    "python",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Interpreter whose vLLM to run, e.g. a venv of its own (default: this one's).",
)
@click.option(
    "--vllm-arg",
    "vllm_args",
    multiple=True,
    help="Extra argument for vLLM, repeatable: --vllm-arg=--tensor-parallel-size=2",
)
@click.option(
    "--timeout",
    default=1800.0,
    show_default=True,
    help="Seconds to wait for readiness (a first start downloads).",
)
@click.option("--dry-run", is_flag=True, help="Print the vLLM command and the assessor URI, start nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the URI as JSON once the server is ready.")
def serve(
    model: str,
    port: int,
    host: str,
    served_name: str,
    max_pixels: int,
    max_model_len: int,
    python: Path | None,
    vllm_args: tuple[str, ...],
    timeout: float,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Serve PreferThinker (or MODEL) with vLLM and print the assessor URI to use.

    \b
    Runs vLLM's OpenAI-compatible server with what agentpref's requests need: 12 images
    per prompt (5 liked + 5 disliked + 2 candidates), a pixel cap, prefix caching. Waits
    until the model answers, prints the URI, and keeps serving until Ctrl-C.

    \b
      agentpref serve                          # ZhouSimple/PreferThinker_model, port 8000
      agentpref serve ./my-judge --port 8001 --vllm-arg=--tensor-parallel-size=2
    then, in another shell:
      agentpref generate --refs DIR --prompt "a fox" --assessor "vllm://127.0.0.1:8000?model=preferthinker"
    """
    from agentpref.assessors.vlm.server import (
        INSTALL_HINT,
        assessor_uri,
        serve_args,
        start_server,
        vllm_launcher,
    )

    args = serve_args(
        model,
        port=port,
        host=host,
        served_name=served_name,
        max_pixels=max_pixels,
        max_model_len=max_model_len,
        extra=vllm_args,
    )
    uri = assessor_uri(host, port, served_name)
    launcher = vllm_launcher(python)
    shown = shlex.join([*(launcher or ["python", "-m", "vllm.entrypoints.openai.api_server"]), *args])
    if dry_run or launcher is None:
        click.echo(json.dumps({"command": shown, "assessor": uri}) if as_json else shown)
        if launcher is None:
            click.echo(INSTALL_HINT, err=True)
            sys.exit(3)
        click.echo(f"assessor URI: {uri}", err=True)
        return
    click.echo(f"starting: {shown}", err=True)
    _stop_on_sigterm()
    server = start_server(launcher, args, host=host, port=port, served_name=served_name)
    try:
        waited = server.wait_ready(timeout)
        if as_json:
            click.echo(json.dumps({"assessor": uri, "base_url": f"{server.base_url}/v1", "ready_s": waited}))
        else:
            click.echo(f"ready after {waited:.0f} s; use --assessor '{uri}'")
        sys.stdout.flush()
        code = server.process.wait()
        click.echo(f"vLLM exited with code {code}", err=True)
        sys.exit(3 if code else 0)
    except KeyboardInterrupt:
        click.echo("stopping vLLM", err=True)
    finally:
        server.stop()
