"""A random-weight DreamSim checkpoint in DreamSim's own cache layout, built offline.

`dreamsim.dreamsim(pretrained=True, cache_dir=...)` downloads its weights (GitHub release
zips) unless the cache folder already holds the files its model type needs. For
`dreamsim_type="clip_vitb32"` those are (dreamsim 0.2.1, `dreamsim/model.py` and
`feature_extraction/load_clip_as_dino.py`):

- `clip_vitb32_pretrain.pth.tar`: `{"state_dict": ...}` of DreamSim's DINO-style ViT-B/32
  (`vit_base(patch_size=32)`, with `pos_drop` replaced by a LayerNorm(768)), plus a
  float32 `proj` (768 x 512) that maps the CLS token to CLIP's embedding;
- `clip_vitb32_single_lora/`: a peft LoRA adapter on the attention `qkv` layers
  (`adapter_config.json` + weights), loaded with `PeftModel.from_pretrained`.

This module writes exactly those, with seeded random weights and the LoRA settings of
DreamSim's single-model training config (r 16, alpha 32, dropout 0.2), so the real DreamSim
code path (extractor, LoRA, preprocessing, embedding) runs on a machine with no network.
Its similarities are those of a random network: a function of the pixels, not of human
perception.

    python -m agentpref.testing.tiny_dreamsim [DIR]   # build (or find) the folder, print its path
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from importlib.metadata import version
from pathlib import Path

from agentpref.io import cache_dir
from agentpref.testing.folders import build_atomically

DREAMSIM_TYPE = "clip_vitb32"
PRETRAIN_FILE = "clip_vitb32_pretrain.pth.tar"
LORA_DIR = "clip_vitb32_single_lora"
EMBED_DIM = 768  # ViT-B width
PROJ_DIM = 512  # CLIP ViT-B/32 embedding size
PATCH_SIZE = 32
# DreamSim's configs/train_single_model_lora.yaml.
LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.2, "bias": "none", "target_modules": ["qkv"]}
LORA_INIT_STD = 0.02  # peft starts lora_B at zero (a no-op adapter); random makes the adapter matter
SEED = 0


def recipe_key() -> str:
    """A hash of this recipe and the dreamsim/peft versions that read its output."""
    versions = "|".join(".".join(version(p).split(".")[:2]) for p in ("dreamsim", "peft"))
    return hashlib.sha256(Path(__file__).read_bytes() + versions.encode()).hexdigest()[:16]


def default_path() -> Path:
    return cache_dir() / "models" / f"dreamsim-random-{recipe_key()}"


def is_cache_folder(path: Path) -> bool:
    """True when `path` holds every file DreamSim checks before it would download."""
    return (path / PRETRAIN_FILE).is_file() and (path / LORA_DIR / "adapter_config.json").is_file()


def _write(folder: Path) -> None:
    import torch
    from dreamsim.config import dreamsim_args
    from dreamsim.feature_extraction.vision_transformer import vit_base
    from dreamsim.model import PerceptualModel
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(SEED)
    vit = vit_base(patch_size=PATCH_SIZE)
    vit.pos_drop = torch.nn.LayerNorm(EMBED_DIM)  # what load_clip_as_dino expects to find
    state = {k: v.detach().clone() for k, v in vit.state_dict().items()}
    state["proj"] = torch.randn(EMBED_DIM, PROJ_DIM, dtype=torch.float32) * EMBED_DIM**-0.5
    torch.save({"state_dict": state}, folder / PRETRAIN_FILE)

    # The adapter is made the way DreamSim's training made it: LoRA on the perceptual
    # model built from the backbone just written, saved by peft.
    model = PerceptualModel(
        **dreamsim_args["model_config"][DREAMSIM_TYPE],
        device="cpu",
        load_dir=str(folder),
        normalize_embeds=True,
    )
    peft_model = get_peft_model(model, LoraConfig(**LORA))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.normal_(0.0, LORA_INIT_STD)
    peft_model.save_pretrained(str(folder / LORA_DIR))
    for path in folder.rglob("*"):  # peft writes its weights private; the cache is shared
        path.chmod(0o755 if path.is_dir() else 0o644)


def build_dreamsim_cache(path: Path | None = None) -> Path:
    """The folder to pass as DreamSim's `cache_dir` (with `dreamsim_type="clip_vitb32"`); built if missing.

    With no `path` it lives in the agentpref cache under a key of this recipe. It is written
    to a temporary folder beside the target and renamed into place, so a killed build
    leaves nothing half-made and concurrent builders agree. The weights depend only on the
    recipe (seeded), so rebuilding gives the same model. ~350 MB, ~10 s; building the
    default folder removes those of older recipes.
    """
    target = Path(path) if path is not None else default_path()
    if is_cache_folder(target):
        return target
    build_atomically(target, _write, is_cache_folder, "DreamSim cache folder")
    if path is None:  # ~350 MB each: drop checkpoints of older recipes
        for old in target.parent.glob("dreamsim-random-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agentpref.testing.tiny_dreamsim",
        description="Build the random-weight DreamSim cache folder (cached) and print it.",
    )
    parser.add_argument("folder", nargs="?", type=Path, help="build here instead of the cache")
    print(build_dreamsim_cache(parser.parse_args(argv).folder))


if __name__ == "__main__":
    main()
