"""PreferThinker's output layout, written: a `Judgment` as the model writes it, and the
regex that forces a model to write exactly that layout (vLLM structured outputs).

The parser in `agentpref.preferthinker.parse` reads what this module writes, and what
models actually write (with drift).

>>> from agentpref.preferthinker.parse import parse_judgment
>>> from agentpref.preferthinker.prompts import WORKED_EXAMPLES
>>> j = parse_judgment(format_judgment(WORKED_EXAMPLES[0]))
>>> j.winner, j.total_a, j.total_b
('B', 11.0, 22.0)
"""

from __future__ import annotations

import re

from agentpref.judgment import Judgment
from agentpref.profile import ELEMENTS, NON_PREFERENCE_TAG, PREFERENCE_TAG, Element

# Headings of the five element sections inside <think>, as the released model writes them.
HEADINGS: dict[Element, str] = {
    Element.ART_STYLES: "Artistic style",
    Element.COLOR: "Color",
    Element.ARTISTIC_MEDIUM: "Artistic Medium",
    Element.SATURATION: "Saturation",
    Element.DETAIL: "Detail",
}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _rationale(text: str, end: str) -> str:
    """One line, ending with the layout's terminator (';' after A, '.' after B)."""
    flat = " ".join(text.split()).rstrip(" ;.")
    return f" - {flat}{end}" if flat else end


def format_judgment(judgment: Judgment) -> str:
    """A `Judgment` in PreferThinker's output layout (profile tags, `<think>`, `<answer>`).

    Parts the judgment lacks are left out: no profile -> no profile tags, no winner -> no
    answer tag. Stated totals are written as given, so an inconsistent judgment stays so.
    """
    blocks: list[str] = []
    if judgment.profile is not None:
        blocks.append(judgment.profile.to_tag_text())
    think: list[str] = []
    present = [s for e in ELEMENTS if (s := judgment.score(e)) is not None]
    for i, s in enumerate(present, start=1):
        think.append(
            f"{i}. {HEADINGS[s.element]}:\n"
            f"Image A({_num(s.score_a)}){_rationale(s.rationale_a, ';')}\n"
            f"Image B({_num(s.score_b)}){_rationale(s.rationale_b, '.')}"
        )
    totals = []
    for name, stated, key in (("A", judgment.total_a, "score_a"), ("B", judgment.total_b, "score_b")):
        addends = [getattr(s, key) for s in present]
        total = stated if stated is not None else (sum(addends) if addends else None)
        if total is None:
            continue
        terms = "+".join(_num(x) for x in addends)
        totals.append(f"Image {name}: total_score={terms + '=' if terms else ''}{_num(total)}")
    if totals:
        think.append("Total:\n" + "\n".join(totals))
    if think:
        blocks.append("<think>\n" + "\n\n".join(think) + "\n</think>")
    if judgment.winner is not None:
        blocks.append(f"<answer>Image {judgment.winner}</answer>")
    return "\n\n".join(blocks)


_TERM_CHARS = r"[A-Za-z0-9 ,'&-]"
# No '(' ':' '=' ';' '<' or newline: a forced rationale can never look like a score, a
# heading, a total or a tag to the parser.
_RATIONALE_CHARS = "[A-Za-z0-9 ,.'\"%/-]"


def _lit(text: str) -> str:
    """Escape only regex operators (re.escape also escapes spaces, which some engines reject)."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", text)


def profile_regex(*, max_term: int = 80) -> str:
    """A regex of the two profile tags alone, for profile requests (see `output_regex`)."""
    value = rf"[A-Za-z0-9]{_TERM_CHARS}{{0,{max_term - 1}}}"
    body = r",\n".join(rf'"{_lit(e.value)}": "{value}"' for e in ELEMENTS)
    likes, dislikes = PREFERENCE_TAG, NON_PREFERENCE_TAG
    return rf"<{likes}>\n{body}\n</{likes}>\n\n<{dislikes}>\n{body}\n</{dislikes}>"


def output_regex(*, max_rationale: int = 600, max_term: int = 80) -> str:
    """A regex of the whole output layout, for vLLM's `structured_outputs={"regex": ...}`.

    Every string it admits parses: scores are single digits 0-5, totals one or two digits,
    rationales one line of a safe character set of at most `max_rationale` characters,
    profile values at most `max_term`. It cannot make totals add up or agree with the
    answer; the parser reports that.
    """
    why = rf"[A-Za-z]{_RATIONALE_CHARS}{{0,{max_rationale - 1}}}"
    sections = r"\n\n".join(
        rf"{i}\. {_lit(HEADINGS[e])}:\n"
        rf"Image A\([0-5]\) - {why};\nImage B\([0-5]\) - {why}\."
        for i, e in enumerate(ELEMENTS, start=1)
    )
    total = r"total_score=[0-5]\+[0-5]\+[0-5]\+[0-5]\+[0-5]=[0-9]{1,2}"
    return (
        rf"{profile_regex(max_term=max_term)}\n\n"
        rf"<think>\n{sections}\n\nTotal:\nImage A: {total}\nImage B: {total}\n</think>\n\n"
        r"<answer>Image [AB]</answer>"
    )


OUTPUT_REGEX: str = output_regex()
