"""The `diffusers:` generator: SD-Turbo, SDXL-Turbo, FLUX.1-schnell or any text-to-image pipeline.

    diffusers:stabilityai/sd-turbo                         a hub id (in the local cache)
    diffusers:/models/my-sdxl?steps=25&guidance=6&dtype=fp16&offload=1
    diffusers:stabilityai/sdxl-turbo?profile_guidance=1&guidance_weight=0.85
    diffusers:runwayml/stable-diffusion-v1-5?ip_adapter=1   image prompts through h94/IP-Adapter

The pipeline is loaded once, on first use, and reused. Each image has its own seed (a
CPU `torch.Generator`, so a seed gives the same image on any device and in any batch);
images are made `batch_size` at a time with `num_images_per_prompt`. Sampling defaults
follow the model family (`diffusers_options`). What every image was made with (model,
steps, guidance, size, seed, prompts) is returned in `GeneratedImage.params`, which the
run folder and report keep, so each image can be made again. Options: see
`DiffusersOptions`. Images beside the prompt (img2img, IP-Adapter image prompts): see
`conditioning.py`; the generator lists what its pipeline takes in `conditioning`.
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
from agentpref.generators.base import GeneratedImage, ImageConditioning
from agentpref.generators.diffusers.options import (
    IMG2IMG_FAMILIES,
    DiffusersOptions,
    Family,
    check_size,
    defaults_for,
    family_of,
    img2img_steps,
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


def _diffusers(name: str) -> Any:
    """The diffusers module (with torch), or an InputError saying how to install it."""
    try:
        import diffusers
        import torch  # noqa: F401  (diffusers without torch imports, then fails on use)
    except ImportError:
        raise InputError(f"{name}: needs torch and diffusers, not installed here: {_INSTALL}") from None
    return diffusers


def _is_out_of_memory(err: BaseException) -> bool:
    import torch

    oom: Any = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    return isinstance(err, oom) or "out of memory" in str(err).lower()


class DiffusersGenerator:
    """A diffusers text-to-image pipeline behind agentpref's `Generator` protocol."""

    def __init__(self, model: str, **options: Any) -> None:
        model, query = _split(model)
        if not model.strip():
            raise InputError("diffusers: needs a model id or folder, e.g. diffusers:stabilityai/sd-turbo")
        self.model = model
        self.name = f"diffusers:{model}"
        self.options = self._options({**query, **options})
        self._pipe: Any = None
        self._img2img_pipe: Any = None
        self._family: Family = "other"
        self._pipeline_class: str | None = None
        self._ip_adapter: str | None = None  # the loaded IP-Adapter's label
        self._lock = threading.Lock()

    def _options(self, values: dict[str, Any]) -> DiffusersOptions:
        from pydantic import ValidationError

        from agentpref.io import describe_validation

        try:
            return DiffusersOptions(**values)
        except ValidationError as err:
            option, reason = describe_validation(err)  # no option: a rule across options
            raise InputError(
                f"{self.name}: {f'option {option}' if option else 'options'}: {reason}"
            ) from None

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

    def _cannot_load(self, err: Exception, source: str) -> BackendError:
        hint = "" if Path(source).is_dir() else "; not a folder, and not in the Hugging Face cache"
        return BackendError(f"{self.name}: cannot load the pipeline ({type(err).__name__}: {err}){hint}")

    @property
    def conditioning(self) -> frozenset[str]:
        """What this pipeline takes beside the prompt: "img2img" (SD, SDXL, Flux) and "image_prompts"
        (SD, SDXL with `ip_adapter=`). Read from model_index.json; no weights are loaded."""
        if self._pipeline_class is None:
            DiffusionPipeline = _diffusers(self.name).DiffusionPipeline
            source = self._source()
            try:
                self._pipeline_class = str(DiffusionPipeline.load_config(source)["_class_name"])
            except (OSError, ValueError, KeyError) as err:
                raise self._cannot_load(err, source) from None
        family = family_of(self._pipeline_class)
        kinds = {"img2img"} if family in IMG2IMG_FAMILIES else set()
        if self.options.ip_adapter is not None:
            from agentpref.generators.diffusers.conditioning import ip_adapter_files

            ip_adapter_files(self.options, family, self.name)  # refuses a family without IP-Adapters
            kinds.add("image_prompts")
        return frozenset(kinds)

    def pipeline(self) -> Any:
        """The loaded pipeline (loaded on first call, once)."""
        with self._lock:
            if self._pipe is None:
                self._pipe = self._load()
            return self._pipe

    def _img2img(self) -> Any:
        """The image-to-image pipeline sharing the loaded one's components (made once)."""
        pipe = self.pipeline()
        with self._lock:
            if self._img2img_pipe is None:
                auto = _diffusers(self.name).AutoPipelineForImage2Image
                self._img2img_pipe = auto.from_pipe(pipe)
                self._img2img_pipe.set_progress_bar_config(disable=True)
            return self._img2img_pipe

    def _load(self) -> Any:
        DiffusionPipeline = _diffusers(self.name).DiffusionPipeline
        import torch

        source = self._source()
        device = self.options.device or pick_device(torch)
        dtype = getattr(torch, self.options.dtype) if self.options.dtype else pick_dtype(torch, device)
        try:
            pipe = DiffusionPipeline.from_pretrained(source, dtype=dtype)
        except (OSError, ValueError) as err:
            raise self._cannot_load(err, source) from None
        self._pipeline_class = type(pipe).__name__
        self._family = family_of(self._pipeline_class)
        if self.options.ip_adapter is not None:  # before placement: the encoder moves with the rest
            from agentpref.generators.diffusers.conditioning import load_ip_adapter

            self._ip_adapter = load_ip_adapter(pipe, self.options, self._family, self.name)
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
        conditioning: ImageConditioning | None = None,
    ) -> list[GeneratedImage]:
        import torch

        if n < 1:
            raise InputError(f"n: need at least one image, got {n}")
        kinds = conditioning.kinds() if conditioning is not None else frozenset()
        if kinds and (missing := kinds - self.conditioning):
            takes = ", ".join(sorted(self.conditioning)) or "no images"
            raise InputError(f"{self.name} cannot take {', '.join(sorted(missing))} (it takes {takes})")
        pipe = self.pipeline()
        width, height = check_size(self.options.size or size, getattr(pipe, "vae_scale_factor", 8) * 2)
        base = int(seed) if seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        defaults = defaults_for(self._family, self.model)
        steps = self.options.steps or defaults.steps
        guidance = defaults.guidance if self.options.guidance is None else self.options.guidance
        kwargs, extra = self._image_kwargs(conditioning, (width, height), steps)
        target = self._img2img() if "img2img" in kinds else pipe
        call_params = set(inspect.signature(target.__call__).parameters)
        prompt_kwargs, notes, used_negative = self._prompt_kwargs(
            target, prompt, negative_prompt, profile, call_params
        )
        kwargs.update(prompt_kwargs)
        seen = self._prompt_seen(pipe, prompt)
        if negative_prompt and used_negative and guidance <= 1.0 and "negative_prompt" in call_params:
            notes.append(
                "the negative prompt has no effect at guidance <= 1 (classifier-free guidance is off)"
            )
        kwargs.setdefault("num_inference_steps", steps)
        kwargs["guidance_scale"] = guidance
        if "width" in call_params:  # image-to-image SD/SDXL take the size of the init image
            kwargs.update(width=width, height=height)
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
                    # img2img skips the start of the schedule: the total is what the pipeline runs
                    on_step(step + 1, getattr(pipe, "num_timesteps", None) or steps)
                    return tensors

                step_kwargs["callback_on_step_end"] = step_end
            start = time.perf_counter()
            pictures = self._call(
                target,
                dict(kwargs, num_images_per_prompt=count, generator=generators, **step_kwargs),
                f"{width}x{height}",
            )
            seconds = (time.perf_counter() - start) / count
            for image_seed, picture in zip(seeds, pictures, strict=True):
                params = {
                    "model": self.model,
                    "pipeline": type(target).__name__,
                    "steps": kwargs["num_inference_steps"],
                    "guidance": guidance,
                    "size": f"{width}x{height}",
                    "dtype": str(getattr(pipe, "dtype", "")).replace("torch.", ""),
                    "profile_guidance": self.options.guidance_weight if "prompt_embeds" in kwargs else 0.0,
                    **extra,
                    "seconds": round(seconds, 3),
                }
                if "img2img" in kinds:
                    params["denoising_steps"] = getattr(target, "num_timesteps", None) or steps
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

    def _image_kwargs(
        self, conditioning: ImageConditioning | None, size: tuple[int, int], steps: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The call's image inputs, and what the params record of them."""
        from agentpref.generators.diffusers.conditioning import fit, image_prompt_kwargs, pixels_hash

        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if conditioning is not None and conditioning.init_image is not None:
            strength = conditioning.strength
            kwargs.update(
                image=fit(conditioning.init_image, size),
                strength=strength,
                num_inference_steps=img2img_steps(steps, strength),
            )
            extra.update(strength=strength, init_image=pixels_hash(conditioning.init_image))
        if self._ip_adapter is not None:  # loaded: the UNet needs image embeddings on every call
            prompt_kwargs, scale = image_prompt_kwargs(self._pipe, conditioning)
            kwargs.update(prompt_kwargs)
            count = len(conditioning.image_prompts) if conditioning is not None else 0
            extra.update(ip_adapter=self._ip_adapter, image_prompt_scale=scale, image_prompts=count)
        return kwargs, extra

    def _prompt_kwargs(
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

    def _call(self, pipe: Any, kwargs: dict[str, Any], size: str) -> list[Any]:
        import torch

        try:
            with torch.inference_mode():
                return list(pipe(**kwargs).images)
        except Exception as err:
            if _is_out_of_memory(err):
                raise BackendError(
                    f"{self.name} ran out of memory making {kwargs['num_images_per_prompt']} image(s) at "
                    f"{size} on {self._device}: {_MEMORY_KNOBS}"
                ) from None
            raise BackendError(f"{self.name}: generation failed ({type(err).__name__}: {err})") from err


def from_uri(rest: str, **options: Any) -> DiffusersGenerator:
    """The `diffusers:MODEL_OR_PATH[?options]` backend."""
    return DiffusersGenerator(rest, **options)
