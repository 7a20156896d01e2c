"""The `diffusers:` generator on tiny random SD1, SDXL-shaped and Flux-shaped pipelines.

The pipelines are built offline by `agentpref.testing.tiny_diffusers` and loaded through
`diffusers:FOLDER`, exactly as a user's local model folder is. Random weights make noise
pictures; what is checked is what a user relies on: the loop runs, seeds reproduce
images, the conditioning follows the profile, errors name the model and the knob.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("diffusers")
import torch

from agentpref.backends import load_generator
from agentpref.cli.main import main
from agentpref.errors import BackendError, InputError
from agentpref.profile import Profile, UserProfile

FAST = "?steps=2"
TEAL = UserProfile(likes=Profile(color=["Teal"], saturation=["Muted"]), dislikes=Profile(color=["Crimson"]))
AMBER = UserProfile(likes=Profile(color=["Amber"], detail=["Intricate"]), dislikes=Profile(color=["Navy"]))


@pytest.fixture(params=["tiny_sd", "tiny_sdxl", "tiny_flux"])
def tiny_pipeline(request) -> Path:
    return request.getfixturevalue(request.param)


def test_a_seed_gives_the_same_image_and_batching_keeps_the_picture(tiny_pipeline):
    generator = load_generator(f"diffusers:{tiny_pipeline}{FAST}&batch_size=2")
    three = generator.generate("a lighthouse", "blurry", n=3, seed=11, size=(64, 64))
    again = generator.generate("a lighthouse", "blurry", n=3, seed=11, size=(64, 64))
    assert [g.seed for g in three] == [11, 12, 13]
    assert [g.png_bytes() for g in three] == [g.png_bytes() for g in again]  # exactly reproducible
    assert three[0].png_bytes() != three[1].png_bytes()
    # Seed 12 made second in a batch of two or alone: the same noise, so the same picture up to
    # the rounding of batched arithmetic.
    alone = generator.generate("a lighthouse", "blurry", n=1, seed=12, size=(64, 64))
    batched, single = (np.asarray(g.image, dtype=float) for g in (three[1], alone[0]))
    assert np.abs(batched - single).mean() < 1.0
    assert three[0].image.size == (64, 64)
    params = three[0].params
    assert params["steps"] == 2 and params["size"] == "64x64" and params["model"] == str(tiny_pipeline)


@pytest.mark.slow
def test_generate_runs_the_whole_loop_and_reproduces_with_the_same_seed(
    tiny_pipeline, example_refs, tmp_path
):
    runs = []
    for name in ("first", "again"):
        out = tmp_path / name
        result = CliRunner().invoke(
            main,
            ["generate", "--refs", str(example_refs), "--prompt", "a lighthouse", "--generator",
             f"diffusers:{tiny_pipeline}{FAST}", "-n", "2", "--iterations", "2", "--size", "64x64",
             "--seed", "5", "--out", str(out), "--json"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert (out / "report.html").is_file()
        runs.append(json.loads((out / "summary.json").read_text()))
    first, again = runs
    assert [c["sha256"] for c in first["candidates"]] == [c["sha256"] for c in again["candidates"]]
    candidate = first["candidates"][0]
    assert candidate["generator"] == f"diffusers:{tiny_pipeline}"
    assert candidate["params"]["steps"] == 2 and candidate["seed"] == 5 + 1000
    assert "steps" in (tmp_path / "first" / "report.html").read_text()


def _capture_call(generator) -> list[dict]:
    """Wrap the pipeline's __call__ to record the keyword arguments it receives."""
    pipe = generator.pipeline()
    calls: list[dict] = []
    original = type(pipe).__call__

    @functools.wraps(original)  # keeps the signature the generator inspects
    def recording(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    pipe.__class__ = type(type(pipe).__name__, (type(pipe),), {"__call__": recording})
    return calls


@pytest.mark.parametrize("family", ["tiny_sd", "tiny_sdxl"])
def test_profile_guidance_changes_the_conditioning_with_the_profile(family, request):
    folder = request.getfixturevalue(family)
    guided = load_generator(f"diffusers:{folder}{FAST}&profile_guidance=1&guidance_weight=0.85")
    plain = load_generator(f"diffusers:{folder}{FAST}")
    guided_calls, plain_calls = _capture_call(guided), _capture_call(plain)
    guided.generate("a lighthouse", "blurry", seed=1, size=(64, 64), profile=TEAL)
    guided.generate("a lighthouse", "blurry", seed=1, size=(64, 64), profile=AMBER)
    plain.generate("a lighthouse", "blurry", seed=1, size=(64, 64), profile=TEAL)

    teal, amber = guided_calls[0], guided_calls[1]
    assert "prompt" not in teal and "prompt_embeds" in teal
    baseline = plain_calls[0]
    assert baseline["prompt"] == "a lighthouse" and "prompt_embeds" not in baseline
    reference = plain.pipeline()
    from agentpref.generators.diffusers.guidance import encode

    kind = "sdxl" if family == "tiny_sdxl" else "sd"
    plain_embeds = encode(reference, kind, "a lighthouse", "blurry", torch.device("cpu"))
    for key, value in plain_embeds.items():
        assert not torch.allclose(teal[key], value), key  # guidance moved the conditioning...
        assert not torch.allclose(teal[key], amber[key]), key  # ...toward this profile in particular
    weightless = load_generator(f"diffusers:{folder}{FAST}&profile_guidance=1&guidance_weight=0")
    zero_calls = _capture_call(weightless)
    weightless.generate("a lighthouse", "blurry", seed=1, size=(64, 64), profile=TEAL)
    assert torch.allclose(zero_calls[0]["prompt_embeds"], plain_embeds["prompt_embeds"])


def test_flux_has_no_negative_prompt_or_embedding_guidance_and_says_so(tiny_flux):
    generator = load_generator(f"diffusers:{tiny_flux}{FAST}&profile_guidance=1")
    [image] = generator.generate("a lighthouse", "blurry", seed=3, size=(64, 64), profile=TEAL)
    assert image.negative_prompt is None
    assert any("no negative prompt" in n for n in image.notes)
    assert any("profile guidance needs" in n for n in image.notes)


def test_missing_folders_and_non_pipelines_are_named(tmp_path):
    with pytest.raises(BackendError, match=r"diffusers:/nowhere/model: no such model folder"):
        load_generator("diffusers:/nowhere/model").generate("x", size=(64, 64))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackendError, match=r"is not a diffusers pipeline folder \(no model_index.json\)"):
        load_generator(f"diffusers:{tmp_path}").generate("x", size=(64, 64))
    with pytest.raises(InputError, match=r"diffusers:/nowhere: option steps: .*greater than or equal to 1"):
        load_generator("diffusers:/nowhere?steps=0")


def test_out_of_memory_names_the_model_and_the_knobs(tiny_sd, monkeypatch):
    # No GPU here to exhaust: the pipeline raises what torch raises when one runs out.
    generator = load_generator(f"diffusers:{tiny_sd}{FAST}")
    pipe = generator.pipeline()

    def exhausted(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    pipe.__class__ = type(type(pipe).__name__, (type(pipe),), {"__call__": exhausted})
    with pytest.raises(BackendError) as err:
        generator.generate("a lighthouse", n=4, seed=1, size=(64, 64))
    message = str(err.value)
    assert f"diffusers:{tiny_sd}" in message and "ran out of memory making 4 image(s) at 64x64" in message
    assert "offload=1" in message and "batch_size=1" in message and "--size" in message


def test_a_prompt_the_text_encoder_cuts_is_reported_with_what_it_saw(tiny_sd):
    generator = load_generator(f"diffusers:{tiny_sd}{FAST}")
    [short] = generator.generate("a lighthouse at dawn", seed=1, size=(64, 64))
    assert "prompt_used" not in short.params
    long_prompt = "a lighthouse at dawn, " + ", ".join(f"detail number {i}" for i in range(60))
    [cut] = generator.generate(long_prompt, seed=1, size=(64, 64))
    seen = cut.params["prompt_used"]
    assert long_prompt.startswith(seen[:20]) and len(seen) < len(long_prompt)
    assert any("cut the prompt" in note for note in cut.notes)


def test_denoising_steps_are_reported_for_the_progress_display(tiny_sd):
    steps: list[tuple[int, int]] = []
    generator = load_generator(f"diffusers:{tiny_sd}?steps=3")
    generator.generate("a lighthouse", seed=1, size=(64, 64), on_step=lambda i, n: steps.append((i, n)))
    assert steps == [(1, 3), (2, 3), (3, 3)]
