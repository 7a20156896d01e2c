"""The `diffusers:` generator: SD-Turbo, SDXL-Turbo, FLUX.1-schnell or any text-to-image pipeline.

    diffusers:stabilityai/sd-turbo                         a hub id (in the local cache)
    diffusers:/models/my-sdxl?steps=25&guidance=6&dtype=fp16&offload=1
    diffusers:stabilityai/sdxl-turbo?profile_guidance=1&guidance_weight=0.85

The pipeline is loaded once, on first use, and reused. Each image has its own seed (a
CPU `torch.Generator`, so a seed gives the same image on any device and in any batch);
images are made `batch_size` at a time with `num_images_per_prompt`. Sampling defaults
follow the model family (`diffusers_options`). What every image was made with (model,
steps, guidance, size, seed, prompts) is returned in `GeneratedImage.params`, which the
run folder and report keep, so each image can be made again. Options: see
`DiffusersOptions`.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from agentpref.errors import BackendError, InputError
from agentpref.generators.base import GeneratedImage
from agentpref.generators.diffusers.options import (
    DiffusersOptions,
    Family,
    check_size,
    defaults_for,
    family_of,
)
from agentpref.profile import UserProfile
from agentpref.torch_device import pick_device, pick_dtype

_INSTALL = "pip install 'agentpref[diffusers]'"
_MEMORY_KNOBS = "lower --size, set batch_size=1, or add offload=1, vae_slicing=1 or vae_tiling=1 to the URI"


def _split(rest: str) -> tuple[str, dict[str, str]]:
    model, sep, query = rest.partition("?")
    if not sep or Path(rest).expanduser().exists():
        return rest, {}
    return model, dict(parse_qsl(query, keep_blank_values=True))


def _is_out_of_memory(err: BaseException) -> bool:
    import torch

    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(err, oom) or "out of memory" in str(err).lower()


class DiffusersGenerator:
    """A diffusers text-to-image pipeline behind agentpref's `Generator` protocol."""

    def __init__(self, model: str, **options: Any) -> None:
        model, query = _split(model)
        if not model.strip():
            raise InputError("diffusers: needs a model id or folder, e.g. diffusers:stabilityai/sd-turbo")
        self.options = DiffusersOptions(**{**query, **options})
        self.model = model
        self.name = f"diffusers:{model}"
        self._pipe: Any = None
        self._family: Family = "other"
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DiffusersGenerator({self.model!r})"

    # -- loading ---------------------------------------------------------------------------

    def _source(self) -> str:
        """The folder to load (checked) or the hub id; errors name the model and what is wrong."""
        path = Path(self.model).expanduser()
        if path.exists():
            if not (path / "model_index.json").is_file():
                raise BackendError(
                    f"{self.name}: {path} is not a diffusers pipeline folder (no model_index.json); "
                    "give the folder save_pretrained wrote, or a hub id"
                )
            return str(path.resolve())
        if self.model.startswith(("/", ".", "~")) or self.model.count("/") > 1:
            raise BackendError(f"{self.name}: no such model folder {path.absolute()}")
        return self.model

    def pipeline(self) -> Any:
        """The loaded pipeline (loaded on first call, once)."""
        with self._lock:
            if self._pipe is None:
                self._pipe = self._load()
            return self._pipe

    def _load(self) -> Any:
        try:
            import torch
            from diffusers import DiffusionPipeline
        except ImportError:
            raise InputError(
                f"{self.name}: needs torch and diffusers, not installed here: {_INSTALL}"
            ) from None
        source = self._source()
        device = self.options.device or pick_device(torch)
        dtype = getattr(torch, self.options.dtype) if self.options.dtype else pick_dtype(torch, device)
        try:
            pipe = DiffusionPipeline.from_pretrained(source, dtype=dtype)
        except (OSError, ValueError) as err:
            hint = "" if Path(source).is_dir() else "; not a folder, and not in the Hugging Face cache"
            raise BackendError(
                f"{self.name}: cannot load the pipeline ({type(err).__name__}: {err}){hint}"
            ) from None
        self._family = family_of(type(pipe).__name__)
        if self.options.offload:
            pipe.enable_model_cpu_offload(device=device)
        else:
            pipe.to(device)
        if self.options.vae_slicing:
            pipe.vae.enable_slicing()
        if self.options.vae_tiling:
            pipe.vae.enable_tiling()
        pipe.set_progress_bar_config(disable=True)  # progress goes to the loop's display instead
        self._device = device
        return pipe

    # -- generating ------------------------------------------------------------------------

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None = None,
        n: int = 1,
        seed: int | None = None,
        size: tuple[int, int] = (512, 512),
        profile: UserProfile | None = None,
        on_step: Callable[[int, int], None] | None = None,
    ) -> list[GeneratedImage]:
        import torch

        if n < 1:
            raise InputError(f"n: need at least one image, got {n}")
        pipe = self.pipeline()
        width, height = check_size(self.options.size or size, getattr(pipe, "vae_scale_factor", 8) * 2)
        base = int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        defaults = defaults_for(self._family, self.model)
        steps = self.options.steps or defaults.steps
        guidance = defaults.guidance if self.options.guidance is None else self.options.guidance
        call_params = set(inspect.signature(pipe.__call__).parameters)
        kwargs, notes, used_negative = self._conditioning(pipe, prompt, negative_prompt, profile, call_params)
        seen = self._prompt_seen(pipe, prompt)
        if negative_prompt and used_negative and guidance <= 1.0 and "negative_prompt" in call_params:
            notes.append(
                "the negative prompt has no effect at guidance <= 1 (classifier-free guidance is off)"
            )
        kwargs.update(num_inference_steps=steps, guidance_scale=guidance, width=width, height=height)
        if self._family == "flux":
            kwargs["max_sequence_length"] = self.options.max_sequence_length or 256
        images: list[GeneratedImage] = []
        done = 0
        while done < n:
            count = min(self.options.batch_size, n - done)
            seeds = [base + done + i for i in range(count)]
            generators = [torch.Generator("cpu").manual_seed(s) for s in seeds]
            step_kwargs = {}
            if on_step is not None and "callback_on_step_end" in call_params:

                def step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
                    on_step(step + 1, steps)
                    return tensors

                step_kwargs["callback_on_step_end"] = step_end
            start = time.perf_counter()
            pictures = self._call(
                pipe, dict(kwargs, num_images_per_prompt=count, generator=generators, **step_kwargs)
            )
            seconds = (time.perf_counter() - start) / count
            for image_seed, picture in zip(seeds, pictures, strict=True):
                params = {
                    "model": self.model,
                    "pipeline": type(pipe).__name__,
                    "steps": steps,
                    "guidance": guidance,
                    "size": f"{width}x{height}",
                    "dtype": str(getattr(pipe, "dtype", "")).replace("torch.", ""),
                    "profile_guidance": self.options.guidance_weight if "prompt_embeds" in kwargs else 0.0,
                    "seconds": round(seconds, 3),
                }
                if seen is not None:
                    params["prompt_used"] = seen
                images.append(
                    GeneratedImage(
                        image=picture.convert("RGB"),
                        seed=image_seed,
                        prompt=prompt,
                        negative_prompt=negative_prompt if used_negative else None,
                        backend=self.name,
                        params=params,
                        notes=list(notes),
                    )
                )
            done += count
        if seen is not None:
            for image in images:
                image.notes.append(
                    f"the text encoder cut the prompt after {seen[-40:]!r}; the rest was not seen"
                )
        return images

    def _conditioning(
        self,
        pipe: Any,
        prompt: str,
        negative: str | None,
        profile: UserProfile | None,
        call_params: set[str],
    ) -> tuple[dict[str, Any], list[str], bool]:
        """Prompt keyword arguments for the call, notes for the image, and whether the negative was used."""
        defaults = defaults_for(self._family, self.model)
        takes_negative = "negative_prompt" in call_params and defaults.negative_prompt
        notes: list[str] = []
        if negative and not takes_negative:
            notes.append(f"{type(pipe).__name__} takes no negative prompt; the dislikes were left out")
        if self.options.profile_guidance:
            if profile is not None and defaults.embeddings and "prompt_embeds" in call_params:
                from agentpref.generators.diffusers.guidance import guided_conditioning

                device = getattr(pipe, "_execution_device", None) or self._device
                conditioning = guided_conditioning(
                    pipe, self._family, prompt, negative, profile, self.options.guidance_weight, device
                )
                return conditioning, notes, True
            notes.append(
                "profile guidance needs Stable Diffusion or SDXL prompt embeddings and a profile; "
                "the prompt was used as written"
            )
        kwargs: dict[str, Any] = {"prompt": prompt}
        if takes_negative and negative:
            kwargs["negative_prompt"] = negative
        return kwargs, notes, bool(takes_negative and negative)

    def _prompt_seen(self, pipe: Any, prompt: str) -> str | None:
        """What the text encoder saw of a prompt it had to cut (None when it saw all of it)."""
        if self._family == "flux":  # T5 carries the prompt; CLIP only pools its start
            tokenizer, limit = getattr(pipe, "tokenizer_2", None), self.options.max_sequence_length or 256
        else:
            tokenizer = getattr(pipe, "tokenizer", None)
            limit = getattr(tokenizer, "model_max_length", 77)
        if tokenizer is None:
            return None
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        room = limit - 2  # start and end tokens
        if len(ids) <= room:
            return None
        return tokenizer.decode(ids[:room], skip_special_tokens=True).strip()

    def _call(self, pipe: Any, kwargs: dict[str, Any]) -> list[Any]:
        import torch

        try:
            with torch.inference_mode():
                return list(pipe(**kwargs).images)
        except Exception as err:
            if _is_out_of_memory(err):
                size = f"{kwargs['width']}x{kwargs['height']}"
                raise BackendError(
                    f"{self.name} ran out of memory making {kwargs['num_images_per_prompt']} image(s) at "
                    f"{size} on {self._device}: {_MEMORY_KNOBS}"
                ) from None
            raise BackendError(f"{self.name}: generation failed ({type(err).__name__}: {err})") from err


def from_uri(rest: str, **options: Any) -> DiffusersGenerator:
    """The `diffusers:MODEL_OR_PATH[?options]` backend."""
    return DiffusersGenerator(rest, **options)
