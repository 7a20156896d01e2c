"""The personalisation loop, compiled for `langgraph dev` (see langgraph.json).

The graph itself is built in `agentpref.loop.graph`; the LangGraph server adds its own
checkpointer. Backends come from the URIs in the run's input (default: the embedded ones).
"""

from agentpref.loop.graph import build_graph

graph = build_graph().compile()
