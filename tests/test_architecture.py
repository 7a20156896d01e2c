"""Imports point one way (the layers in pyproject.toml), and the check notices when one does not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
)


def _lint(project: Path) -> subprocess.CompletedProcess[str]:
    """import-linter over the `agentpref` package found in `project` (it comes first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([sys.executable, "-c", LINT], cwd=project, env=env, capture_output=True, text=True)


def test_every_import_follows_the_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def _copy_with(tmp_path: Path, module: str, line: str) -> Path:
    """A copy of the package (train/ through its symlink) with `line` added to `module`."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "agentpref", project / "agentpref", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", project)
    path = project / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n{line}\n")
    return project


def test_a_generator_importing_an_assessor_breaks_the_check(tmp_path):
    project = _copy_with(
        tmp_path, "agentpref.generators.painter.generator", "import agentpref.assessors.base"
    )
    result = _lint(project)
    assert result.returncode == 1
    assert "agentpref.generators.painter.generator -> agentpref.assessors.base" in result.stdout


def test_core_importing_the_loop_or_evaluation_importing_train_breaks_the_check(tmp_path):
    core = _copy_with(tmp_path / "core", "agentpref.profile", "import agentpref.loop.state")
    assert "agentpref.profile -> agentpref.loop.state" in _lint(core).stdout
    evaluation = _copy_with(tmp_path / "eval", "agentpref.evaluation.metrics", "import agentpref.train.users")
    assert "agentpref.evaluation.metrics -> agentpref.train.users" in _lint(evaluation).stdout


def test_a_rewriter_importing_an_assessor_breaks_the_check(tmp_path):
    project = _copy_with(tmp_path, "agentpref.rewriters.openai", "import agentpref.assessors.base")
    assert "agentpref.rewriters.openai -> agentpref.assessors.base" in _lint(project).stdout


def test_production_code_importing_the_test_fixtures_breaks_the_check(tmp_path):
    project = _copy_with(tmp_path, "agentpref.train.rewards", "import agentpref.testing.tiny_qwen")
    assert "agentpref.train.rewards -> agentpref.testing.tiny_qwen" in _lint(project).stdout
