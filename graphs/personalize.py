"""The personalisation loop, compiled for `langgraph dev` (see langgraph.json).

Callers of a server are not trusted: the graph is `agentpref.loop.served`'s guarded one.
Callers name images inside the server's image folder and backends by the names the
server's configuration offers; each thread writes only its own run folder. Configure it
with `$AGENTPREF_SERVE_CONFIG` (a JSON `ServerConfig`) or `$AGENTPREF_SERVE_ROOT`
(default ./served, holding images/ and runs/). The LangGraph server adds its checkpointer.
"""

from agentpref.loop.served import build_served_graph

graph = build_served_graph().compile()
