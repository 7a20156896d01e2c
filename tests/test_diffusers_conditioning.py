"""Images beside the prompt in the `diffusers:` generator: img2img and IP-Adapter image prompts.

Run on the tiny random pipelines and the tiny random IP-Adapter (`agentpref.testing`), so
the pictures are noise; what is checked is what reaches the denoiser: img2img starts from
latents made of the init image, image prompts arrive as image embeddings at the asked
scale, and a generator with an IP-Adapter but no image prompts makes the picture it makes
without one.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

pytest.importorskip("diffusers")
import torch
from PIL import Image

from agentpref.backends import load_generator
from agentpref.errors import BackendError, InputError
from agentpref.generators.base import ImageConditioning
from agentpref.generators.diffusers.options import DEFAULT_IP_ADAPTER, img2img_steps

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = "?steps=2"
RED = Image.new("RGB", (64, 64), (220, 30, 30))
BLUE = Image.new("RGB", (96, 64), (20, 40, 200))  # another aspect ratio: fitted to the size asked


def _denoiser_inputs(pipe: Any) -> list[dict[str, Any]]:
    """Record what every call of the pipeline's UNet (or Flux transformer) receives."""
    denoiser = getattr(pipe, "unet", None) or pipe.transformer
    calls: list[dict[str, Any]] = []

    def record(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        latents = args[0] if args else kwargs.get("sample", kwargs.get("hidden_states"))
        scales = sorted({s for p in module.attn_processors.values() for s in getattr(p, "scale", [])})
        calls.append({"latents": latents.clone(), "added": kwargs.get("added_cond_kwargs"), "scales": scales})

    denoiser.register_forward_pre_hook(record, with_kwargs=True)
    return calls


@pytest.mark.parametrize("family", ["tiny_sd", "tiny_sdxl", "tiny_flux"])
def test_img2img_starts_from_latents_of_the_init_image(family, request):
    generator = load_generator(f"diffusers:{request.getfixturevalue(family)}{FAST}")
    assert "img2img" in generator.conditioning
    inputs = _denoiser_inputs(generator.pipeline())  # img2img shares the denoiser: one hook sees both
    progress: list[tuple[int, int]] = []

    def run(init: Image.Image) -> Any:
        [image] = generator.generate(
            "a lighthouse",
            seed=4,
            size=(64, 64),
            on_step=lambda i, n: progress.append((i, n)),
            conditioning=ImageConditioning(init_image=init, strength=0.5),
        )
        return image

    red, blue, red_again = run(RED), run(BLUE), run(RED)
    assert len(inputs) == 3  # one denoising step each: int(2 steps * strength 0.5)
    red_start, blue_start, red_again_start = (call["latents"] for call in inputs)
    assert torch.equal(red_start, red_again_start)  # a seed and an init image give one start...
    assert not torch.allclose(red_start, blue_start)  # ...another init image, another start
    generator.generate("a lighthouse", seed=4, size=(64, 64))
    assert not torch.allclose(inputs[3]["latents"], red_start)  # not the text-to-image noise
    assert blue.image.size == (64, 64)  # the 96x64 init was fitted to the size asked
    assert red.params["pipeline"].endswith("Img2ImgPipeline")
    assert red.params["strength"] == 0.5 and red.params["steps"] == 2 and red.params["denoising_steps"] == 1
    assert red.params["init_image"] == red_again.params["init_image"] != blue.params["init_image"]
    assert progress == [(1, 1)] * 3  # the progress display reaches its total: the steps that ran


def test_img2img_shares_the_loaded_pipeline_and_runs_at_least_one_step(tiny_sd):
    generator = load_generator(f"diffusers:{tiny_sd}?steps=1")  # a 1-step (Turbo) setting
    progress: list[tuple[int, int]] = []
    [image] = generator.generate(
        "a lighthouse",
        seed=1,
        size=(64, 64),
        on_step=lambda i, n: progress.append((i, n)),
        conditioning=ImageConditioning(init_image=RED, strength=0.5),
    )
    assert image.params["steps"] == 2 and image.params["denoising_steps"] == 1 and progress == [(1, 1)]
    img2img, text2img = generator._img2img(), generator.pipeline()
    assert img2img is generator._img2img()  # made once
    assert img2img.unet is text2img.unet and img2img.vae is text2img.vae  # no second load


def test_img2img_steps_follow_the_strength():
    assert img2img_steps(30, 0.5) == 30  # diffusers runs int(30 * 0.5) = 15 of them
    assert img2img_steps(1, 0.5) == 2  # SD-Turbo at strength 0.5: 2 scheduled, 1 run
    assert img2img_steps(1, 0.3) == 4 and int(4 * 0.3) == 1
    assert img2img_steps(4, 1.0) == 4
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="strength"):
            img2img_steps(2, bad)


@pytest.mark.parametrize("family", ["tiny_sd", "tiny_sdxl"])
def test_image_prompts_reach_the_unet_as_image_embeddings(family, tiny_ip_adapter, request):
    folder = request.getfixturevalue(family)
    generator = load_generator(f"diffusers:{folder}{FAST}&ip_adapter={tiny_ip_adapter}")
    assert generator.conditioning == {"img2img", "image_prompts"}
    inputs = _denoiser_inputs(generator.pipeline())

    def run(*prompts: Image.Image, scale: float = 0.7) -> Any:
        conditioning = ImageConditioning(image_prompts=prompts, image_prompt_scale=scale) if prompts else None
        [image] = generator.generate(
            "a lighthouse", "blurry", seed=2, size=(64, 64), conditioning=conditioning
        )
        return image, inputs[-1]

    (red, red_in), (_, blue_in), (_, red_again_in) = run(RED), run(BLUE), run(RED)
    (both, both_in), (plain, plain_in) = run(RED, BLUE), run()
    embeds = {name: call["added"]["image_embeds"][0] for name, call in
              {"red": red_in, "blue": blue_in, "again": red_again_in, "both": both_in}.items()}  # fmt: skip
    assert torch.equal(embeds["red"], embeds["again"])
    assert not torch.allclose(embeds["red"], embeds["blue"])  # the picture is what steers
    assert embeds["both"].shape[1] == 2 and embeds["red"].shape[1] == 1  # every reference arrives
    assert red_in["scales"] == [0.7] and plain_in["scales"] == [0.0]  # the scale asked, per call
    assert red.params["image_prompt_scale"] == 0.7 and both.params["image_prompts"] == 2
    assert red.params["ip_adapter"].endswith(
        ("models/ip-adapter_sd15.safetensors", "ip-adapter_sdxl.safetensors")
    )
    assert plain.params["image_prompt_scale"] == 0.0 and plain.params["image_prompts"] == 0
    # With the adapter loaded but no image prompts, the picture is the adapter-free one.
    [without] = load_generator(f"diffusers:{folder}{FAST}").generate(
        "a lighthouse", "blurry", seed=2, size=(64, 64)
    )
    assert plain.png_bytes() == without.png_bytes()


def test_image_prompts_and_img2img_combine(tiny_sd, tiny_ip_adapter):
    generator = load_generator(f"diffusers:{tiny_sd}{FAST}&ip_adapter={tiny_ip_adapter}")
    inputs = _denoiser_inputs(generator._img2img())
    conditioning = ImageConditioning(
        init_image=RED, strength=0.5, image_prompts=(BLUE,), image_prompt_scale=0.4
    )
    [image] = generator.generate("a lighthouse", seed=3, size=(64, 64), conditioning=conditioning)
    assert image.params["pipeline"] == "StableDiffusionImg2ImgPipeline"
    assert image.params["strength"] == 0.5 and image.params["image_prompt_scale"] == 0.4
    assert inputs[-1]["scales"] == [0.4] and inputs[-1]["added"]["image_embeds"][0].shape[1] == 1


def test_the_ip_adapter_is_loaded_once_with_the_pipeline(tiny_sd, tiny_ip_adapter, monkeypatch):
    from diffusers import StableDiffusionPipeline

    loads: list[str] = []
    original = StableDiffusionPipeline.load_ip_adapter

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs["weight_name"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionPipeline, "load_ip_adapter", counting)
    generator = load_generator(f"diffusers:{tiny_sd}{FAST}&ip_adapter={tiny_ip_adapter}")
    assert generator.conditioning == {"img2img", "image_prompts"} and loads == []  # nothing loaded yet
    for _ in range(2):
        generator.generate(
            "a lighthouse", seed=1, size=(64, 64), conditioning=ImageConditioning(image_prompts=(RED,))
        )
    assert loads == ["ip-adapter_sd15.safetensors"]  # the SD 1.5 default of h94/IP-Adapter's layout


def test_an_image_encoder_folder_of_its_own(tiny_sd, tiny_ip_adapter, tmp_path):
    weights = tmp_path / "adapter"
    (weights / "models").mkdir(parents=True)
    shutil.copy(tiny_ip_adapter / "models" / "ip-adapter_sd15.safetensors", weights / "models")
    with pytest.raises(BackendError, match=r"cannot load the IP-Adapter ip_adapter=.*adapter"):
        load_generator(f"diffusers:{tiny_sd}{FAST}&ip_adapter={weights}").pipeline()  # no encoder inside
    encoder = tiny_ip_adapter / "models" / "image_encoder"
    generator = load_generator(f"diffusers:{tiny_sd}{FAST}&ip_adapter={weights}&image_encoder={encoder}")
    [image] = generator.generate(
        "x", seed=1, size=(64, 64), conditioning=ImageConditioning(image_prompts=(RED,))
    )
    assert image.params["image_prompts"] == 1


def test_kinds_a_generator_does_not_list_are_refused_by_name(tiny_sd, tiny_flux, tiny_ip_adapter):
    plain = load_generator(f"diffusers:{tiny_sd}{FAST}")
    assert plain.conditioning == {"img2img"}
    with pytest.raises(InputError, match=r"cannot take image_prompts \(it takes img2img\)"):
        plain.generate("x", size=(64, 64), conditioning=ImageConditioning(image_prompts=(RED,)))
    flux = load_generator(f"diffusers:{tiny_flux}{FAST}&ip_adapter={tiny_ip_adapter}")
    with pytest.raises(InputError, match=r"ip_adapter: image prompts need a Stable Diffusion"):
        flux.conditioning  # noqa: B018  (reading it is what refuses)


def test_ip_adapter_mistakes_name_the_option(tiny_sd, tiny_ip_adapter):
    assert load_generator("diffusers:/nowhere?ip_adapter=1").options.ip_adapter == DEFAULT_IP_ADAPTER
    bad = {
        "ip_adapter_weight=../up.safetensors&ip_adapter=x": "ip_adapter_weight",
        "ip_adapter_weight=adapter.txt&ip_adapter=x": "ip_adapter_weight",
        "ip_adapter_subfolder=../up&ip_adapter=x": "ip_adapter_subfolder",
        "ip_adapter_weight=a.safetensors": "ip_adapter_weight given without ip_adapter",
        "image_encoder=/enc": "image_encoder given without ip_adapter",
        "ip_adapter=": "ip_adapter",
    }
    for query, named in bad.items():
        with pytest.raises(InputError, match=named):
            load_generator(f"diffusers:/nowhere?{query}")
    # SDXL's adapter in an SD pipeline: the shapes do not fit, and the error says which files.
    mismatched = load_generator(
        f"diffusers:{tiny_sd}{FAST}&ip_adapter={tiny_ip_adapter}&ip_adapter_subfolder=sdxl_models"
        "&ip_adapter_weight=ip-adapter_sdxl.safetensors"
    )
    with pytest.raises(
        BackendError, match=r"ip_adapter_subfolder=sdxl_models, ip_adapter_weight=ip-adapter_sdxl"
    ):
        mismatched.pipeline()
    scaled = load_generator(f"diffusers:{tiny_sd}{FAST}&ip_adapter={tiny_ip_adapter}")
    with pytest.raises(InputError, match="image_prompt_scale -1"):
        scaled.generate(
            "x", size=(64, 64), conditioning=ImageConditioning(image_prompts=(RED,), image_prompt_scale=-1)
        )
