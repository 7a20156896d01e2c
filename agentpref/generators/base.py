"""The `Generator` protocol every image backend implements."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentpref.images.png import DEFAULT_LEVEL, encode_png
from agentpref.profile import Element, UserProfile

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

    def png_bytes(self, level: int = DEFAULT_LEVEL) -> bytes:
        """The image as PNG, compressed at zlib `level` (fast by default: see `agentpref.images.png`)."""
        return encode_png(self.image, level)


@dataclass(frozen=True)
class ImageConditioning:
    """Images that steer a generation beside its prompt (what the loop's refine step asks for).

    `init_image`: img2img, start from this picture and move `strength` of the way (0 keeps it,
    1 ignores it) toward the prompt. `image_prompts`: IP-Adapter, pictures the result should
    resemble, at `image_prompt_scale`. `variation`: the seed's picture with the decisions about
    some elements drawn again (`{Element.ART_STYLES: 2}`: its second other composition), for
    generators whose randomness is separable by element (the painter). A generator lists what
    it can do in its `conditioning` attribute ("img2img", "image_prompts", "variation"); the
    loop only asks for what is listed there.
    """

    init_image: Image.Image | None = None
    strength: float = 0.5
    image_prompts: tuple[Image.Image, ...] = ()
    image_prompt_scale: float = 0.5
    variation: Mapping[Element, int] = field(default_factory=dict)

    def kinds(self) -> frozenset[str]:
        """What this conditioning needs from a generator."""
        return frozenset(
            [
                *(["img2img"] if self.init_image is not None else []),
                *(["image_prompts"] if self.image_prompts else []),
                *(["variation"] if any(self.variation.values()) else []),
            ]
        )


@runtime_checkable
class Generator(Protocol):
    """Turns a prompt (and optionally the profile behind it) into images.

    `seed` is the first image's seed; image i uses `seed + i`, so every candidate is
    reproducible alone. `profile` lets backends that can use it directly (the painter,
    diffusers' profile guidance) do so; others rely on the prompt. `on_step(done, total)`
    reports progress within slow generations (denoising steps); fast backends may ignore it.

    A generator that can take images besides the prompt names the kinds in a `conditioning`
    attribute (a frozenset of "img2img", "image_prompts", "variation") and accepts a `conditioning:
    ImageConditioning | None` keyword; the loop passes that keyword only to such generators.
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
