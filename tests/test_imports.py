"""`import agentpref` and `agentpref --help` must stay light: no torch and friends."""

import json
import subprocess
import sys

HEAVY = ["torch", "transformers", "diffusers", "vllm", "trl", "sentence_transformers", "langgraph"]


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_agentpref_pulls_in_no_heavy_library():
    loaded = _modules_after("import agentpref")
    assert not [m for m in HEAVY if m in loaded]


def test_cli_help_pulls_in_no_heavy_library():
    code = "from agentpref.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert not [m for m in HEAVY if m in loaded]
    assert "numpy" not in loaded and "PIL" not in loaded


def test_serve_defaults_match_the_library():
    from agentpref.assessors.vlm import server
    from agentpref.cli import serve
    from agentpref.images.refs import DEFAULT_MODEL_PIXELS

    assert serve.DEFAULT_MODEL == server.DEFAULT_MODEL
    assert serve.DEFAULT_SERVED_NAME == server.DEFAULT_SERVED_NAME
    assert serve.DEFAULT_MAX_PIXELS == DEFAULT_MODEL_PIXELS
