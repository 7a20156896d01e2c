"""Offline test infrastructure: tiny random models and a real vLLM CPU server.

Used by agentpref's own tests and benchmarks, and by anyone who wants to exercise a GPU
code path on a laptop. Nothing here downloads weights; heavy libraries are imported
inside the functions that need them.
"""
