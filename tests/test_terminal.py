"""Untrusted text (model answers, file names, error messages) never acts on the terminal:
no console markup is read from it and no control character reaches stdout or stderr raw."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from agentpref import backends, personalization
from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.cli import common
from agentpref.cli.main import main
from agentpref.errors import ParseError

# Markup that would crash or vanish, and what a hostile text sends a terminal: clear screen,
# set the window title (OSC 0), write the clipboard (OSC 52), bell, backspaces, a carriage
# return that overwrites the line, an 8-bit CSI, a right-to-left override, a line separator.
NASTY = (
    "[/x] [red]red[/red] :x: \x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07 bell\x07 back\x08\x08 "
    "cr\rfake \x9b31m \u202egnp.exe\u2028end"
)
RAW = ("\x1b", "\x07", "\x08", "\r", "\x9b", "\u202e", "\u2028")


def _clean(text: str) -> None:
    leaked = [repr(c) for c in RAW if c in text]
    assert not leaked, f"raw control characters reached the terminal: {leaked}"


class NastyJudge(FeaturesAssessor):
    """The embedded judge, with hostile text in every string a model would write."""

    name = "nasty"

    def compare(self, refs_or_profile, a, b):
        judgment = super().compare(refs_or_profile, a, b)
        scores = [s.model_copy(update={"rationale_a": NASTY, "rationale_b": NASTY}) for s in judgment.scores]
        return judgment.model_copy(update={"scores": scores, "issues": [NASTY], "summary": NASTY})

    def profile(self, likes, dislikes=()):
        profile = super().profile(likes, dislikes)
        likes_side = profile.likes.model_copy(
            update={"keywords": [NASTY], "color": [NASTY, *profile.likes.color]}
        )
        return profile.model_copy(update={"likes": likes_side})


@pytest.fixture
def nasty(monkeypatch):
    monkeypatch.setattr(backends, "load_assessor", lambda uri=None, **options: NastyJudge())


@pytest.fixture(params=[False, True], ids=["piped", "terminal"])
def terminal(request, monkeypatch):
    monkeypatch.setattr(common, "stdout_is_terminal", lambda: request.param)
    return request.param


def _invoke(*args: str):
    # A wide terminal: the table's cells stay on one line each, so the text can be found whole.
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "2000"})


def test_terminal_safe_shows_controls_drops_bidi_and_keeps_newlines_only_when_asked():
    shown = common.terminal_safe(NASTY)
    _clean(shown)
    assert "\n" not in shown
    assert "\\x1b[2J" in shown and "\\x1b]52;c;ZXZpbA==\\x07" in shown and "\\x08\\x08" in shown
    assert "\\x0dfake" in shown and "\\x9b31m" in shown and "\\u2028end" in shown
    assert "gnp.exe" in shown and "[/x] [red]red[/red] :x:" in shown  # markup stays text
    assert common.terminal_safe("a\nb", newlines=True) == "a\nb"
    assert common.terminal_safe("a\nb") == "a\\x0ab"
    assert common.terminal_safe("name-\udcff.png") == "name-\\udcff.png"  # an undecodable file name byte


def test_compare_prints_hostile_model_text_as_text(nasty, terminal, example_refs):
    a = sorted((example_refs / "likes").iterdir())[0]
    b = sorted((example_refs / "dislikes").iterdir())[0]
    result = _invoke("compare", "--refs", str(example_refs), str(a), str(b))
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    _clean(result.stderr)
    assert result.stdout.splitlines()[-1] == f"winner: A {a}"  # the judgment is not lost
    assert "[/x] [red]red[/red] :x:" in result.stdout and "\\x1b]0;pwned" in result.stdout
    assert "[/x] [red]red[/red]" in result.stderr  # the judgment's issue, shown as a note


def test_compare_shows_file_names_with_markup_and_escapes_as_they_are(terminal, example_refs, tmp_path):
    (tmp_path / "b[").mkdir()
    a = tmp_path / "a\x1b]0;title\x07.png"
    b = tmp_path / "b[/x]x[red]y.png"  # a folder "b[" and a file "x]x[red]y.png": the path holds "[/x]"
    shutil.copy(sorted((example_refs / "dislikes").iterdir())[0], a)
    shutil.copy(sorted((example_refs / "likes").iterdir())[0], b)
    result = _invoke("compare", "--refs", str(example_refs), str(a), str(b))
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    assert result.stdout.splitlines()[-1] == f"winner: B {b}"
    if terminal:  # the table's title names both files
        assert (
            f"A = {tmp_path}/a\\x1b]0;title\\x07.png" in result.stdout
            and "b[/x]x[red]y.png   B" not in result.stdout
        )


def test_profile_table_and_tags_print_hostile_terms_as_text(nasty, terminal, example_refs):
    table = _invoke("profile", "--refs", str(example_refs))
    assert table.exit_code == 0, table.output
    _clean(table.stdout)
    assert "[/x] [red]red[/red]" in table.stdout and "\\x1b[2J" in table.stdout
    tags = _invoke("profile", "--refs", str(example_refs), "--tags")
    assert tags.exit_code == 0, tags.output
    _clean(tags.stdout)
    assert "<visual preference profile>" in tags.stdout and "\n" in tags.stdout.strip()  # lines kept


def test_profile_json_keeps_the_text_exact_and_escaped_by_json(nasty, example_refs):
    result = _invoke("profile", "--refs", str(example_refs), "--json")
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    assert json.loads(result.stdout)["likes"]["keywords"] == [NASTY]


def test_error_messages_and_skipped_files_are_shown_as_text(example_refs, tmp_path):
    (tmp_path / "bad\x1b]52;c;ZXZpbA==\x07[").mkdir()
    bad = tmp_path / "bad\x1b]52;c;ZXZpbA==\x07[/x]:x:.png"
    bad.write_text("not an image")
    good = sorted((example_refs / "likes").iterdir())[0]
    ranked = _invoke("rank", "--refs", str(example_refs), str(bad), str(good))
    assert ranked.exit_code == 0, ranked.output
    _clean(ranked.stderr)
    assert "bad\\x1b]52;c;ZXZpbA==\\x07[/x]:x:.png" in ranked.stderr  # the skipped note names it

    missing = tmp_path / "gone\x1b[2J[/x]:x:.png"
    failed = _invoke("compare", "--refs", str(example_refs), str(missing), str(good))
    assert failed.exit_code == 2
    _clean(failed.stderr)
    assert "gone\\x1b[2J[/x]:x:.png" in failed.stderr and "error:" in failed.stderr


def test_an_unreadable_answer_is_shown_as_text(monkeypatch, example_refs):
    class Unreadable(FeaturesAssessor):
        def profile(self, likes, dislikes=()):
            raise ParseError("cannot read the profile", NASTY)

    monkeypatch.setattr(backends, "load_assessor", lambda uri=None, **options: Unreadable())
    result = _invoke("profile", "--refs", str(example_refs))
    assert result.exit_code == 3
    _clean(result.stderr)
    assert "cannot read the profile" in result.stderr and "[/x] [red]red[/red]" in result.stderr


def test_install_hints_keep_their_extra_on_one_line(monkeypatch, example_refs):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    args = ["profile", "--refs", str(example_refs), "--assessor", "hf:org/model"]
    narrow = CliRunner().invoke(main, args, env={"COLUMNS": "40"})  # a narrow terminal
    assert narrow.exit_code == 2
    assert "pip install 'agentpref[hf]'" in narrow.stderr  # not broken in two, not eaten as markup


def test_generate_warnings_from_model_text_are_shown_as_text(monkeypatch, example_refs, tmp_path):
    class UnreadableOnce(FeaturesAssessor):
        answered = False

        def profile(self, likes, dislikes=()):
            if not self.answered:  # the profile step's answer is unreadable; judging goes on
                self.answered = True
                raise ParseError("cannot read the profile", NASTY)
            return super().profile(likes, dislikes)

    judge = UnreadableOnce()
    for module in (backends, personalization):  # both imported before: none binds the stand-in for good
        monkeypatch.setattr(module, "shared_assessor", lambda uri: judge)
    result = _invoke(
        "generate", "--refs", str(example_refs), "--prompt", "a [/x] \x1b[2J fox", "-n", "1",
        "--iterations", "1", "--size", "64x64", "--out", str(tmp_path / "run"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _clean(result.stdout)
    _clean(result.stderr)
    assert "profile could not be read" in result.stderr and "[/x] [red]red[/red]" in result.stderr


def test_run_progress_shows_what_nodes_send_as_text():
    from rich.console import Console

    from agentpref.cli.progress import RunProgress

    out = io.StringIO()
    with RunProgress(Console(file=out, width=200)) as progress:
        progress("node", {"node": "predict_profile"})
        progress("progress", {"stage": "generate", "candidate": "[/x]\x1b[2J-c00", "done": 1, "total": 2})
        progress("progress", {"stage": "denoise", "candidate": "[/y]\x07", "step": 1, "steps": 4})
        progress("progress", {"stage": "assess", "iteration": 1, "best": "[/z]\x1b]0;t\x07", "score": 3.0})
    shown = out.getvalue()
    _clean(shown)
    assert "profile predicted" in shown and "best [/z]\\x1b]0;t\\x07" in shown


def test_results_piped_stay_one_line_per_row_with_visible_controls(monkeypatch, capsys):
    monkeypatch.setattr(common, "stdout_is_terminal", lambda: False)
    common.print_table("t", ["#", "Image"], [["1", "a\nwinner: B x.png\x1b[2J"]])
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["#\tImage", "1\ta winner: B x.png\\x1b[2J"]


def test_cli_seed_bound_is_the_loops(monkeypatch):
    from agentpref.cli.generate import MAX_SEED
    from agentpref.loop.state import MAX_SEED as LOOP_MAX_SEED

    assert MAX_SEED == LOOP_MAX_SEED


def test_every_print_of_the_cli_goes_through_the_safe_helpers():
    """No command prints with console markup: a new print of untrusted text would bypass
    `terminal_safe`. (`--json` goes through click.echo of json.dumps, which is safe.)"""
    root = Path(common.__file__).parent
    for module in ("common", "judge", "generate", "backends", "progress"):
        source = (root / f"{module}.py").read_text()
        assert "markup=True" not in source and "[/]" not in source, module
