"""The `Generator` protocol every image backend implements."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentpref.profile import UserProfile

if TYPE_CHECKING:
    from PIL import Image


@dataclass
class GeneratedImage:
    """One generated image and everything needed to make it again."""

    image: Image.Image
    seed: int
    prompt: str
    negative_prompt: str | None
    backend: str
    params: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def png_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()


@runtime_checkable
class Generator(Protocol):
    """Turns a prompt (and optionally the profile behind it) into images.

    `seed` is the first image's seed; image i uses `seed + i`, so every candidate is
    reproducible alone. `profile` lets backends that can use it directly (the painter,
    diffusers' profile guidance) do so; others rely on the prompt. `on_step(done, total)`
    reports progress within slow generations (denoising steps); fast backends may ignore it.
    """

    name: str

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int = 1,
        seed: int | None = None,
        size: tuple[int, int] = (512, 512),
        profile: UserProfile | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[GeneratedImage]: ...
