"""Run, resume and stream any LangGraph graph with a SQLite checkpointer in a run folder.

Every step's checkpoint is on disk before the next step starts (durability "sync"), so a
killed process loses at most the step it was in, and `run_graph(..., inputs=None)`
continues from there. Progress reaches `on_event(kind, payload)`: `("node", {"node":
name, "update": what it changed})` as each step finishes, and `("progress", payload)` for
what nodes write to LangGraph's custom stream.

Checkpoints hold only the types the graph's state declares: reading a checkpoint never
rebuilds any other class.
"""

from __future__ import annotations

import enum
import sqlite3
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from agentpref.errors import InputError

EventCallback = Callable[[str, dict[str, Any]], None]
Graph = StateGraph[Any, Any, Any, Any]
CHECKPOINTS = "checkpoints.sqlite"
THREAD: RunnableConfig = {"configurable": {"thread_id": "run"}}


def state_types(schema: Any) -> list[tuple[str, str]]:
    """(module, class) of every pydantic model and enum reachable from a state schema, sorted.

    >>> from agentpref.runs.record import RunRecord
    >>> ("agentpref.profile", "Element") in state_types(RunRecord)
    True
    """
    found: set[type] = set()

    def visit(hint: Any) -> None:
        if isinstance(hint, type) and issubclass(hint, (BaseModel, enum.Enum)):
            if hint in found:
                return
            found.add(hint)
            if issubclass(hint, BaseModel):
                for f in hint.model_fields.values():
                    visit(f.annotation)
            return
        for arg in typing.get_args(hint):
            visit(arg)
        if typing.is_typeddict(hint):
            for arg in typing.get_type_hints(hint).values():
                visit(arg)

    visit(schema)
    return sorted((t.__module__, t.__qualname__) for t in found)


def has_run(run_dir: str | Path) -> bool:
    return (Path(run_dir) / CHECKPOINTS).exists()


@contextmanager
def _compiled(builder: Graph, run_dir: Path) -> Iterator[CompiledStateGraph]:
    serde = JsonPlusSerializer(allowed_msgpack_modules=state_types(builder.state_schema))
    with closing(sqlite3.connect(run_dir / CHECKPOINTS, check_same_thread=False)) as conn:
        yield builder.compile(checkpointer=SqliteSaver(conn, serde=serde))


def saved_state(builder: Graph, run_dir: str | Path) -> dict[str, Any]:
    """The state a run folder's last checkpoint holds; InputError when there is none."""
    run_dir = Path(run_dir)
    if not has_run(run_dir):
        raise InputError(f"nothing to resume in {run_dir}: no {CHECKPOINTS} there")
    with _compiled(builder, run_dir) as app:
        values = dict(app.get_state(THREAD).values)
    if not values:
        raise InputError(f"the run in {run_dir} never started; start it again")
    return values


def run_graph(
    builder: Graph,
    run_dir: str | Path,
    inputs: Mapping[str, Any] | None,
    *,
    recursion_limit: Callable[[Mapping[str, Any]], int],
    context: Any = None,
    on_event: EventCallback | None = None,
) -> dict[str, Any]:
    """Run `builder`'s graph from `inputs` in `run_dir`, or continue it (`inputs=None`); return its state.

    A new run never overwrites a folder that holds one. `recursion_limit(state)` is the
    graph's own bound on its steps, read from the inputs (or the saved state).
    """
    run_dir = Path(run_dir)
    if inputs is None:
        state = saved_state(builder, run_dir)
    else:
        if has_run(run_dir):
            raise InputError(
                f"{run_dir} already holds a run: resume it (--resume), or choose another folder (--out)"
            )
        state = dict(inputs)
    run_dir.mkdir(parents=True, exist_ok=True)
    with _compiled(builder, run_dir) as app:
        config: RunnableConfig = {**THREAD, "recursion_limit": recursion_limit(state)}
        for mode, chunk in app.stream(
            None if inputs is None else dict(inputs),
            config,
            context=context,
            stream_mode=["updates", "custom"],
            durability="sync",
        ):
            if on_event is None:
                continue
            if mode == "custom":
                on_event("progress", cast(dict[str, Any], chunk))
            else:
                for node, update in cast(dict[str, Any], chunk).items():
                    on_event("node", {"node": node, "update": update})
        return dict(app.get_state(THREAD).values)
