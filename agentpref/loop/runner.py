"""Run, resume and stream any LangGraph graph with a SQLite checkpointer in a run folder.

Every step's checkpoint is written before the next step starts (durability "sync"), so a
killed process loses at most the step it was in, and `run_graph(..., inputs=None)`
continues from there. The database is not synced to disk at every step (SQLite's WAL with
synchronous=NORMAL, about 1 ms a step less): a crash of the machine may also lose the last
few steps, never the file, and those steps run again.

Progress reaches `on_event(kind, payload)`: `("node", {"node": name, "update": what it
changed})` as each step finishes, and `("progress", payload)` for what nodes write to
LangGraph's custom stream.

Checkpoints hold only the types the graph's state declares: reading a checkpoint never
rebuilds any other class. A folder holds a run once a checkpoint is saved in it; a
`checkpoints.sqlite` that cannot be read is an `InputError` naming it, never a traceback.
The caller holds the folder's lock (`agentpref.io.exclusive_folder`) for the whole run.
"""

from __future__ import annotations

import enum
import os
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
from agentpref.io import writable_folder

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


def _damaged(run_dir: Path, err: BaseException) -> InputError:
    return InputError(
        f"{run_dir / CHECKPOINTS}: cannot be read ({type(err).__name__}: {str(err)[:200]}), so the run in "
        f"{run_dir} cannot be resumed; its images, summary.json and report.html are intact. "
        "Start a new run in another folder (--out)"
    )


def has_run(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a run: a checkpoint saved in its checkpoints.sqlite.

    A start that failed before its first checkpoint leaves none, so the folder is still
    new; a damaged file is an `InputError` naming it.
    """
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINTS).is_file():
        return False
    try:
        with closing(sqlite3.connect(run_dir / CHECKPOINTS)) as conn:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            saved = "checkpoints" in tables and conn.execute("SELECT 1 FROM checkpoints LIMIT 1").fetchone()
            return bool(saved)
    except sqlite3.DatabaseError as err:
        raise _damaged(run_dir, err) from None


def check_new_run_folder(run_dir: str | Path) -> None:
    """InputError when a new run cannot start in `run_dir`: a file, a place that cannot be
    written, or a folder already holding a run. Checked before any work; nothing is created."""
    run_dir = Path(run_dir)
    existing = next(p for p in (run_dir, *run_dir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise InputError(f"{existing}: is a file, not a folder; choose a folder for the run (--out)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{existing}: cannot write there (read-only or permission denied); choose --out")
    if has_run(run_dir):
        raise InputError(
            f"{run_dir} already holds a run: resume it (--resume), or choose another folder (--out)"
        )


@contextmanager
def _compiled(builder: Graph, run_dir: Path) -> Iterator[CompiledStateGraph]:
    serde = JsonPlusSerializer(allowed_msgpack_modules=state_types(builder.state_schema))
    with closing(sqlite3.connect(run_dir / CHECKPOINTS, check_same_thread=False)) as conn:
        saver = SqliteSaver(conn, serde=serde)
        try:
            saver.setup()
            # See the module docstring: a step's nodes must bear running again after such a crash.
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as err:
            raise _damaged(run_dir, err) from None
        yield builder.compile(checkpointer=saver)


def _read(app: CompiledStateGraph, run_dir: Path) -> dict[str, Any]:
    try:
        return dict(app.get_state(THREAD).values)
    except (sqlite3.DatabaseError, ValueError, TypeError, KeyError) as err:  # a damaged checkpoint
        raise _damaged(run_dir, err) from None


def saved_state(builder: Graph, run_dir: str | Path) -> dict[str, Any]:
    """The state a run folder's last checkpoint holds; InputError when there is none."""
    run_dir = Path(run_dir)
    if not has_run(run_dir):
        where = run_dir / CHECKPOINTS
        why = f"{where} holds no finished step" if where.exists() else f"there is no {where}"
        raise InputError(
            f"nothing to resume in {run_dir}: {why} (a run that stopped before its first step ends "
            "saves none); start it again with the same command without --resume"
        )
    with _compiled(builder, run_dir) as app:
        return _read(app, run_dir)


def change_saved_state(builder: Graph, run_dir: str | Path, values: Mapping[str, Any]) -> None:
    """Write `values` into the run's last checkpoint, as if the step that wrote it had; the
    next step (and the router, if that step was routed) sees them."""
    run_dir = Path(run_dir)
    with _compiled(builder, run_dir) as app:
        _read(app, run_dir)
        app.update_state(THREAD, dict(values))


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
        check_new_run_folder(run_dir)
        state = dict(inputs)
    writable_folder(run_dir)
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
        return _read(app, run_dir)
