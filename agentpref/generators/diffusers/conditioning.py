"""Images beside the prompt: img2img from an init image, and IP-Adapter image prompts.

img2img runs the image-to-image pipeline of the loaded one (`AutoPipelineForImage2Image.
from_pipe`: the same components, no second load). Image prompts need an IP-Adapter
(`ip_adapter=` in the URI), loaded into the pipeline once with it. Once loaded, every call
of the UNet expects image embeddings, so a call without image prompts passes a blank
image at scale 0: diffusers then skips the adapter's attention altogether, and the
picture is the one the pipeline makes without an adapter.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

from agentpref.errors import BackendError, InputError
from agentpref.generators.base import ImageConditioning
from agentpref.generators.diffusers.options import IP_ADAPTER_FILES, DiffusersOptions, Family

if TYPE_CHECKING:
    from PIL import Image

MAX_IMAGE_PROMPT_SCALE = 2.0


def pixels_hash(image: Image.Image) -> str:
    """A short content hash of an image's pixels (mode and size included), for the params."""
    digest = hashlib.sha256(f"{image.mode} {image.width}x{image.height} ".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:16]


def fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` as RGB at `size`: cropped to its aspect ratio around the centre, then resized."""
    from PIL import ImageOps

    rgb = image.convert("RGB")
    return rgb if rgb.size == size else ImageOps.fit(rgb, size)


def ip_adapter_files(options: DiffusersOptions, family: Family, name: str) -> tuple[str, str, str]:
    """(repo or folder, subfolder, weight file) of the configured IP-Adapter for this family."""
    assert options.ip_adapter is not None
    defaults = IP_ADAPTER_FILES.get(family)
    if defaults is None:
        raise InputError(
            f"{name}: ip_adapter: image prompts need a Stable Diffusion 1.x/2.x or SDXL pipeline, "
            f"not a {family} one; leave ip_adapter out"
        )
    subfolder = defaults[0] if options.ip_adapter_subfolder is None else options.ip_adapter_subfolder
    return options.ip_adapter, subfolder, options.ip_adapter_weight or defaults[1]


def load_ip_adapter(pipe: Any, options: DiffusersOptions, family: Family, name: str) -> str:
    """Load the configured IP-Adapter (and its image encoder) into `pipe`; returns its label for params."""
    repo, subfolder, weight = ip_adapter_files(options, family, name)
    label = "/".join(part for part in (repo, subfolder, weight) if part)
    if options.image_encoder is not None:
        from transformers import CLIPVisionModelWithProjection

        try:
            encoder = CLIPVisionModelWithProjection.from_pretrained(options.image_encoder, dtype=pipe.dtype)
        except (OSError, ValueError) as err:
            raise BackendError(
                f"{name}: cannot load the image encoder image_encoder={options.image_encoder} "
                f"({type(err).__name__}: {err})"
            ) from None
        pipe.register_modules(image_encoder=encoder)  # load_ip_adapter keeps a registered encoder
    try:
        pipe.load_ip_adapter(repo, subfolder=subfolder, weight_name=weight)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise BackendError(
            f"{name}: cannot load the IP-Adapter ip_adapter={repo}, ip_adapter_subfolder={subfolder}, "
            f"ip_adapter_weight={weight} ({type(err).__name__}: {err}); for {family} the weights must "
            "match the pipeline (and the image encoder the weights)"
        ) from None
    return label


def image_prompt_kwargs(pipe: Any, conditioning: ImageConditioning | None) -> tuple[dict[str, Any], float]:
    """The call's IP-Adapter inputs (with the adapter's scale set on `pipe`) and that scale."""
    from PIL import Image

    if conditioning is not None and conditioning.image_prompts:
        prompts, scale = conditioning.image_prompts, conditioning.image_prompt_scale
    else:
        prompts, scale = (), 0.0
    if not (math.isfinite(scale) and 0.0 <= scale <= MAX_IMAGE_PROMPT_SCALE):
        raise InputError(f"image_prompt_scale {scale}: must be within 0..{MAX_IMAGE_PROMPT_SCALE:g}")
    pipe.set_ip_adapter_scale(scale)
    # One adapter, several pictures: their tokens sit side by side in every cross-attention.
    images = [image.convert("RGB") for image in prompts] or [Image.new("RGB", (8, 8))]
    return {"ip_adapter_image": [images]}, scale
