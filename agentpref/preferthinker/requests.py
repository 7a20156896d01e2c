"""Requests in PreferThinker's prompt layout, independent of any backend, and their
rendering as OpenAI or transformers chat messages.

The released PreferThinker-7B was trained on one prompt layout (system task + two worked
examples; likes, dislikes, then candidates A and B); `build_compare_request` reproduces
it, `build_profile_request` asks for the profiles alone, and
`build_profile_compare_request` judges against a profile given as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentpref.errors import InputError
from agentpref.preferthinker import prompts
from agentpref.preferthinker.prompts import PROFILE_SYSTEM_PROMPT, SYSTEM_PROMPT
from agentpref.profile import UserProfile

if TYPE_CHECKING:
    from PIL import Image

    from agentpref.images.refs import ImageRef

DEFAULT_MAX_HISTORY = 5
"""Reference images per side, as in PreferThinker's evaluation (`num_history=5`)."""


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
