"""A tiny random IP-Adapter for the tiny SD1 and SDXL pipelines, built offline.

The folder has the layout of the real `h94/IP-Adapter` repository, so the `diffusers:`
generator's production defaults (subfolder and weight name per family, the image encoder
in `SUBFOLDER/image_encoder`) are what the tests load:

    models/ip-adapter_sd15.safetensors        image_proj.* + ip_adapter.* for tiny-sd's UNet
    models/image_encoder/                     a CLIPVisionModelWithProjection (config + weights)
    sdxl_models/ip-adapter_sdxl.safetensors   the same for tiny-sdxl's UNet
    sdxl_models/image_encoder/

The weights follow the original IP-Adapter format that `load_ip_adapter` reads: `image_proj`
is the plain IP-Adapter projection (a linear map from the image embedding to 4 tokens of
the UNet's cross-attention width, then a LayerNorm); `ip_adapter.{i}.to_k_ip/to_v_ip` are
the extra key/value maps of every cross-attention layer, `i` being the layer's index among
all of the UNet's attention processors (cross-attention ones are the odd ones). Shapes are
read from the tiny pipelines' own UNets, so the two cannot drift apart. The image encoders
of the two families have different embedding widths, as the real ViT-H and ViT-bigG do.

    python -m agentpref.testing.tiny_ip_adapter   # build (or find), print the folder
"""

from __future__ import annotations

import hashlib
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from agentpref.generators.diffusers.options import IP_ADAPTER_FILES
from agentpref.io import cache_dir
from agentpref.testing.folders import build_atomically
from agentpref.testing.tiny_diffusers import build_pipeline, recipe_key

SEED = 0
FAMILIES: tuple[Literal["sd", "sdxl"], ...] = ("sd", "sdxl")  # the families with IP-Adapters
ENCODER_IMAGE_SIZE = 32  # load_ip_adapter sizes its CLIPImageProcessor from the encoder's config
EMBED_DIM = {"sd": 24, "sdxl": 40}  # the image embedding width per family (real: 1024 and 1280)
IMAGE_TOKENS = 4  # what a plain IP-Adapter projects one image embedding into


def ip_adapter_key() -> str:
    """16 hex digits of sha256 over this module, the tiny pipelines' recipes and transformers' major.minor."""
    major_minor = ".".join(version("transformers").split(".")[:2])
    parts = [Path(__file__).read_bytes(), major_minor.encode(), *(recipe_key(f).encode() for f in FAMILIES)]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def default_path() -> Path:
    return cache_dir() / "models" / f"tiny-ip-adapter-{ip_adapter_key()}"


def is_ip_adapter_folder(path: Path) -> bool:
    """A finished folder: every family's weight file and image encoder (written by one rename)."""
    return all(
        (path / subfolder / weight).is_file()
        and (path / subfolder / "image_encoder" / "model.safetensors").is_file()
        for subfolder, weight in (IP_ADAPTER_FILES[f] for f in FAMILIES)
    )


def build_image_encoder(embed_dim: int) -> Any:
    """A two-layer CLIP vision tower with a projection to `embed_dim` (random, seeded)."""
    import torch
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(SEED)
    return CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            projection_dim=embed_dim,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=ENCODER_IMAGE_SIZE,
            patch_size=8,
        )
    )


def ip_adapter_state_dict(unet: Any, embed_dim: int) -> dict[str, Any]:
    """Random IP-Adapter weights for `unet`, flat, in the original format's key layout."""
    import torch

    generator = torch.Generator().manual_seed(SEED)

    def random(*shape: int) -> Any:
        return torch.randn(*shape, generator=generator) * 0.1

    width = unet.config.cross_attention_dim
    tensors = {
        "image_proj.proj.weight": random(IMAGE_TOKENS * width, embed_dim),
        "image_proj.proj.bias": random(IMAGE_TOKENS * width),
        "image_proj.norm.weight": torch.ones(width),
        "image_proj.norm.bias": torch.zeros(width),
    }
    modules = dict(unet.named_modules())
    for index, name in enumerate(unet.attn_processors):
        if name.endswith("attn2.processor"):  # cross-attention: it gets image keys and values
            hidden = modules[name.removesuffix(".processor")].to_k.out_features
            tensors[f"ip_adapter.{index}.to_k_ip.weight"] = random(hidden, width)
            tensors[f"ip_adapter.{index}.to_v_ip.weight"] = random(hidden, width)
    return tensors


def build_tiny_ip_adapter(path: Path | None = None) -> Path:
    """The tiny IP-Adapter folder (see the module docs), built once.

    With no `path` it lives in the agentpref cache under a key of this recipe and the tiny
    pipelines' recipes, written to a temporary sibling and renamed into place like the tiny
    pipelines. Pass it as `diffusers:TINY_SD?ip_adapter=FOLDER`.
    """
    target = Path(path) if path is not None else default_path()

    def write(staging: Path) -> None:
        from safetensors.torch import save_file

        for family in FAMILIES:
            subfolder, weight = IP_ADAPTER_FILES[family]
            folder = staging / subfolder
            folder.mkdir(parents=True)
            unet = build_pipeline(family).unet
            save_file(ip_adapter_state_dict(unet, EMBED_DIM[family]), str(folder / weight))
            build_image_encoder(EMBED_DIM[family]).save_pretrained(folder / "image_encoder")

    return build_atomically(target, write, is_ip_adapter_folder, "tiny IP-Adapter folder")


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m agentpref.testing.tiny_ip_adapter", file=sys.stderr)
        return 2
    print(build_tiny_ip_adapter())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
