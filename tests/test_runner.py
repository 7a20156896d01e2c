"""The runner runs, resumes and streams any graph: a tiny one here, killed with SIGKILL mid-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agentpref.errors import InputError
from agentpref.loop.runner import has_run, run_graph, saved_state

TINY = '''
    """A three-step graph whose steps leave a trace on disk; step two kills its process once."""
    import operator
    import os
    import signal
    import sys
    from pathlib import Path
    from typing import Annotated, TypedDict

    from langgraph.graph import END, START, StateGraph


    class Steps(TypedDict, total=False):
        trace: str
        done: Annotated[list[str], operator.add]


    def _step(name):
        def step(state):
            trace = Path(state["trace"])
            with trace.open("a") as f:
                f.write(name + "\\n")
            if name == "two" and trace.read_text().count("two") == 1 and os.environ.get("KILL_IN_TWO"):
                os.kill(os.getpid(), signal.SIGKILL)
            return {"done": [name]}

        return step


    def build():
        graph = StateGraph(Steps)
        for name in ("one", "two", "three"):
            graph.add_node(name, _step(name))
        graph.add_edge(START, "one")
        graph.add_edge("one", "two")
        graph.add_edge("two", "three")
        graph.add_edge("three", END)
        return graph


    if __name__ == "__main__":
        from agentpref.loop.runner import run_graph

        run_dir = Path(sys.argv[1])
        inputs = {"trace": str(run_dir.parent / "trace.txt")}
        run_graph(build(), run_dir, inputs, recursion_limit=lambda s: 10)
'''


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "tiny_graph.py").write_text(textwrap.dedent(TINY))
    monkeypatch.syspath_prepend(str(tmp_path))
    import tiny_graph

    yield tiny_graph
    sys.modules.pop("tiny_graph", None)


def test_a_killed_graph_resumes_from_its_last_finished_step(tiny, tmp_path: Path) -> None:
    run = tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, str(tmp_path / "tiny_graph.py"), str(run)],
        env={**os.environ, "KILL_IN_TWO": "1"},
        capture_output=True,
    )
    assert killed.returncode == -9 and has_run(run)
    assert saved_state(tiny.build(), run)["done"] == ["one"]  # step one's checkpoint survived the kill

    events: list[tuple[str, dict]] = []
    final = run_graph(
        tiny.build(), run, None, recursion_limit=lambda s: 10, on_event=lambda *e: events.append(e)
    )
    assert final["done"] == ["one", "two", "three"]
    # Step one never ran again; step two, killed midway, ran again from its start.
    assert (tmp_path / "trace.txt").read_text().split() == ["one", "two", "two", "three"]
    assert [(kind, p["node"], p["update"]) for kind, p in events] == [
        ("node", "two", {"done": ["two"]}),
        ("node", "three", {"done": ["three"]}),
    ]


def test_a_folder_holding_a_run_is_never_overwritten_and_an_empty_one_has_nothing_to_resume(tiny, tmp_path):
    inputs = {"trace": str(tmp_path / "trace.txt")}
    run_graph(tiny.build(), tmp_path / "run", inputs, recursion_limit=lambda s: 10)
    with pytest.raises(InputError, match="already holds a run"):
        run_graph(tiny.build(), tmp_path / "run", inputs, recursion_limit=lambda s: 10)
    with pytest.raises(InputError, match="nothing to resume"):
        run_graph(tiny.build(), tmp_path / "elsewhere", None, recursion_limit=lambda s: 10)


def test_the_step_bound_comes_from_the_graph(tiny, tmp_path):
    from langgraph.errors import GraphRecursionError

    inputs = {"trace": str(tmp_path / "trace.txt")}
    with pytest.raises(GraphRecursionError):
        run_graph(tiny.build(), tmp_path / "run", inputs, recursion_limit=lambda state: 2)  # 3 steps


def test_checkpoints_rebuild_only_the_state_types_the_graph_declares(tmp_path):
    """The personalisation state's models come back as models; its allow-list names exactly them."""
    from agentpref.loop.graph import build_graph
    from agentpref.loop.runner import state_types

    allowed = state_types(build_graph().state_schema)
    assert ("agentpref.runs.record", "Candidate") in allowed and (
        "agentpref.profile",
        "UserProfile",
    ) in allowed
    assert all(module.startswith("agentpref.") for module, _ in allowed)
    assert json.loads(json.dumps(allowed)) == [list(t) for t in allowed]  # sorted, plain names
