"""Tiny random diffusers pipelines (SD1, SDXL, Flux) built offline for the generator tests.

The diffusers generator and its profile guidance are tested on these folders, so this file
checks what that code relies on: each folder loads through `DiffusionPipeline.from_pretrained`
as its family's pipeline class, draws a 64x64 image in 2 steps, repeats itself for a seed,
and accepts the embeddings its own `encode_prompt` returns in place of the prompt. The
folders come from the session fixtures in conftest.py (built once per cache).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("diffusers")

import torch

from agentpref.io import cache_dir
from agentpref.testing import tiny_diffusers
from agentpref.testing.tiny_diffusers import FAMILIES, build_tiny_pipeline, recipe_key

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PIPELINE_CLASS = {
    "sd": "StableDiffusionPipeline",
    "sdxl": "StableDiffusionXLPipeline",
    "flux": "FluxPipeline",
}
# Real Turbo/schnell settings use no guidance; SD/SDXL also run classifier-free guidance here.
GUIDANCE = {"sd": 5.0, "sdxl": 5.0, "flux": 0.0}
PROMPT = "a watercolor painting of a red fox, soft pastel colors"
NEGATIVE = "blurry, oversaturated"


@pytest.fixture(scope="module")
def pipes(tiny_sd: Path, tiny_sdxl: Path, tiny_flux: Path) -> dict[str, Any]:
    from diffusers import DiffusionPipeline

    loaded = {}
    for family, folder in {"sd": tiny_sd, "sdxl": tiny_sdxl, "flux": tiny_flux}.items():
        pipe = DiffusionPipeline.from_pretrained(folder)
        pipe.set_progress_bar_config(disable=True)
        loaded[family] = pipe
    return loaded


def _run(pipe: Any, family: str, seed: int = 0, **inputs: Any) -> Any:
    """A 64x64 image in 2 steps as a (1, 3, 64, 64) tensor in 0..1."""
    extra = {"max_sequence_length": 32} if family == "flux" else {}
    generator = torch.Generator().manual_seed(seed)
    return pipe(
        num_inference_steps=2,
        height=64,
        width=64,
        guidance_scale=GUIDANCE[family],
        generator=generator,
        output_type="pt",
        **extra,
        **inputs,
    ).images


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_folder_loads_as_its_family_and_draws_64px_images_repeatably(
    family: str, pipes: dict[str, Any]
) -> None:
    pipe = pipes[family]
    assert type(pipe).__name__ == PIPELINE_CLASS[family]
    first = _run(pipe, family, seed=7, prompt=PROMPT)
    again = _run(pipe, family, seed=7, prompt=PROMPT)
    other = _run(pipe, family, seed=8, prompt=PROMPT)
    assert first.shape == (1, 3, 64, 64)
    assert torch.isfinite(first).all() and first.min() >= 0.0 and first.max() <= 1.0
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    # A PIL image, the form a generator hands on.
    generator = torch.Generator().manual_seed(7)
    kwargs = {"max_sequence_length": 32} if family == "flux" else {}
    image = pipe(PROMPT, num_inference_steps=2, height=64, width=64, generator=generator, **kwargs).images[0]
    assert image.size == (64, 64) and image.mode == "RGB"


@pytest.mark.slow
def test_sd_pipeline_default_size_is_64px(pipes: dict[str, Any]) -> None:
    generator = torch.Generator().manual_seed(0)
    for family in ("sd", "sdxl"):
        out = pipes[family](
            PROMPT, num_inference_steps=1, guidance_scale=0.0, generator=generator, output_type="pt"
        )
        assert out.images.shape == (1, 3, 64, 64)


@pytest.mark.slow
def test_sd_accepts_the_embeddings_of_its_own_encode_prompt(pipes: dict[str, Any]) -> None:
    pipe = pipes["sd"]
    embeds, negative = pipe.encode_prompt(PROMPT, "cpu", 1, True, negative_prompt=NEGATIVE)
    assert pipe.encode_prompt(PROMPT, "cpu", 1, False)[1] is None  # no guidance: no negative
    assert embeds.shape == negative.shape == (1, 77, 32)
    assert not torch.equal(embeds, negative)
    from_text = _run(pipe, "sd", prompt=PROMPT, negative_prompt=NEGATIVE)
    from_embeds = _run(pipe, "sd", prompt_embeds=embeds, negative_prompt_embeds=negative)
    assert torch.allclose(from_text, from_embeds, atol=1e-5)
    # Changed embeddings change the picture: they really steer the UNet.
    steered = _run(pipe, "sd", prompt_embeds=embeds + 1.0, negative_prompt_embeds=negative)
    assert not torch.allclose(from_text, steered, atol=1e-3)


@pytest.mark.slow
def test_sdxl_accepts_the_embeddings_of_its_own_encode_prompt(pipes: dict[str, Any]) -> None:
    pipe = pipes["sdxl"]
    embeds, negative, pooled, negative_pooled = pipe.encode_prompt(
        PROMPT,
        device="cpu",
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=NEGATIVE,
    )
    # Both encoders' penultimate states side by side (32 + 48); the pooled one is the second's.
    assert embeds.shape == negative.shape == (1, 77, 80)
    assert pooled.shape == negative_pooled.shape == (1, 48)
    from_text = _run(pipe, "sdxl", prompt=PROMPT, negative_prompt=NEGATIVE)
    from_embeds = _run(
        pipe,
        "sdxl",
        prompt_embeds=embeds,
        negative_prompt_embeds=negative,
        pooled_prompt_embeds=pooled,
        negative_pooled_prompt_embeds=negative_pooled,
    )
    assert torch.allclose(from_text, from_embeds, atol=1e-5)
    steered = _run(
        pipe,
        "sdxl",
        prompt_embeds=embeds,
        negative_prompt_embeds=negative,
        pooled_prompt_embeds=pooled + 1.0,
        negative_pooled_prompt_embeds=negative_pooled,
    )
    assert not torch.allclose(from_text, steered, atol=1e-3)


@pytest.mark.slow
def test_flux_accepts_the_embeddings_of_its_own_encode_prompt(pipes: dict[str, Any]) -> None:
    pipe = pipes["flux"]
    embeds, pooled, text_ids = pipe.encode_prompt(PROMPT, device="cpu", max_sequence_length=32)
    assert embeds.shape == (1, 32, 32)  # T5 states, padded to max_sequence_length
    assert pooled.shape == (1, 32)  # CLIP's pooled output
    assert text_ids.shape == (32, 3)
    from_text = _run(pipe, "flux", prompt=PROMPT)
    from_embeds = _run(pipe, "flux", prompt_embeds=embeds, pooled_prompt_embeds=pooled)
    assert torch.allclose(from_text, from_embeds, atol=1e-5)
    # Flux has no negative branch in encode_prompt: a negative is a second call, used with true CFG.
    negative, negative_pooled, _ = pipe.encode_prompt(NEGATIVE, device="cpu", max_sequence_length=32)
    cfg_text = _run(pipe, "flux", prompt=PROMPT, negative_prompt=NEGATIVE, true_cfg_scale=2.0)
    cfg_embeds = _run(
        pipe,
        "flux",
        prompt_embeds=embeds,
        pooled_prompt_embeds=pooled,
        negative_prompt_embeds=negative,
        negative_pooled_prompt_embeds=negative_pooled,
        true_cfg_scale=2.0,
    )
    assert torch.allclose(cfg_text, cfg_embeds, atol=1e-5)
    assert not torch.allclose(cfg_text, from_text, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_build_is_cached_under_a_recipe_key_and_reused(family: str, request: pytest.FixtureRequest) -> None:
    folder: Path = request.getfixturevalue(f"tiny_{family}")
    assert folder == cache_dir() / "models" / f"tiny-{family}-{recipe_key(family)}"
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == PIPELINE_CLASS[family]
    stamp = (folder / "model_index.json").stat().st_mtime_ns
    assert build_tiny_pipeline(family) == folder  # found, not rebuilt
    assert (folder / "model_index.json").stat().st_mtime_ns == stamp
    assert len({recipe_key(f) for f in FAMILIES}) == len(FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_builds_are_byte_identical(family: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    cached: Path = request.getfixturevalue(f"tiny_{family}")
    fresh = build_tiny_pipeline(family, tmp_path / "fresh")  # type: ignore[arg-type]
    files = sorted(p.relative_to(cached) for p in cached.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert [f for f in files if (cached / f).read_bytes() != (fresh / f).read_bytes()] == []
    assert not [p for p in tmp_path.iterdir() if p.name != "fresh"]  # no staging folder left behind


def test_build_refuses_a_folder_holding_something_else(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match=str(tmp_path)):
        build_tiny_pipeline("sd", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unknown_family_is_named() -> None:
    with pytest.raises(ValueError, match="'sd3'"):
        build_tiny_pipeline("sd3")  # type: ignore[arg-type]


@pytest.mark.slow
def test_clip_tokenizer_files_alone_give_the_same_tokens(tiny_sd: Path, tmp_path: Path) -> None:
    """vocab.json + merges.txt are a complete CLIP tokenizer (what older readers load)."""
    from transformers import CLIPTokenizer

    shutil.copy(tiny_sd / "tokenizer" / "vocab.json", tmp_path)
    shutil.copy(tiny_sd / "tokenizer" / "merges.txt", tmp_path)
    from_files = CLIPTokenizer.from_pretrained(tmp_path)
    saved = CLIPTokenizer.from_pretrained(tiny_sd / "tokenizer")
    assert saved.model_max_length == 77
    text = "The painting of light, Color! 123 naïve"
    ids = saved(text).input_ids
    assert from_files(text).input_ids == ids
    assert ids[0] == saved.bos_token_id and ids[-1] == saved.eos_token_id
    assert "painting</w>" not in saved.convert_ids_to_tokens(ids)  # "paint" merged, "ing</w>" separate
    assert {"the</w>", "paint", "light</w>"} <= set(saved.convert_ids_to_tokens(ids))
    assert saved.decode(ids, skip_special_tokens=True) == "the painting of light , color ! 1 2 3 naïve"
    long = saved(" ".join(["word"] * 200), padding="max_length", truncation=True).input_ids
    assert len(long) == 77


@pytest.mark.slow
def test_t5_tokenizer_keeps_known_words_whole_and_spells_out_the_rest(tiny_flux: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_flux / "tokenizer_2")
    assert (tok.pad_token_id, tok.eos_token_id, tok.unk_token_id) == (0, 1, 2)
    pieces = tok.convert_ids_to_tokens(tok("a watercolor fox, Zebra").input_ids)
    assert pieces == [
        "\u2581a",
        "\u2581watercolor",
        "\u2581fox",
        ",",
        "\u2581",
        "Z",
        "e",
        "b",
        "r",
        "a",
        "</s>",
    ]
    assert tok.unk_token_id not in tok("ASCII text: 42% (ok)!").input_ids


@pytest.mark.slow
def test_cli_builds_the_named_families_and_rejects_unknown_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTPREF_CACHE", str(tmp_path))
    assert tiny_diffusers.main(["nope"]) == 2
    assert "nope" in capsys.readouterr().err
    assert tiny_diffusers.main(["flux"]) == 0
    family, folder = capsys.readouterr().out.strip().split("\t")
    assert family == "flux"
    assert Path(folder) == tmp_path / "models" / f"tiny-flux-{recipe_key('flux')}"
    assert (Path(folder) / "model_index.json").is_file()


# -- the tiny IP-Adapter ------------------------------------------------------------------


@pytest.mark.parametrize("family", ["sd", "sdxl"])
def test_tiny_ip_adapter_fits_every_cross_attention_of_its_pipeline(
    family: str, pipes: dict[str, Any], tiny_ip_adapter: Path
) -> None:
    from safetensors import safe_open

    from agentpref.generators.diffusers.options import IP_ADAPTER_FILES
    from agentpref.testing.tiny_ip_adapter import EMBED_DIM

    subfolder, weight = IP_ADAPTER_FILES[family]  # the layout of h94/IP-Adapter
    with safe_open(tiny_ip_adapter / subfolder / weight, framework="pt") as f:
        keys = set(f.keys())
    cross = [
        i for i, name in enumerate(pipes[family].unet.attn_processors) if name.endswith("attn2.processor")
    ]
    assert {k for k in keys if k.startswith("ip_adapter.")} == {
        f"ip_adapter.{i}.{kv}_ip.weight" for i in cross for kv in ("to_k", "to_v")
    }
    assert {k for k in keys if k.startswith("image_proj.")} == {
        f"image_proj.{p}.{w}" for p in ("proj", "norm") for w in ("weight", "bias")
    }
    from transformers import CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection.from_pretrained(tiny_ip_adapter / subfolder / "image_encoder")
    assert encoder.config.projection_dim == EMBED_DIM[family]


def test_tiny_ip_adapter_is_cached_and_builds_byte_identically(tiny_ip_adapter: Path, tmp_path: Path) -> None:
    from agentpref.testing.tiny_ip_adapter import build_tiny_ip_adapter, ip_adapter_key, main

    assert tiny_ip_adapter == cache_dir() / "models" / f"tiny-ip-adapter-{ip_adapter_key()}"
    assert build_tiny_ip_adapter() == tiny_ip_adapter  # found, not rebuilt
    fresh = build_tiny_ip_adapter(tmp_path / "fresh")
    files = sorted(p.relative_to(tiny_ip_adapter) for p in tiny_ip_adapter.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert [f for f in files if (tiny_ip_adapter / f).read_bytes() != (fresh / f).read_bytes()] == []
    assert main(["extra"]) == 2
