"""`agentpref`: the command group and its start-here help.

Each command lives in a module of its own; their heavy imports (backends, LangGraph,
rich) happen inside the commands, so `agentpref --help` stays fast.
"""

from __future__ import annotations

import click

from agentpref.cli.backends import backends
from agentpref.cli.eval import eval_
from agentpref.cli.generate import generate
from agentpref.cli.judge import compare, profile, rank
from agentpref.cli.serve import serve
from agentpref.cli.train import train


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
      agentpref backends                        the judges and generators installed here
      agentpref serve [MODEL]                   run PreferThinker on vLLM (GPU)
      agentpref train run --out DIR --teacher URI   make a judge: data, CoT, SFT, GRPO
      agentpref eval DATA --assessor URI ...    measure judges on a benchmark

    Results go to stdout (a table on a terminal, tab-separated lines when piped, JSON
    with --json); progress, notes and warnings go to stderr. Backends are chosen with
    --assessor / --generator or the AGENTPREF_ASSESSOR / AGENTPREF_GENERATOR environment
    variables. Exit codes: 0 ok, 2 bad input, 3 backend failure.
    """


for command in (generate, profile, compare, rank, backends, serve, train, eval_):
    main.add_command(command)

if __name__ == "__main__":
    main()
