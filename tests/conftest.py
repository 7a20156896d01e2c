"""Shared fixtures: reference folders made in the test from the committed examples."""

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def example_refs(tmp_path: Path) -> Path:
    """A copy of examples/ as one folder holding likes/ and dislikes/."""
    root = tmp_path / "refs"
    shutil.copytree(EXAMPLES / "likes", root / "likes")
    shutil.copytree(EXAMPLES / "dislikes", root / "dislikes")
    return root
