"""`agentpref profile`, `compare` and `rank`: judging images against a person's taste.

Results go to stdout (a table on a terminal, tab-separated lines when piped, JSON with
--json); skipped files, notes and progress go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from agentpref.cli.common import (
    backend_option,
    echo,
    handle_errors,
    json_option,
    load_refs,
    print_json,
    print_table,
    refs_options,
    say,
)

if TYPE_CHECKING:
    from agentpref.profile import UserProfile


def print_profile(profile: UserProfile) -> None:
    """The profile as a table: per element, the liked and disliked terms with their confidence."""
    from agentpref.profile import ELEMENTS

    rows = []
    for e in ELEMENTS:
        cells = [e.value]
        for side in (profile.likes, profile.dislikes):
            text = ", ".join(side.terms(e)) or "-"
            if e in side.confidence:
                text += f"  ({side.confidence[e]:.2f}{', uncertain' if side.is_uncertain(e) else ''})"
            cells.append(text)
        rows.append(cells)
    if profile.likes.keywords or profile.dislikes.keywords:
        rows.append(["Keywords", ", ".join(profile.likes.keywords), ", ".join(profile.dislikes.keywords)])
    print_table("Visual preference profile", ["Element", "Likes", "Dislikes"], rows)


@click.command()
@refs_options
@backend_option("assessor")
@click.option("--tags", is_flag=True, help="Print PreferThinker's tag text instead of a table.")
@json_option
@handle_errors
def profile(
    refs: Path | None, dislikes: Path | None, assessor_uri: str | None, tags: bool, as_json: bool
) -> None:
    """Predict the visual preference profile from liked (and disliked) images.

    \b
      agentpref profile --refs ./likes --dislikes ./dislikes
      agentpref profile --refs ./refs --tags > profile.txt     refs/ holds likes/ and dislikes/
    """
    from agentpref.backends import load_assessor

    references = load_refs(refs, dislikes)
    result = load_assessor(assessor_uri).profile(references.likes, references.dislikes)
    if as_json:
        print_json(result)
    elif tags:
        echo(result.to_tag_text(), newlines=True)
    else:
        print_profile(result)


@click.command()
@refs_options
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@backend_option("assessor")
@json_option
@handle_errors
def compare(
    refs: Path | None, dislikes: Path | None, a: Path, b: Path, assessor_uri: str | None, as_json: bool
) -> None:
    """Judge which of two images, A or B, suits the person's taste, element by element.

    The last line is the winner and its file: `winner: A path/to/a.png`.
    """
    from agentpref.backends import load_assessor
    from agentpref.images.refs import ImageRef

    references = load_refs(refs, dislikes)
    image_a, image_b = ImageRef.from_path(a), ImageRef.from_path(b)
    judgment = load_assessor(assessor_uri).compare(references, image_a, image_b)
    if as_json:
        print_json(judgment)
    if judgment.failed:
        raw = (judgment.raw_text or "").strip()
        say(judgment.error or "", label="error:", style="bold red")
        say(repr(raw[:500]), label="the model wrote:", style="dim")
        sys.exit(3)
    if as_json:
        return
    rows = [
        [s.element.value, f"{s.score_a:.1f}", f"{s.score_b:.1f}", s.rationale_a, s.rationale_b]
        for s in judgment.scores
    ]
    rows.append(["Total", f"{judgment.total_a}", f"{judgment.total_b}", "", ""])
    print_table(f"A = {a}   B = {b}", ["Element", "A", "B", "Why A", "Why B"], rows)
    for issue in judgment.issues:
        say(issue, label="note:")
    if judgment.winner is None:
        echo("winner: tie (both fit the taste equally well)")
    else:
        echo(f"winner: {judgment.winner} {a if judgment.winner == 'A' else b}")


@click.command()
@refs_options
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@backend_option("assessor")
@json_option
@handle_errors
def rank(
    refs: Path | None,
    dislikes: Path | None,
    images: tuple[Path, ...],
    assessor_uri: str | None,
    as_json: bool,
) -> None:
    """Order IMAGES (files or folders of them) from best to worst for the person's taste."""
    from agentpref.assessors.tournament import check_ranking
    from agentpref.backends import load_assessor
    from agentpref.errors import InputError
    from agentpref.images.references import load_images

    references = load_refs(refs, dislikes)
    candidates, skipped = load_images(list(images))
    for bad in skipped:
        say(str(bad), label="skipped")
    if not candidates:
        raise InputError("no usable image to rank")
    # Every comparison unreadable: the order would be the input order, so say why and exit 3.
    ranking = check_ranking(load_assessor(assessor_uri).rank(references, candidates))
    if as_json:
        print_json(ranking)
        return
    # Ranked candidates carry labels (file names, which may repeat); the paths come from the refs.
    paths = {c.label: str(c.path) for c in candidates if c.path is not None}
    rows = [
        [str(place), f"{c.score:.1f}/{ranking.max_score:.0f}", paths.get(c.label, c.label)]
        for place, c in enumerate(ranking.candidates, 1)
    ]
    print_table("Ranking", ["#", "Score", "Image"], rows)
    if ranking.judgments:
        failed = sum(j.failed for j in ranking.judgments)
        note = f"; {failed} unreadable (use --json to see the raw text)" if failed else ""
        say(f"{len(ranking.judgments)} pairwise comparisons{note}", label="note:", style="dim")
