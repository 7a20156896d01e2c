"""The personalisation loop as a LangGraph graph:

    predict_profile -> compose_prompt -> generate -> assess -> refine -> generate ...
                                                          \\-> finish

`build_graph()` returns the uncompiled graph: `graphs/personalize.py` compiles it for
`langgraph dev`, and `agentpref.loop.runner` compiles it with a SQLite checkpointer in
the run folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langgraph.graph import END, START, StateGraph

from agentpref.loop import nodes
from agentpref.loop.state import Context, PersonalizeState

Node = Callable[..., Any]


def build_graph(
    wrap: Callable[[Node], Node] | None = None,
) -> StateGraph[PersonalizeState, Context, PersonalizeState, PersonalizeState]:
    """The loop's graph; `wrap` (if given) wraps every node, e.g. the served graph's guard."""
    builder = StateGraph(PersonalizeState, context_schema=Context)
    for node in (
        nodes.predict_profile,
        nodes.compose_prompt,
        nodes.generate,
        nodes.assess,
        nodes.refine,
        nodes.finish,
    ):
        builder.add_node(node.__name__, wrap(node) if wrap else node)
    builder.add_edge(START, "predict_profile")
    builder.add_edge("predict_profile", "compose_prompt")
    builder.add_edge("compose_prompt", "generate")
    builder.add_edge("generate", "assess")
    builder.add_conditional_edges("assess", nodes.route_after_assess, ["refine", "finish"])
    builder.add_edge("refine", "generate")
    builder.add_edge("finish", END)
    return builder


def recursion_limit(state: Mapping[str, Any]) -> int:
    """Steps the loop may take: 2 before the loop, 3 per round, 1 to finish, and room to spare.

    The loop stops itself after `max_iterations` rounds; this bound only keeps a broken
    router from running forever.
    """
    return 3 * int(state["max_iterations"]) + 10
