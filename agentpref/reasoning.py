"""PreferThinker's predict-then-assess layout: requests to a model and the reading of its answer.

The released PreferThinker-7B was trained on one prompt layout (system task + two worked
examples; likes, dislikes, then candidates A and B) and answers in one output layout
(two profile tags, a `<think>` with 0-5 scores per element and totals, an `<answer>`).
This module builds backend-neutral `Request`s in that layout, renders them as OpenAI or
transformers chat messages, writes judgments back in the model's layout, and parses what
models actually write (with drift), reporting every inconsistency in `Judgment.issues`.

>>> j = parse_judgment(format_judgment(WORKED_EXAMPLES[0]))
>>> j.winner, j.total_a, j.total_b
('B', 11.0, 22.0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentpref import preferthinker_prompts as prompts
from agentpref.errors import InputError
from agentpref.judgment import Judgment
from agentpref.preferthinker_prompts import WORKED_EXAMPLES
from agentpref.profile import ELEMENTS, NON_PREFERENCE_TAG, PREFERENCE_TAG, Element, UserProfile

# The parser lives beside this module; its names are part of this module's API.
from agentpref.reasoning_parse import (
    FORMAT_PATTERN,
    format_ok,
    parse_answer,
    parse_judgment,
    parse_profile,
)

if TYPE_CHECKING:
    from PIL import Image

    from agentpref.images import ImageRef

__all__ = [
    "FORMAT_PATTERN",
    "OUTPUT_REGEX",
    "PROFILE_SYSTEM_PROMPT",
    "SYSTEM_PROMPT",
    "WORKED_EXAMPLES",
    "ImagePart",
    "Request",
    "TextPart",
    "build_compare_request",
    "build_profile_compare_request",
    "build_profile_request",
    "format_judgment",
    "format_ok",
    "output_regex",
    "parse_answer",
    "parse_judgment",
    "parse_profile",
    "profile_regex",
    "to_hf_messages",
    "to_openai_messages",
]

DEFAULT_MAX_HISTORY = 5
"""Reference images per side, as in PreferThinker's evaluation (`num_history=5`)."""

# Headings of the five element sections inside <think>, as the released model writes them.
HEADINGS: dict[Element, str] = {
    Element.ART_STYLES: "Artistic style",
    Element.COLOR: "Color",
    Element.ARTISTIC_MEDIUM: "Artistic Medium",
    Element.SATURATION: "Saturation",
    Element.DETAIL: "Detail",
}


# -- writing judgments in the model's layout ----------------------------------------------


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


def _system_prompt(task: str, examples: Sequence[str]) -> str:
    shown = [f"{prompts.EXAMPLE_HEADER.format(n=i)}\n{text}" for i, text in enumerate(examples, start=1)]
    return task + "\n" + "\n\n\n".join(shown) + "\n"


SYSTEM_PROMPT: str = _system_prompt(prompts.TASK_TEXT, [format_judgment(j) for j in WORKED_EXAMPLES])
"""Task statement plus two complete worked outputs, for compare requests."""

PROFILE_SYSTEM_PROMPT: str = _system_prompt(
    prompts.PROFILE_TASK_TEXT, [j.profile.to_tag_text() for j in WORKED_EXAMPLES if j.profile is not None]
)
"""Task statement plus two worked profile outputs, for profile-only requests."""


# -- the structured-output regex ----------------------------------------------------------

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


# -- requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ImagePart:
    """An image in the user message; `role` says which ("liked 1", "disliked 2", "A", "B")."""

    ref: ImageRef
    role: str


Part = TextPart | ImagePart


@dataclass
class Request:
    """One model request, independent of any backend: a system prompt and ordered user parts."""

    system: str
    parts: list[Part] = field(default_factory=list)

    @property
    def images(self) -> list[ImageRef]:
        return [p.ref for p in self.parts if isinstance(p, ImagePart)]

    @property
    def roles(self) -> list[str]:
        return [p.role for p in self.parts if isinstance(p, ImagePart)]


def _history_parts(likes: Sequence[ImageRef], dislikes: Sequence[ImageRef], max_history: int) -> list[Part]:
    if max_history < 1:
        raise InputError(f"max_history={max_history}: must be at least 1 reference image per side")
    likes, dislikes = list(likes)[:max_history], list(dislikes)[:max_history]
    if not likes and not dislikes:
        raise InputError("no reference images: give at least one liked or disliked image")
    parts: list[Part] = [TextPart(prompts.LIKES_TEXT if likes else prompts.NO_LIKES_TEXT)]
    parts += [ImagePart(ref, f"liked {i}") for i, ref in enumerate(likes, start=1)]
    parts.append(TextPart(prompts.DISLIKES_TEXT if dislikes else prompts.NO_DISLIKES_TEXT))
    parts += [ImagePart(ref, f"disliked {i}") for i, ref in enumerate(dislikes, start=1)]
    return parts


def _candidate_parts(a: ImageRef, b: ImageRef) -> list[Part]:
    return [
        TextPart(prompts.CANDIDATES_TEXT),
        TextPart("Image A"),
        ImagePart(a, "A"),
        TextPart("Image B"),
        ImagePart(b, "B"),
    ]


def build_compare_request(
    likes: Sequence[ImageRef],
    dislikes: Sequence[ImageRef],
    a: ImageRef,
    b: ImageRef,
    *,
    max_history: int = DEFAULT_MAX_HISTORY,
    system_prompt: str | None = None,
) -> Request:
    """Predict both profiles from the references, then score A and B (PreferThinker's layout).

    The first `max_history` likes and dislikes are sent, in the order given.
    """
    parts = _history_parts(likes, dislikes, max_history) + _candidate_parts(a, b)
    parts.append(TextPart(prompts.COMPARE_INSTRUCTION.format(source="predicted")))
    return Request(system=SYSTEM_PROMPT if system_prompt is None else system_prompt, parts=parts)


def build_profile_request(
    likes: Sequence[ImageRef],
    dislikes: Sequence[ImageRef],
    *,
    max_history: int = DEFAULT_MAX_HISTORY,
    system_prompt: str | None = None,
) -> Request:
    """Predict only the two profiles (parse the answer with `parse_profile`)."""
    parts = [*_history_parts(likes, dislikes, max_history), TextPart(prompts.PROFILE_INSTRUCTION)]
    return Request(system=PROFILE_SYSTEM_PROMPT if system_prompt is None else system_prompt, parts=parts)


def build_profile_compare_request(
    profile: UserProfile, a: ImageRef, b: ImageRef, *, system_prompt: str | None = None
) -> Request:
    """Score A and B against an already predicted profile, given as tag text (no reference images)."""
    parts: list[Part] = [TextPart(prompts.GIVEN_PROFILE_TEXT.format(profile=profile.to_tag_text()))]
    parts += _candidate_parts(a, b)
    parts.append(TextPart(prompts.COMPARE_INSTRUCTION.format(source="given")))
    return Request(system=SYSTEM_PROMPT if system_prompt is None else system_prompt, parts=parts)


def to_openai_messages(
    request: Request, image_url: Callable[[ImageRef], str], *, uuids: bool = True
) -> list[dict[str, Any]]:
    """OpenAI chat messages: system text, then one user message of text and image_url parts.

    `image_url(ref)` gives each image's URL (usually a base64 data URL). With `uuids`, each
    image part carries the image's sha256 as vLLM's `uuid` cache key; turn it off for
    endpoints that reject unknown fields.
    """
    content: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        else:
            item: dict[str, Any] = {"type": "image_url", "image_url": {"url": image_url(part.ref)}}
            if uuids:
                item["uuid"] = part.ref.sha256
            content.append(item)
    return [{"role": "system", "content": request.system}, {"role": "user", "content": content}]


def to_hf_messages(request: Request) -> tuple[list[dict[str, Any]], list[Image.Image]]:
    """transformers chat-template messages (`{"type": "image"}` placeholders) and the images in order."""
    content: list[dict[str, Any]] = []
    images: list[Image.Image] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        else:
            content.append({"type": "image"})
            images.append(part.ref.image())
    messages = [
        {"role": "system", "content": [{"type": "text", "text": request.system}]},
        {"role": "user", "content": content},
    ]
    return messages, images
