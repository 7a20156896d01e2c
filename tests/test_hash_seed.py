"""What reaches a prompt, a file or a report never depends on Python's hash seed."""

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _profile_json(seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    command = [sys.executable, "-m", "agentpref.cli", "profile", "--refs", str(EXAMPLES), "--json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def test_the_profile_and_its_keywords_are_the_same_under_any_hash_seed():
    first = _profile_json("1")
    # The examples' prompts give keywords, the part that once varied.
    assert json.loads(first)["likes"]["keywords"]
    for seed in ("2", "3", "4"):
        assert _profile_json(seed) == first, f"PYTHONHASHSEED={seed} changed the profile"
