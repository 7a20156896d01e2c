"""One table of backends: the README, the CLI's help and errors come from it, and plug-ins join it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentpref.backends import (
    BACKENDS,
    Backend,
    backends,
    load_assessor,
    load_generator,
    markdown_table,
    redact_uri,
)
from agentpref.cli.main import main
from agentpref.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_table_is_the_registry():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_cli_help_names_every_backend_of_its_kind():
    help_text = " ".join(CliRunner().invoke(main, ["generate", "--help"]).output.split())
    assert all(b.uri in help_text for b in BACKENDS)


def test_an_unknown_uri_lists_what_is_available_here():
    with pytest.raises(InputError) as info:
        load_assessor("nope://x")
    message = str(info.value)
    assert "'nope://x'" in message
    assert all(b.scheme in message for b in BACKENDS if b.kind == "assessor")
    with pytest.raises(InputError, match="available here: painter"):
        load_generator("features")


@pytest.mark.parametrize(
    "uri",
    [
        "features",
        "painter",
        "random:?seed=3",
        "hf:Qwen/Qwen2.5-VL-7B-Instruct",
        "vllm://127.0.0.1:8000?model=x",
        "openai://api.example.com/v1?model=gpt-4o&api_key_env=EXAMPLE_KEY&swap=1",
        "diffusers:stabilityai/sd-turbo?steps=4&guidance=0",
        "vllm://[::1]:8000/v1?model=a%40b&system_prompt=@prompt.txt",
    ],
)
def test_redaction_keeps_a_uri_without_secrets_byte_for_byte(uri):
    assert redact_uri(uri) == uri


@pytest.mark.parametrize(
    ("uri", "redacted"),
    [
        ("openai://user:sk-SECRET@api.example.com/v1?model=m", "openai://api.example.com/v1?model=m"),
        ("vllm://sk-SECRET@h:1", "vllm://h:1"),
        ("vllm://h:1?model=m&cache_salt=SECRET&swap=1", "vllm://h:1?model=m&cache_salt=***&swap=1"),
        ("openai://h/v1?api_key=SECRET&Access_Token=SECRET", "openai://h/v1?api_key=***&Access_Token=***"),
        (
            "hf:org/m?hf_token=SECRET&x_secret=SECRET&password=SECRET",
            "hf:org/m?hf_token=***&x_secret=***&password=***",
        ),
        ("plugin:?key=SECRET&token=SECRET&secret=SECRET", "plugin:?key=***&token=***&secret=***"),
        ("openai://h/v1?api_key=SECRET#frag", "openai://h/v1?api_key=***"),
    ],
)
def test_redaction_drops_userinfo_and_the_values_of_secret_keys(uri, redacted):
    assert redact_uri(uri) == redacted and "SECRET" not in redact_uri(uri)


def test_an_empty_uri_given_on_purpose_is_refused_not_the_default():
    for empty in ("", "  "):
        with pytest.raises(InputError, match="assessor URI is empty"):
            load_assessor(empty)
    assert load_assessor().name == "features"


def test_sdk_misuse_of_the_loaders_is_named():
    with pytest.raises(InputError, match="assessor 'features' takes no setting 'bogus'"):
        load_assessor("features", bogus=1)
    with pytest.raises(InputError, match="generator 'painter' takes no setting 'bogus'"):
        load_generator("painter", bogus=1)
    with pytest.raises(InputError, match="URI must be text"):
        load_assessor(123)  # type: ignore[arg-type]


def test_an_unknown_backend_is_named_without_its_key():
    with pytest.raises(InputError) as info:
        load_assessor("opnai://user:sk-SECRET@h/v1?api_key=sk-SECRET")
    assert "'opnai://h/v1?api_key=***'" in str(info.value) and "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("random:?seed=abc", "seed must be an integer (got 'abc')"),
        ("random:?seed=1e3", "seed must be an integer (got '1e3')"),
        ("random:?bogus=1", "unknown setting 'bogus'"),
        ("random:?seed=1&seeds=2", "unknown setting 'seeds'"),
    ],
)
def test_random_settings_are_checked(uri, named):
    with pytest.raises(InputError, match=re.escape(named)):
        load_assessor(uri)
    assert load_assessor("random:?seed=7").seed == 7


def test_a_backend_whose_libraries_are_missing_says_how_to_install_them():
    missing = Backend("ghost", "assessor", extra="ghost", needs=("agentpref_no_such_library",), factory="x:y")
    assert not missing.installed
    with pytest.raises(InputError, match=r"pip install 'agentpref\[ghost\]'"):
        missing.load("")


def test_backends_command_lists_the_table_as_json():
    result = CliRunner().invoke(main, ["backends", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["uri"] for r in rows] == [b.uri for b in backends()]
    assert {r["uri"]: r["installed"] for r in rows}["features"] is True


PLUGIN = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=77"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "agentpref-coin"
        version = "0.1.0"

        [project.entry-points."agentpref.assessors"]
        coin = "agentpref_coin:load_coin"

        [project.entry-points."agentpref.generators"]
        flat = "agentpref_coin:load_flat"
    """,
    "agentpref_coin.py": '''
        """A third party's backends: a judge that always prefers A, a generator of flat grey images."""
        from urllib.parse import parse_qsl

        from PIL import Image

        from agentpref.assessors.random import RandomAssessor
        from agentpref.generators.base import GeneratedImage
        from agentpref.judgment import Judgment


        class AlwaysA(RandomAssessor):
            name = "coin"

            def compare(self, refs_or_profile, a, b):
                return Judgment(winner="A", summary="always A", assessor=self.name)


        class Flat:
            name = "flat"

            def __init__(self, grey=128):
                self.grey = int(grey)

            def generate(self, prompt, negative_prompt=None, n=1, seed=None, size=(64, 64), **_):
                image = Image.new("RGB", size, (self.grey,) * 3)
                first = seed or 0
                return [GeneratedImage(image, first + i, prompt, negative_prompt, "flat") for i in range(n)]


        def load_coin(rest, **options):
            return AlwaysA()


        def load_flat(rest, **options):
            return Flat(**{**dict(parse_qsl(rest.lstrip("?"))), **options})
    ''',
}


@pytest.mark.slow
def test_a_plugin_package_installed_with_pip_is_loaded_by_its_uri(tmp_path, example_refs):
    source = tmp_path / "plugin"
    source.mkdir()
    for name, text in PLUGIN.items():
        (source / name).write_text(textwrap.dedent(text).lstrip())
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}

    def agentpref(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "agentpref.cli", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp_path)

    listed = json.loads(agentpref("backends", "--json").stdout)
    plugins = {r["uri"]: r for r in listed if r["runs_on"].startswith("plug-in")}
    assert set(plugins) == {"coin", "flat"} and plugins["coin"]["runs_on"] == "plug-in (agentpref-coin)"
    likes = sorted((example_refs / "likes").iterdir())
    compared = agentpref(
        "compare", "--refs", str(example_refs), str(likes[1]), str(likes[0]), "--assessor", "coin", "--json"
    )
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["winner"] == "A" and json.loads(compared.stdout)["assessor"] == "coin"
    probe = (
        "import agentpref; g = agentpref.load_generator('flat:?grey=7');"
        "print(g.generate('x')[0].image.getpixel((0, 0)))"
    )
    made = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert made.stdout.strip() == "(7, 7, 7)", made.stderr
