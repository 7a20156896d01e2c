"""Progress of a personalisation run on the terminal (stderr), for `agentpref generate`.

What the nodes send is shown as text, never as console markup, and made `terminal_safe`
(a plug-in's candidate ids or stage payloads are not ours to trust).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentpref.cli.common import say, terminal_safe

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
            TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RunProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def __call__(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "subject":  # no --prompt: say what the run depicts, and why
            say(payload["text"], label="note:", console=self.bars.console)
        elif kind == "node" and payload["node"] in _STEPS:
            say(_STEPS[payload["node"]], label="✓", style="green", console=self.bars.console)
            if payload["node"] == "refine":  # what shapes the next round, one line each
                for it in payload["update"].get("iterations", []):
                    for strategy in it.strategies:
                        say(strategy, label="  ·", style="dim", console=self.bars.console)
        elif kind == "progress" and payload.get("stage") == "generate":
            iteration = terminal_safe(str(payload["candidate"]).split("-")[0])
            if iteration not in self.tasks:
                self.tasks[iteration] = self.bars.add_task(f"generating {iteration}", total=payload["total"])
            self.bars.update(self.tasks[iteration], completed=payload["done"])
        elif kind == "progress" and payload.get("stage") == "denoise":
            if "denoise" not in self.tasks:
                self.tasks["denoise"] = self.bars.add_task("denoising", total=payload["steps"])
            label = f"denoising {terminal_safe(str(payload['candidate']))}"
            self.bars.update(
                self.tasks["denoise"], completed=payload["step"], total=payload["steps"], description=label
            )
        elif kind == "progress" and payload.get("stage") == "assess":
            best = f"best {payload['best']} score {payload['score']:.1f}"
            say(
                f"iteration {payload['iteration']} assessed: {best}",
                label="✓",
                style="green",
                console=self.bars.console,
            )


MANY_REFERENCES = 50
"""Above this many references, loading them shows a bar (decoding 2,000 takes minutes)."""


class ReferenceProgress:
    """A bar on stderr while references load, as `load_references(on_progress=...)` reports
    them; shown only for many references on a terminal, and gone once they are loaded."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.shown = console.is_terminal
        self.bars = Progress(
            TextColumn("loading references"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )  # fmt: skip
        self.task: Any = None

    def __enter__(self) -> ReferenceProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            self.bars.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.task is None:
            if not (self.shown and total > MANY_REFERENCES):
                return
            self.task = self.bars.add_task("references", total=total)
            self.bars.start()
        self.bars.update(self.task, completed=done, total=total)
