"""The CLI: each command's output, --json for scripts, and clear errors with exit codes."""

import json
import shutil
import struct
import zlib
from pathlib import Path

from click.testing import CliRunner
from PIL import Image, PngImagePlugin

from agentpref.cli.main import main


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def test_profile_json_and_tags(example_refs):
    result = _invoke("profile", "--refs", str(example_refs), "--json")
    assert result.exit_code == 0, result.output
    profile = json.loads(result.stdout)
    assert profile["likes"]["color"] and profile["dislikes"]["color"]
    tags = _invoke("profile", "--refs", str(example_refs), "--tags")
    assert "<visual preference profile>" in tags.stdout and '"Artistic Medium":' in tags.stdout


def test_compare_prefers_the_image_in_the_liked_taste(example_refs, tmp_path):
    liked = sorted((example_refs / "likes").iterdir())[0]
    disliked = sorted((example_refs / "dislikes").iterdir())[0]
    shutil.move(liked, tmp_path / "a.png")
    shutil.move(disliked, tmp_path / "b.png")
    result = _invoke(
        "compare", "--refs", str(example_refs), str(tmp_path / "b.png"), str(tmp_path / "a.png"), "--json"
    )
    assert result.exit_code == 0, result.output
    judgment = json.loads(result.stdout)
    assert judgment["winner"] == "B" and len(judgment["scores"]) == 5
    assert all(s["rationale_a"] and s["rationale_b"] for s in judgment["scores"])
    human = _invoke("compare", "--refs", str(example_refs), str(tmp_path / "a.png"), str(tmp_path / "b.png"))
    assert "winner: A" in human.stdout


def test_rank_orders_candidates_and_skips_bad_files(example_refs, tmp_path):
    good = [sorted((example_refs / d).iterdir())[0] for d in ("likes", "dislikes")]
    candidates = [tmp_path / "liked.png", tmp_path / "disliked.png"]
    for src, dst in zip(good, candidates, strict=True):
        shutil.move(src, dst)
    (tmp_path / "notes.png").write_text("not an image")
    result = _invoke(
        "rank",
        "--refs",
        str(example_refs),
        str(candidates[1]),
        str(tmp_path / "notes.png"),
        str(candidates[0]),
        "--json",
    )
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    assert [c["label"] for c in ranking["candidates"]] == ["liked.png", "disliked.png"]
    assert "notes.png" in result.stderr


def test_bad_reference_files_are_named_and_skipped_and_the_run_goes_on(tmp_path):
    likes = tmp_path / "likes"
    likes.mkdir()
    Image.new("RGB", (64, 64), (0, 120, 120)).save(likes / "good.png")
    png = (likes / "good.png").read_bytes()
    (likes / "corrupt.png").write_bytes(png[: len(png) // 2])
    (likes / "text.png").write_text("hello, I am text")
    (likes / "empty.png").write_bytes(b"")
    (likes / "bomb.png").write_bytes(_png_claiming(30000, 30000))
    result = _invoke("profile", "--refs", str(likes), "--json")
    assert result.exit_code == 0, result.output  # one good liked image, no dislikes: enough
    for name in ("corrupt.png", "text.png", "empty.png", "bomb.png"):
        assert name in result.stderr
    assert "no disliked images" in result.stderr
    assert json.loads(result.stdout)["likes"]


def test_empty_or_missing_likes_folder_is_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in (tmp_path / "empty", tmp_path / "missing"):
        result = _invoke("profile", "--refs", str(folder), "--json")
        assert result.exit_code == 2
        error = json.loads(result.stdout.strip().splitlines()[-1])
        assert str(folder.name) in error["error"]


def test_compare_names_an_unusable_candidate(example_refs, tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    result = _invoke("compare", "--refs", str(example_refs), str(tmp_path / "a.png"), str(tmp_path / "a.png"))
    assert result.exit_code == 2 and "a.png" in result.stderr and "empty" in result.stderr


def test_generate_usage_errors_are_bad_input(example_refs, tmp_path):
    twice = _invoke("generate", "--refs", str(example_refs), "--prompt", "a", "--prompt", "b")
    assert twice.exit_code == 2 and "--prompt was given 2 times" in twice.stderr  # never a silent overwrite
    empty = _invoke("generate", "--refs", str(example_refs), "--prompt", " ")
    assert empty.exit_code == 2 and "--prompt is empty" in empty.stderr
    assert _invoke("generate", "--prompt", "x").exit_code == 2  # no refs
    assert _invoke("generate", "--resume").exit_code == 2  # resume what?
    bad_size = _invoke("generate", "--refs", str(example_refs), "--prompt", "x", "--size", "big")
    assert bad_size.exit_code == 2 and "--size" in bad_size.stderr
    unknown = _invoke("generate", "--refs", str(example_refs), "--prompt", "x", "--assessor", "nope://x")
    assert unknown.exit_code == 2 and "nope" in unknown.stderr


def test_generate_without_a_prompt_says_which_subject_it_chose(example_refs, tmp_path):
    fast = ("-n", "1", "--iterations", "1", "--size", "64x64")
    likes = example_refs / "likes"  # their prompts name different scenes: no shared subject
    result = _invoke("generate", "--refs", str(likes), *fast, "--out", str(tmp_path / "neutral"))
    assert result.exit_code == 0, result.stderr
    assert "subject 'a landscape' (no prompt given" in result.stderr
    assert json.loads((tmp_path / "neutral" / "summary.json").read_text())["subject"] == "a landscape"

    shared = tmp_path / "shared"
    shared.mkdir()
    for i, path in enumerate(sorted(likes.iterdir())[:3]):  # the same subject, three styles
        image = Image.open(path)
        info = PngImagePlugin.PngInfo()
        info.add_text(
            "parameters", f"{('oil painting of ', '', 'a photo of ')[i]}a red barn in snow, style {i}"
        )
        image.save(shared / path.name, pnginfo=info)
    result = _invoke("generate", "--refs", str(shared), *fast, "--seed", "1", "--out", str(tmp_path / "barn"))
    assert result.exit_code == 0, result.stderr
    assert "subject 'a red barn in snow', shared by the liked images' prompts" in result.stderr
    assert json.loads((tmp_path / "barn" / "summary.json").read_text())["subject"] == "a red barn in snow"


def test_generate_json_reports_the_run(example_refs, tmp_path):
    out = tmp_path / "run"
    result = _invoke(
        "generate",
        "--refs",
        str(example_refs),
        "--prompt",
        "a lighthouse",
        "-n",
        "2",
        "--iterations",
        "1",
        "--size",
        "64x64",
        "--out",
        str(out),
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert Path(summary["report"]).is_file() and summary["best"] and len(summary["candidates"]) == 2
    assert "does not draw the prompt's subject" in result.stderr


# --- results on stdout, progress and notes on stderr ---------------------------------------------


def test_profile_piped_is_tab_separated_lines_on_stdout(example_refs):
    result = _invoke("profile", "--refs", str(example_refs))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Element\tLikes\tDislikes"
    assert [line.split("\t")[0] for line in lines[1:6]] == [
        "Art Styles",
        "Color",
        "Artistic Medium",
        "Saturation",
        "Detail",
    ]
    assert all(len(line.split("\t")) == 3 for line in lines)


def test_compare_prints_scores_and_the_winner_with_its_path_on_stdout(example_refs, tmp_path):
    a = sorted((example_refs / "likes").iterdir())[0]
    b = sorted((example_refs / "dislikes").iterdir())[0]
    result = _invoke("compare", "--refs", str(example_refs), str(a), str(b))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split("\t") == ["Element", "A", "B", "Why A", "Why B"] and len(lines) == 8
    assert lines[-1] == f"winner: A {a}"
    same = _invoke("compare", "--refs", str(example_refs), str(a), str(a))
    assert same.exit_code == 0
    assert same.stdout.splitlines()[-1] == "winner: tie (both fit the taste equally well)"


def test_rank_tells_apart_two_files_with_one_name(example_refs, tmp_path):
    for folder, source in (("x", "likes"), ("y", "dislikes")):
        (tmp_path / folder).mkdir()
        shutil.copy(sorted((example_refs / source).iterdir())[0], tmp_path / folder / "q.png")
    result = _invoke(
        "rank", "--refs", str(example_refs), str(tmp_path / "y/q.png"), str(tmp_path / "x/q.png")
    )
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()[1:]]
    assert [row[2] for row in rows] == [str(tmp_path / "x/q.png"), str(tmp_path / "y/q.png")]


def test_generate_prints_the_best_image_and_the_report_on_stdout(example_refs, tmp_path):
    out = tmp_path / "run"
    result = _invoke(
        "generate", "--refs", str(example_refs), "--prompt", "a lighthouse", "-n", "1", "--iterations", "1",
        "--size", "64x64", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    best, report = result.stdout.splitlines()
    assert best.startswith(f"best: {out / 'images' / 'it01-c00.png'} (score ")
    assert report == f"report: {out / 'report.html'}"
    assert "profile predicted" in result.stderr  # progress goes to stderr


def test_a_terminal_gets_a_table_that_shows_file_names_as_text(monkeypatch, capsys):
    from agentpref.cli import common

    monkeypatch.setattr(common, "stdout_is_terminal", lambda: True)
    common.print_table("Ranking", ["#", "Image"], [["1", "[bold red]x[/].png"]])
    shown = capsys.readouterr().out
    assert "[bold red]x[/].png" in shown and "Ranking" in shown and "┃" in shown


def test_loading_many_references_shows_a_bar_on_a_terminal(monkeypatch, tmp_path):
    import io

    from rich.console import Console

    from agentpref.cli import common

    likes = tmp_path / "likes"
    likes.mkdir()
    for i in range(60):
        Image.new("RGB", (8, 8), (i, 2 * i, 3 * i)).save(likes / f"{i:02d}.png")
    shown = io.StringIO()
    monkeypatch.setattr(common, "stderr_console", lambda: Console(file=shown, force_terminal=True, width=100))
    references = common.load_refs(likes, None)
    assert len(references.likes) == 60
    assert "loading references" in shown.getvalue() and "60/60" in shown.getvalue()

    quiet = io.StringIO()  # no terminal, or a few references: no bar
    monkeypatch.setattr(
        common, "stderr_console", lambda: Console(file=quiet, force_terminal=False, width=100)
    )
    common.load_refs(likes, None)
    for extra in sorted(likes.iterdir())[5:]:
        extra.unlink()
    monkeypatch.setattr(common, "stderr_console", lambda: Console(file=quiet, force_terminal=True, width=100))
    common.load_refs(likes, None)
    assert "loading references" not in quiet.getvalue()
