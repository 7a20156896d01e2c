"""The personalisation loop as LangGraph graphs: typed state (state), the nodes (nodes),
the graph (graph), and one runner that runs, resumes and streams any graph with a SQLite
checkpointer in a run folder (runner)."""
