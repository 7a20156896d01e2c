"""The personalisation graph as a server runs it for callers it does not trust.

`langgraph dev` (and any LangGraph server) lets a caller send the whole input state, and
later patch any channel with `update_state`. A served run must still read only images
under the server's image folder, write only its own run folder, and use only the
backends the server was configured with. So every node of the served graph is wrapped
by a guard that, before each step, rebuilds from the server's configuration what the
caller must not choose:

- `run_dir` is ``<runs>/<thread id>``, whatever the state says;
- `likes`, `dislikes` and every reference path must resolve (after symbolic links)
  inside ``<images>``; a candidate's file must resolve inside its run folder;
- `assessor` and `generator` are names the configuration maps to URIs (a URI from the
  caller is refused, so no caller chooses where requests go or which key is sent);
- the run's size (`n`, `max_iterations`, `size`, the subject's length) has the limits
  the configuration sets;
- the runtime context the caller sent is replaced by the server's own backends.

The configuration is a JSON file named by ``$AGENTPREF_SERVE_CONFIG`` (a `ServerConfig`),
else folders under ``$AGENTPREF_SERVE_ROOT`` (default ``./served``): ``images/`` and
``runs/``, with the embedded backends only.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpref.errors import InputError
from agentpref.images.png import DEFAULT_LEVEL
from agentpref.io import describe_validation
from agentpref.loop.state import MAX_SEED, Context
from agentpref.paths import RefusedPathError, inside_root
from agentpref.runs.record import RefineSettings

if TYPE_CHECKING:
    from langgraph.graph import StateGraph

_THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SETTINGS = (
    "subject", "assessor", "generator", "n", "max_iterations", "target", "seed", "size", "png_compression",
    "refine",
)  # fmt: skip


class ServerConfig(BaseModel):
    """What a server lets its callers do; written by the person who starts the server."""

    model_config = ConfigDict(extra="forbid")

    images: Path = Field(description="callers name reference images inside this folder")
    runs: Path = Field(description="each thread's run folder is made inside this folder")
    assessors: dict[str, str] = Field(
        default_factory=lambda: {"features": "features"}, description="name a caller may use -> backend URI"
    )
    generators: dict[str, str] = Field(
        default_factory=lambda: {"painter": "painter"}, description="name a caller may use -> backend URI"
    )
    max_references: int = Field(64, ge=1)
    max_n: int = Field(8, ge=1)
    max_iterations: int = Field(8, ge=1)
    max_side: int = Field(1024, ge=16)
    max_subject_chars: int = Field(500, ge=1)

    @classmethod
    def from_environment(cls) -> ServerConfig:
        """`$AGENTPREF_SERVE_CONFIG` (a JSON file), else the folders under `$AGENTPREF_SERVE_ROOT`."""
        if file := os.environ.get("AGENTPREF_SERVE_CONFIG"):
            path = Path(file)
            try:
                return cls.model_validate_json(path.read_bytes())
            except OSError as err:
                raise InputError(
                    f"{path}: cannot read the server configuration ({err.strerror or err})"
                ) from None
            except ValidationError as err:
                field, reason = describe_validation(err)
                raise InputError(f"{path}: field {field!r}: {reason}") from None
        root = Path(os.environ.get("AGENTPREF_SERVE_ROOT") or "served")
        return cls(images=root / "images", runs=root / "runs")


def _offered(kind: str, table: Mapping[str, str], name: Any) -> str:
    if isinstance(name, str) and name in table:
        return name
    offered = ", ".join(sorted(table))
    raise InputError(f"{kind} {str(name)[:80]!r} is not offered by this server; choose one of: {offered}")


def confine(state: Mapping[str, Any], thread_id: str, config: ServerConfig) -> dict[str, Any]:
    """`state` with everything a caller must not choose rebuilt from `config` (InputError naming
    the field when the caller asked for something the server does not allow)."""
    if not _THREAD_ID.fullmatch(thread_id):
        raise InputError(f"thread id {thread_id[:80]!r}: expected 1-64 letters, digits, '-' or '_'")
    images = config.images
    likes, dislikes = list(state.get("likes") or []), list(state.get("dislikes") or [])
    if not likes:
        raise InputError("likes: give at least one liked image (a path inside the server's image folder)")
    if len(likes) + len(dislikes) > config.max_references:
        raise InputError(f"likes + dislikes: at most {config.max_references} images per run")
    subject = state.get("subject")
    if not isinstance(subject, str) or not 0 < len(subject) <= config.max_subject_chars:
        raise InputError(f"subject: expected text of 1 to {config.max_subject_chars} characters")
    # Defaults as the CLI's; a caller may lower them, never raise them past the limits.
    numbers = {
        "n": (4, 1, config.max_n),
        "max_iterations": (3, 1, config.max_iterations),
        "seed": (0, 0, MAX_SEED),
        "png_compression": (DEFAULT_LEVEL, 0, 9),
    }
    chosen: dict[str, Any] = {}
    for field, (default, least, most) in numbers.items():
        value = state.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= most:
            raise InputError(
                f"{field}: expected a whole number from {least} to {most}, got {str(value)[:40]!r}"
            )
        chosen[field] = value
    target = state.get("target", 4.5)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target <= 5:
        raise InputError(f"target: expected a number from 0 to 5, got {str(target)[:40]!r}")
    size = state.get("size", (512, 512))
    if not (
        isinstance(size, (list, tuple))
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= config.max_side for v in size)
    ):
        raise InputError(f"size: expected [width, height], each a whole number from 16 to {config.max_side}")

    try:
        refine = RefineSettings.model_validate(state.get("refine") or {})
    except ValidationError as err:
        field, reason = describe_validation(err)
        raise InputError(f"refine{'.' + field if field else ''}: {reason}") from None
    if refine.rewriter is not None:
        # A URI from a caller would make the server connect wherever the caller says.
        raise InputError("refine.rewriter: this server offers no prompt rewriter")

    run_dir = config.runs / thread_id

    def image(value: Any, where: str) -> str:
        try:
            return str(inside_root(images / str(value), images, where=where))
        except RefusedPathError:
            # Said without the server's own paths or the --allow-outside-root hint: neither is the caller's.
            raise InputError(
                f"{where}: {str(value)[:200]!r} is not inside the server's image folder"
            ) from None

    confined = dict(state)
    confined.update(
        chosen,
        target=float(target),
        size=(size[0], size[1]),
        refine=refine,
        run_dir=str(run_dir.resolve()),
        likes=[image(p, f"likes[{i}]") for i, p in enumerate(likes)],
        dislikes=[image(p, f"dislikes[{i}]") for i, p in enumerate(dislikes)],
        # Names, not URIs, stay in the state (and so in summary.json): the URIs are the server's.
        assessor=_offered("assessor", config.assessors, state.get("assessor", "features")),
        generator=_offered("generator", config.generators, state.get("generator", "painter")),
    )
    # Paths the nodes wrote into the state are checked too: `update_state` can rewrite them.
    for i, ref in enumerate(state.get("references") or []):
        if (path := _field(ref, "path")) is not None:
            image(path, f"references[{i}].path")
    for i, candidate in enumerate(state.get("candidates") or []):
        try:
            inside_root(run_dir / str(_field(candidate, "file")), run_dir, where=f"candidates[{i}].file")
        except RefusedPathError:
            raise InputError(f"candidates[{i}].file: not inside this thread's run folder") from None
    return confined


def _field(item: Any, name: str) -> Any:
    """A field of a state item: a model in memory, a plain dict after some serialisers."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def build_served_graph(config: ServerConfig | None = None) -> StateGraph[Any, Any, Any, Any]:
    """The personalisation graph with every node guarded by `confine` (uncompiled)."""
    from langgraph.config import get_config
    from langgraph.runtime import Runtime

    from agentpref.backends import shared_assessor, shared_generator
    from agentpref.images.store import ImageStore
    from agentpref.loop.graph import build_graph

    settings = config or ServerConfig.from_environment()
    images = ImageStore()  # one per server: each image is decoded once, whichever thread uses it

    def guard(node: Callable[..., Any]) -> Callable[..., Any]:
        takes_runtime = "runtime" in inspect.signature(node).parameters

        def run(state: Mapping[str, Any], runtime: Runtime[Context]) -> Any:
            thread_id = str(get_config().get("configurable", {}).get("thread_id", ""))
            safe = confine(state, thread_id, settings)
            if takes_runtime:
                context = Context(
                    assessor=shared_assessor(settings.assessors[safe["assessor"]]),
                    generator=shared_generator(settings.generators[safe["generator"]]),
                    images=images,
                )
                update = node(safe, runtime.override(context=context))
            else:
                update = node(safe)
            # The run's settings as validated (defaults filled in), so the router and the record see them.
            return {**{k: safe[k] for k in _SETTINGS}, **update}

        run.__name__ = node.__name__
        return run

    return build_graph(guard)
