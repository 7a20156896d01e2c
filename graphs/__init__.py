"""LangGraph graphs of agentpref, installed as `agentpref.graphs`."""
