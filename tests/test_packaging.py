"""What a user installs is whole: a wheel runs every command without the source tree, an editable
install is a plain path that type checkers follow, and the README's SDK snippet runs as written."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of the project files (the package linked), so that the build's own
    # folders (build/, *.egg-info) stay out of the repo.
    checkout, out = tmp_path_factory.mktemp("checkout"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, checkout / name)
    (checkout / "agentpref").symlink_to(ROOT / "agentpref")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(out),
        ".",
    ]
    subprocess.run(pip, check=True, capture_output=True, cwd=checkout)
    [built] = out.glob("agentpref-*.whl")
    return built


def test_the_wheel_holds_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "agentpref").rglob("*")
        if p.suffix in (".py", ".json", ".yaml") and "__pycache__" not in p.parts
    }
    assert sources <= names, sorted(sources - names)
    assert "agentpref/train/configs/grpo_cpu.yaml" in names  # train/ arrives under its import name
    assert not any(n.startswith(("graphs/", "tests/", "train/")) for n in names)


def test_commands_run_from_the_wheel_alone(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    for command in (["train", "--help"], ["train", "run", "--help"], ["generate", "--help"], ["backends"]):
        result = subprocess.run(
            [sys.executable, "-m", "agentpref.cli", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
    probe = "import agentpref.train.recipes as r; print(r.__file__, r.recipe_path('sft_cpu'))"
    where = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr


def test_mypy_finds_the_package_through_the_editable_install(tmp_path: Path) -> None:
    """Outside the source tree, only the installed path can find it (no import hook mypy cannot see)."""
    code = "import agentpref, agentpref.train.sft, agentpref.loop.runner, agentpref.assessors.vlm.openai"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=skip", "--no-incremental", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_readme_sdk_snippet_runs_from_the_repo_root(tmp_path: Path) -> None:
    """As a newcomer runs it: from a checkout's root (its agentpref/ first on the path), as written."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The SDK") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("agentpref", "examples"):
        (checkout / name).symlink_to(ROOT / name)
    result = subprocess.run([sys.executable, "-c", snippet], cwd=checkout, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (checkout / "runs" / "sdk" / "report.html").is_file()
