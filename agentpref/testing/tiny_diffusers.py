"""Tiny, randomly initialised diffusers pipelines (SD1, SDXL, Flux), built offline.

Every image-generator code path is tested on these folders: each has the real pipeline
class, component classes, scheduler and tokenizers of its family in 1-2.5 MB, so tests
exercise real diffusers/transformers code (save, `DiffusionPipeline.from_pretrained`,
`encode_prompt`, the denoising loop, VAE decoding) without downloading anything. The sizes
follow the diffusers test suite's dummy components, but keep the invariants of the real
models that caller code may rely on: a VAE that downsamples by 8, 4 latent channels for
SD/SDXL and 16 packed into 64 for Flux, SDXL's two text encoders of different widths, a
default 64x64 image for SD/SDXL. Images are noise.

    python -m agentpref.testing.tiny_diffusers [sd|sdxl|flux ...]  # build (or find), print folders
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from collections import Counter
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal, get_args

from agentpref.io import cache_dir
from agentpref.testing.folders import build_atomically

Family = Literal["sd", "sdxl", "flux"]
FAMILIES: tuple[Family, ...] = get_args(Family)
SEED = 0
CLIP_MAX_LENGTH = 77
T5_MAX_LENGTH = 512  # FluxPipeline refuses max_sequence_length > 512

# CLIP's BPE: merges in priority order; each pair's parts must already be tokens.
# A handful is enough to exercise merging; everything else falls back to single bytes.
CLIP_MERGES_TEXT = (
    "t h|th e</w>|a n|an d</w>|i n|in g</w>|o f</w>|o n</w>|e r|a r|a t|o r</w>|c o|co l|col or</w>"
    "|p a|pa in|pain t|s t|g h|gh t</w>|l i|li ght</w>"
)
CLIP_MERGES = [tuple(pair.split(" ")) for pair in CLIP_MERGES_TEXT.split("|")]

# What the T5 tokenizer's unigram model is fitted on: the kind of text a generator gets.
T5_CORPUS: tuple[str, ...] = (
    "a watercolor painting of a quiet harbour at dawn, soft pastel colors, loose brushwork",
    "an oil painting of a mountain village, warm earthy tones, thick impasto texture",
    "a minimalist flat illustration of a red fox, muted palette, clean vector shapes",
    "a cyberpunk city street at night, neon magenta and cyan, high contrast, rain",
    "a pencil sketch of an old oak tree, monochrome, fine cross-hatching, high detail",
    "a vibrant pop art portrait, saturated primary colors, bold outlines, halftone dots",
    "an ink wash landscape, traditional Chinese painting, low saturation, digital 3D render",
    "ukiyo-e woodblock print of a great wave, indigo and white, flat color areas, photo",
    "1234567890 !?.,:;'\"()-_/&+#%",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz",
)


def recipe_key(family: Family) -> str:
    """16 hex digits of sha256 over this module's source, diffusers' major.minor and the family."""
    major_minor = ".".join(version("diffusers").split(".")[:2])
    digest = hashlib.sha256(Path(__file__).read_bytes() + major_minor.encode() + family.encode())
    return digest.hexdigest()[:16]


def default_path(family: Family) -> Path:
    return cache_dir() / "models" / f"tiny-{family}-{recipe_key(family)}"


def is_pipeline_folder(path: Path) -> bool:
    """A finished folder: the pipeline index and the denoiser's weights (written by one rename)."""
    denoiser = next((d for d in ("unet", "transformer") if (path / d).is_dir()), None)
    return (
        (path / "model_index.json").is_file()
        and denoiser is not None
        and any((path / denoiser).glob("*.safetensors"))
    )


def _check_family(family: str) -> Family:
    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: expected one of {', '.join(FAMILIES)}")
    return family  # type: ignore[return-value]


# -- tokenizers ---------------------------------------------------------------------------


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's byte-level alphabet: the character standing for each byte 0..255, in byte order."""
    printable = {*range(33, 127), *range(161, 173), *range(174, 256)}  # stand for themselves
    others = iter(range(256, 512))  # the rest, in byte order
    return [chr(b if b in printable else next(others)) for b in range(256)]


def clip_vocab() -> tuple[dict[str, int], list[str]]:
    """CLIP's vocab.json and merges.txt lines: bytes, bytes + "</w>", merged tokens, then the two specials."""
    alphabet = _bytes_to_unicode()
    tokens = [*alphabet, *(c + "</w>" for c in alphabet)]
    known = set(tokens)
    for left, right in CLIP_MERGES:
        if left not in known or right not in known:
            raise ValueError(f"CLIP_MERGES: {left!r} + {right!r} merges a part that is not yet a token")
        if left + right not in known:
            tokens.append(left + right)
            known.add(left + right)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    merges = ["#version: 0.2", *(f"{left} {right}" for left, right in CLIP_MERGES)]
    return {t: i for i, t in enumerate(tokens)}, merges


def build_clip_tokenizer() -> Any:
    """A CLIPTokenizer over `clip_vocab()` (CLIP's own BPE settings come with the class)."""
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab()
    pairs = [tuple(line.split(" ")) for line in merges[1:]]
    return CLIPTokenizer(vocab=vocab, merges=pairs, model_max_length=CLIP_MAX_LENGTH)


def write_clip_files(folder: Path) -> None:
    """vocab.json + merges.txt, the layout of real SD/SDXL/Flux repos (older readers need them)."""
    vocab, merges = clip_vocab()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "merges.txt").write_text("\n".join(merges) + "\n", encoding="utf-8")


def t5_vocab() -> list[tuple[str, float]]:
    """A unigram model fitted by counting `T5_CORPUS`: T5's specials, words, then single characters.

    Word pieces score their log frequency; characters score below any word, so known words
    stay whole and anything else spells out (no <unk> for the corpus' characters). Counting
    instead of tokenizers' UnigramTrainer keeps the scores bit-identical across builds.
    """
    words = Counter("\u2581" + w for text in T5_CORPUS for w in re.findall(r"[^\W_]+", text))
    total = sum(words.values())
    floor = math.log(1 / total) - 1.0
    chars = sorted({c for text in T5_CORPUS for c in text if not c.isspace()} | {"\u2581"})
    pieces = sorted(((w, math.log(n / total)) for w, n in words.items()), key=lambda p: (-p[1], p[0]))
    pieces += [(c, floor - 1.0) for c in chars if c not in words]
    return [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces]  # T5's ids 0, 1, 2


def build_t5_tokenizer() -> Any:
    """A T5 tokenizer over `t5_vocab()` (T5's Unigram model and pre-tokenizer come with the class)."""
    from transformers import T5TokenizerFast

    return T5TokenizerFast(vocab=t5_vocab(), extra_ids=0, model_max_length=T5_MAX_LENGTH)


# -- components ---------------------------------------------------------------------------


def _clip_config(tokenizer: Any, hidden_size: int, projection_dim: int | None = None) -> Any:
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        projection_dim=projection_dim or hidden_size,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CLIP_MAX_LENGTH,
        hidden_act="gelu",
        # CLIP pools the hidden state at the first eos; ids must be this tokenizer's.
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _vae(latent_channels: int, scaling_factor: float, shift_factor: float | None = None) -> Any:
    """Four blocks like every real SD/SDXL/Flux VAE, so images are 8x the latent size."""
    from diffusers import AutoencoderKL

    flux = shift_factor is not None
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=4,
        sample_size=64,
        scaling_factor=scaling_factor,
        shift_factor=shift_factor,
        use_quant_conv=not flux,  # Flux's VAE has no quant convs
        use_post_quant_conv=not flux,
    )


def _turbo_scheduler() -> Any:
    """Euler with SD's training betas and trailing spacing (SD-Turbo/SDXL-Turbo's), fine at 1-2 steps."""
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="trailing",
    )


def _unet(**config: Any) -> Any:
    """SD's UNet layout at toy width: 8x8 latents (the pipelines' default 64x64 image), two levels."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        **config,
    )


def build_sd() -> Any:
    import torch
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTextModel

    tokenizer = build_clip_tokenizer()
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(_clip_config(tokenizer, hidden_size=32))
    torch.manual_seed(SEED)
    unet = _unet(cross_attention_dim=32, attention_head_dim=2)  # the UNet reads it as a head count
    torch.manual_seed(SEED)
    vae = _vae(latent_channels=4, scaling_factor=0.18215)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=_turbo_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build_sdxl() -> Any:
    import torch
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    # Two encoders of different widths (SDXL: 768 and 1280), so code that mixes them up fails.
    width_1, width_2, time_dim = 32, 48, 8
    tokenizer, tokenizer_2 = build_clip_tokenizer(), build_clip_tokenizer()
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(_clip_config(tokenizer, hidden_size=width_1))
    torch.manual_seed(SEED)
    text_encoder_2 = CLIPTextModelWithProjection(_clip_config(tokenizer_2, hidden_size=width_2))
    torch.manual_seed(SEED)
    unet = _unet(
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        # Cross-attention reads both encoders' penultimate states, concatenated.
        cross_attention_dim=width_1 + width_2,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        # 6 micro-conditioning numbers (sizes, crop) embedded at time_dim each + the pooled text.
        projection_class_embeddings_input_dim=6 * time_dim + width_2,
    )
    torch.manual_seed(SEED)
    vae = _vae(latent_channels=4, scaling_factor=0.13025)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=_turbo_scheduler(),
    )


def build_flux() -> Any:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    clip_width, t5_width, latent_channels = 32, 32, 16
    tokenizer, tokenizer_2 = build_clip_tokenizer(), build_t5_tokenizer()
    torch.manual_seed(SEED)
    text_encoder = CLIPTextModel(_clip_config(tokenizer, hidden_size=clip_width))
    torch.manual_seed(SEED)
    text_encoder_2 = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer_2),
            d_model=t5_width,
            d_kv=8,
            d_ff=2 * t5_width,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            feed_forward_proj="gated-gelu",  # T5 v1.1, as in Flux's t5-v1_1-xxl
            is_encoder_decoder=False,
            use_cache=False,
            pad_token_id=tokenizer_2.pad_token_id,
            eos_token_id=tokenizer_2.eos_token_id,
            decoder_start_token_id=tokenizer_2.pad_token_id,
        )
    )
    torch.manual_seed(SEED)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * latent_channels,  # 2x2 latent patches are packed into tokens
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=t5_width,
        pooled_projection_dim=clip_width,
        axes_dims_rope=(4, 4, 8),  # sums to attention_head_dim
        guidance_embeds=False,  # FLUX.1-schnell's shape: no distilled guidance input
    )
    torch.manual_seed(SEED)
    vae = _vae(latent_channels=latent_channels, scaling_factor=0.3611, shift_factor=0.1159)
    return FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),  # its defaults are FLUX.1-schnell's settings
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        text_encoder_2=text_encoder_2,
        tokenizer_2=tokenizer_2,
        transformer=transformer,
    )


BUILDERS = {"sd": build_sd, "sdxl": build_sdxl, "flux": build_flux}


def build_pipeline(family: Family) -> Any:
    """The pipeline object itself, in memory (random weights, seeded)."""
    pipe = BUILDERS[_check_family(family)]()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_pipeline(family: Family, path: Path | None = None) -> Path:
    """The folder of a tiny random pipeline of `family` ("sd", "sdxl" or "flux"), built once.

    With no `path`, the folder lives in the agentpref cache under a key of this recipe,
    diffusers' version and the family, so a changed recipe builds a new one. The pipeline
    is saved to a temporary folder beside the target and renamed into place, so a killed
    build leaves nothing half-made and concurrent builders agree on the result. An existing
    complete folder is returned as is. Load it with `DiffusionPipeline.from_pretrained`.
    """
    family = _check_family(family)
    target = Path(path) if path is not None else default_path(family)

    def write(staging: Path) -> None:
        pipe = build_pipeline(family)
        pipe.save_pretrained(staging, safe_serialization=True)
        for name in ("tokenizer", "tokenizer_2"):
            if type(getattr(pipe, name, None)).__name__ == "CLIPTokenizer":
                write_clip_files(staging / name)

    return build_atomically(target, write, is_pipeline_folder, "pipeline folder")


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in FAMILIES]
    if unknown:
        usage = f"usage: python -m agentpref.testing.tiny_diffusers [{'|'.join(FAMILIES)} ...]"
        print(f"{usage}\nunknown family: {', '.join(unknown)}", file=sys.stderr)
        return 2
    for family in argv or FAMILIES:
        print(f"{family}\t{build_tiny_pipeline(family)}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
