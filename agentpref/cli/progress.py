"""Progress of a personalisation run on the terminal (stderr), for `agentpref generate`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_STEPS = {
    "predict_profile": "profile predicted",
    "compose_prompt": "prompt composed",
    "refine": "prompt refined",
    "finish": "finished",
}


class RunProgress:
    """Progress of a run on stderr: a bar per iteration's generation, a line per finished step."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console
        self.bars = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RunProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "node" and payload["node"] in _STEPS:
            self.bars.console.print(f"[green]✓[/] {_STEPS[payload['node']]}")
        elif kind == "progress" and payload.get("stage") == "generate":
            iteration = payload["candidate"].split("-")[0]
            if iteration not in self.tasks:
                self.tasks[iteration] = self.bars.add_task(f"generating {iteration}", total=payload["total"])
            self.bars.update(self.tasks[iteration], completed=payload["done"])
        elif kind == "progress" and payload.get("stage") == "denoise":
            if "denoise" not in self.tasks:
                self.tasks["denoise"] = self.bars.add_task("denoising", total=payload["steps"])
            label = f"denoising {payload['candidate']}"
            self.bars.update(
                self.tasks["denoise"], completed=payload["step"], total=payload["steps"], description=label
            )
        elif kind == "progress" and payload.get("stage") == "assess":
            self.bars.console.print(
                f"[green]✓[/] iteration {payload['iteration']} assessed: best {payload['best']} "
                f"score {payload['score']:.1f}",
                highlight=False,
            )
