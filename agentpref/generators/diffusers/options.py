"""Options of the `diffusers:` generator, and the defaults each model family wants.

Distilled models are sampled differently from their bases: SD-Turbo and SDXL-Turbo in 1
step without classifier-free guidance, FLUX.1-schnell in about 4 steps without guidance
(at most 256 T5 tokens), FLUX.1-dev in ~28 steps with embedded guidance 3.5, SD 1.x/2.x
and SDXL bases in ~30 steps with guidance 7.5 / 5. The family is read from the
pipeline's class (model_index.json) and the model's name.

Image conditioning: SD, SDXL and Flux pipelines also run image-to-image (the loop's
img2img exploitation), and SD/SDXL take image prompts through an IP-Adapter; the defaults
name the files of the real `h94/IP-Adapter` repository.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentpref.errors import InputError

Family = Literal["sd", "sdxl", "flux", "other"]

IMG2IMG_FAMILIES: frozenset[Family] = frozenset({"sd", "sdxl", "flux"})  # AutoPipelineForImage2Image
DEFAULT_IP_ADAPTER = "h94/IP-Adapter"
# (subfolder, weight file) of the plain IP-Adapter per family, as laid out in h94/IP-Adapter;
# the image encoder is SUBFOLDER/image_encoder there (ViT-H for SD 1.5, ViT-bigG for SDXL).
IP_ADAPTER_FILES: dict[Family, tuple[str, str]] = {
    "sd": ("models", "ip-adapter_sd15.safetensors"),
    "sdxl": ("sdxl_models", "ip-adapter_sdxl.safetensors"),
}
_YES = {"1", "true", "yes", "on", "default"}


class DiffusersOptions(BaseModel):
    """Query parameters of `diffusers:MODEL?...` (or keyword arguments of `DiffusersGenerator`)."""

    model_config = ConfigDict(extra="forbid")

    steps: int | None = Field(None, ge=1, le=500, description="denoising steps (default: per family)")
    guidance: float | None = Field(None, ge=0, le=50, description="guidance scale (default: per family)")
    size: tuple[int, int] | None = Field(None, description="WIDTHxHEIGHT overriding the loop's size")
    device: str | None = Field(None, description="cuda, mps or cpu (default: the best available)")
    dtype: Literal["float32", "float16", "bfloat16"] | None = Field(
        None, description="default: bfloat16 on cuda when supported, float16 on mps, float32 on cpu"
    )
    batch_size: int = Field(4, ge=1, description="images per pipeline call (num_images_per_prompt)")
    offload: bool = Field(False, description="model CPU offload: far less GPU memory, slower")
    vae_slicing: bool = Field(False, description="decode a batch one image at a time")
    vae_tiling: bool = Field(False, description="decode large images in tiles")
    profile_guidance: bool = Field(False, description="ViPer-style profile embeddings (SD, SDXL)")
    guidance_weight: float = Field(0.85, ge=0, le=1, description="blend weight of the profile embeddings")
    max_sequence_length: int | None = Field(None, ge=16, le=512, description="T5 tokens (Flux)")
    ip_adapter: str | None = Field(
        None, description=f"IP-Adapter repo or folder for image prompts (SD, SDXL; 1 = {DEFAULT_IP_ADAPTER})"
    )
    ip_adapter_subfolder: str | None = Field(
        None, description="its subfolder (default: models for SD 1.x, sdxl_models for SDXL)"
    )
    ip_adapter_weight: str | None = Field(
        None,
        description="its weight file (default: ip-adapter_sd15.safetensors, ip-adapter_sdxl.safetensors)",
    )
    image_encoder: str | None = Field(
        None,
        description="CLIP image encoder folder or hub id (default: SUBFOLDER/image_encoder of ip_adapter)",
    )

    @field_validator("size", mode="before")
    @classmethod
    def _parse_size(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                w, h = (int(v) for v in value.lower().split("x"))
            except ValueError:
                raise ValueError(f"size must look like 512x512, got {value!r}") from None
            return (w, h)
        return value

    @field_validator("ip_adapter", mode="before")
    @classmethod
    def _default_ip_adapter(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("name a repo id or a folder, or 1 for " + DEFAULT_IP_ADAPTER)
        return DEFAULT_IP_ADAPTER if str(value).lower() in _YES else value

    @field_validator("ip_adapter_weight")
    @classmethod
    def _weight_file(cls, value: str | None) -> str | None:
        if value is not None and (
            not value.endswith((".safetensors", ".bin")) or "/" in value or "\\" in value
        ):
            raise ValueError(
                "must be a file name ending in .safetensors or .bin (the folder goes in ip_adapter)"
            )
        return value

    @field_validator("ip_adapter_subfolder")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        # A path inside the repo ("" is its top): a hub download or a folder join must not leave it.
        parts = (value or "").replace("\\", "/").split("/")
        if value is not None and (value.startswith(("/", "\\")) or ".." in parts):
            raise ValueError("must be a relative path inside the IP-Adapter repo, without '..'")
        return value

    @model_validator(mode="after")
    def _ip_adapter_parts_need_it(self) -> DiffusersOptions:
        parts = ("ip_adapter_subfolder", "ip_adapter_weight", "image_encoder")
        stray = [name for name in parts if getattr(self, name) is not None]
        if stray and self.ip_adapter is None:
            raise ValueError(f"{', '.join(stray)} given without ip_adapter (the IP-Adapter repo or folder)")
        return self

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype_alias(cls, value: object) -> object:
        aliases = {
            "fp32": "float32",
            "float": "float32",
            "fp16": "float16",
            "half": "float16",
            "bf16": "bfloat16",
        }
        return aliases.get(str(value).lower(), value) if value is not None else None


@dataclass(frozen=True)
class FamilyDefaults:
    steps: int
    guidance: float
    negative_prompt: bool  # whether the pipeline takes one
    embeddings: bool  # whether profile guidance can blend its prompt embeddings


def family_of(pipeline_class: str) -> Family:
    name = pipeline_class.lower()
    if "flux" in name:
        return "flux"
    if "xl" in name:
        return "sdxl"
    if name.startswith("stablediffusion"):
        return "sd"
    return "other"


def defaults_for(family: Family, model: str) -> FamilyDefaults:
    """Sampling defaults for a model, from its family and name (e.g. "...-turbo", "...schnell")."""
    name = model.lower()
    if family == "flux":
        return (
            FamilyDefaults(4, 0.0, False, False)
            if "schnell" in name
            else FamilyDefaults(28, 3.5, False, False)
        )
    if family in ("sd", "sdxl"):
        if "turbo" in name or "lightning" in name:
            return FamilyDefaults(1, 0.0, True, True)
        return FamilyDefaults(30, 7.5 if family == "sd" else 5.0, True, True)
    return FamilyDefaults(30, 5.0, True, False)


def img2img_steps(steps: int, strength: float) -> int:
    """The `num_inference_steps` for an image-to-image call that runs about `steps * strength` steps.

    Pipelines skip the first (1 - strength) of the schedule, so 1-step models (SD-Turbo)
    would run none at strength < 1: the schedule is lengthened until at least one step runs
    (SD-Turbo at strength 0.5 gets 2 scheduled steps, runs 1), as their model cards advise.
    """
    if not 0.0 < strength <= 1.0:
        raise InputError(f"strength {strength}: img2img strength must be within 0 (exclusive) and 1")
    scheduled = max(steps, math.ceil(1 / strength))
    while int(scheduled * strength) < 1:  # the pipelines' own rounding
        scheduled += 1
    if scheduled > 1000:
        raise InputError(f"strength {strength}: too small to run a single denoising step; use 0.001 or more")
    return scheduled


def check_size(size: tuple[int, int], multiple: int) -> tuple[int, int]:
    """The size, checked: positive, within 4096, and a multiple of the VAE's scale."""
    w, h = size
    if not (multiple <= w <= 4096 and multiple <= h <= 4096):
        raise InputError(f"size {w}x{h}: each side must be within {multiple}..4096 px")
    if w % multiple or h % multiple:
        raise InputError(f"size {w}x{h}: both sides must be multiples of {multiple} for this pipeline")
    return size
