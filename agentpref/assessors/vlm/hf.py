"""The `hf:` assessor: PreferThinker (or any chat VLM) run in-process with transformers.

    hf:ZhouSimple/PreferThinker_model                   a hub id (transformers fetches or reuses it)
    hf:/models/preferthinker?device=cuda&batch_size=8   a model folder, with options

The same prompt layout and parser as the `vllm://` backend (`agentpref.preferthinker.requests`),
rendered with the model's own chat template and `add_vision_id=True` ("Picture N:"
labels), as in PreferThinker's evaluation. Concurrent requests (a round of a ranking,
the two passes of `swap`) are gathered into one left-padded `generate` call of up to
`batch_size` requests, run in a worker thread so the event loop stays free.

Options: `device` (default cuda, else mps, else cpu), `dtype` (default bfloat16 on cuda
when supported, else float16 on cuda/mps, float32 on cpu), `batch_size` (4), and every
`ModelOptions` field (`max_pixels`, `max_tokens`, `swap`, `mode`, ...). Structured outputs
need a vLLM server. torch and transformers are imported when the model is first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling
from agentpref.endpoints import validated
from agentpref.errors import AgentprefError, BackendError, InputError
from agentpref.images.decode import fit_pixels
from agentpref.preferthinker.requests import Request, to_hf_messages
from agentpref.torch_device import pick_device, pick_dtype

_DTYPE_NAMES = {"float32": ("fp32", "float"), "float16": ("fp16", "half"), "bfloat16": ("bf16",)}
DTYPES = {alias: name for name, aliases in _DTYPE_NAMES.items() for alias in (name, *aliases)}
_INSTALL = "pip install 'agentpref[hf]'"


# -- batching -------------------------------------------------------------------------------


@dataclass(eq=False)
class _Job:
    request: Request
    sampling: Sampling
    future: asyncio.Future[Completion] = field(repr=False)


class MicroBatcher:
    """Gathers concurrent requests with the same sampling into batches run by `run` in a thread.

    `run(requests, sampling)` returns one `Completion` per request, in order. A request
    waits at most `wait_s` for company when the queue holds less than a full batch. If a
    batch of several fails, its requests are run one by one, so one bad request (or a
    batch too large for the device) does not fail the others.
    """

    def __init__(
        self, run: Callable[[list[Request], Sampling], list[Completion]], size: int, wait_s: float = 0.02
    ) -> None:
        if size < 1:
            raise InputError(f"batch_size={size}: must be at least 1")
        self._run = run
        self.size = size
        self.wait_s = wait_s
        self._pending: list[_Job] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: Request, sampling: Sampling) -> Completion:
        job = _Job(request, sampling, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await job.future

    def _take(self) -> list[_Job]:
        """Up to `size` pending jobs sharing the first one's sampling (one `generate` takes one setting)."""
        key = astuple(self._pending[0].sampling)
        batch = [j for j in self._pending if astuple(j.sampling) == key][: self.size]
        self._pending = [j for j in self._pending if j not in batch]
        return [j for j in batch if not j.future.done()]  # a caller may have given up (cancelled)

    async def _drain(self) -> None:
        while self._pending:
            if len(self._pending) < self.size:
                await asyncio.sleep(self.wait_s)
            batch = self._take()
            if not batch:
                continue
            try:
                results = await self._call(batch)
            except Exception as err:
                if len(batch) == 1:
                    _settle(batch[0], err)
                    continue
                for job in batch:  # alone, each request gets its own result or error
                    try:
                        [result] = await self._call([job])
                    except Exception as single:
                        _settle(job, single)
                    else:
                        _settle(job, result)
                continue
            for job, result in zip(batch, results, strict=True):
                _settle(job, result)

    async def _call(self, batch: list[_Job]) -> list[Completion]:
        return await asyncio.to_thread(self._run, [j.request for j in batch], batch[0].sampling)

    async def aclose(self) -> None:
        if self._worker is not None and not self._worker.done():
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for job in self._pending:
            job.future.cancel()
        self._pending = []


def _settle(job: _Job, outcome: Completion | Exception) -> None:
    if job.future.done():
        return
    if isinstance(outcome, Exception):
        job.future.set_exception(outcome)
    else:
        job.future.set_result(outcome)


# -- where the model comes from -------------------------------------------------------------


def _looks_local(model: str) -> bool:
    """A path, not a hub id ("name" or "org/name")."""
    return model.startswith(("/", ".", "~", "\\")) or model.count("/") > 1 or "\\" in model or ":" in model


def resolve_model(model: str) -> str:
    """A model folder (absolute) or a hub id; a clear `BackendError` for a folder that cannot be a model."""
    if not model.strip():
        raise InputError("hf: needs a model id or folder, e.g. hf:ZhouSimple/PreferThinker_model")
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise BackendError(f"hf:{model}: {path} is a file; give the model's folder (with config.json)")
        if not (path / "config.json").is_file():
            raise BackendError(
                f"hf:{model}: {path} has no config.json, so it is not a transformers model folder"
            )
        return str(path.resolve())
    if _looks_local(model):
        raise BackendError(f"hf:{model}: no such model folder {path.absolute()}")
    return model


def split_model_uri(rest: str) -> tuple[str, dict[str, str]]:
    """`MODEL?key=value&...` -> (MODEL, options); a folder whose name holds '?' stays whole.

    >>> split_model_uri("org/model?device=cpu&max_pixels=50176")
    ('org/model', {'device': 'cpu', 'max_pixels': '50176'})
    """
    model, sep, query = rest.partition("?")
    if not sep or Path(rest).expanduser().exists():
        return rest, {}
    return model, dict(parse_qsl(query, keep_blank_values=True))


def _require_stack(model: str) -> None:
    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"hf:{model}: needs {' and '.join(missing)}, not installed here: {_INSTALL}")


# -- the assessor ---------------------------------------------------------------------------


class HFAssessor(ReasoningAssessor):
    """PreferThinker's predict-then-assess with a transformers VLM in this process."""

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | str = 4,
        options: ModelOptions | dict[str, Any] | None = None,
        **option_fields: Any,
    ) -> None:
        model, query = split_model_uri(model)
        device = query.pop("device", device)
        dtype = query.pop("dtype", dtype)
        batch = query.pop("batch_size", batch_size)
        try:
            batch_size = int(batch)
        except (TypeError, ValueError):
            raise InputError(f"hf:{model}: batch_size={str(batch)[:40]!r} is not a whole number") from None
        base = (
            options.model_dump(exclude_unset=True)
            if isinstance(options, ModelOptions)
            else dict(options or {})
        )
        merged = validated(
            ModelOptions,
            f"hf:{model}",
            {**base, **query, **option_fields},
            also=("device", "dtype", "batch_size"),
        )
        super().__init__(merged)
        if self.options.structured in ("regex", "json"):
            raise BackendError(_NO_REGEX.format(model=model))
        if batch_size < 1:
            raise InputError(f"hf:{model}: batch_size={batch_size}, must be at least 1")
        if dtype is not None and dtype.lower() not in DTYPES and dtype.lower() != "auto":
            raise InputError(f"hf:{model}: dtype={dtype!r}; use one of float32, float16, bfloat16")
        _require_stack(model)
        self.model_id = resolve_model(model)
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.name = f"hf:{model}"
        self.batch_sizes: list[int] = []
        """Requests per `generate` call made so far (how well concurrent requests were batched)."""
        self._model: Any = None
        self._processor: Any = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()  # one generate at a time, whichever event loop asks
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MicroBatcher] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"HFAssessor({self.model_id!r}, device={self.device!r}, batch_size={self.batch_size})"

    # -- loading --------------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> tuple[Any, Any]:
        """(model, processor), loaded on first use, once, whichever thread asks first."""
        with self._load_lock:
            if self._model is None:
                self._model, self._processor = self._load()
            return self._model, self._processor

    def _load(self) -> tuple[Any, Any]:
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        where = f"hf:{self.model_id}"
        try:
            config = AutoConfig.from_pretrained(self.model_id)
            processor = AutoProcessor.from_pretrained(self.model_id)
        except (OSError, ValueError) as err:
            local = Path(self.model_id).is_dir()
            hint = "" if local else "; not a local folder nor in the Hugging Face cache (download it first)"
            raise BackendError(f"{where}: cannot load ({type(err).__name__}: {err}){hint}") from None
        if getattr(processor, "image_processor", None) is None:
            raise BackendError(f"{where}: its processor has no image processor, so it is not a VLM")
        device = self.device or pick_device(torch)
        dtype = (
            pick_dtype(torch, device)
            if self.dtype in (None, "auto")
            else getattr(torch, DTYPES[str(self.dtype).lower()])
        )
        # transformers >= 4.56 names it `dtype`; older releases only know `torch_dtype`.
        major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
        dtype_kw = "dtype" if (major, minor) >= (4, 56) else "torch_dtype"
        try:
            model = AutoModelForImageTextToText.from_pretrained(self.model_id, **{dtype_kw: dtype})
        except ValueError as err:
            kind = getattr(config, "model_type", "?")
            raise BackendError(
                f"{where}: model_type {kind!r} is not an image-text-to-text model "
                f"(a VLM such as Qwen2.5-VL is needed): {err}"
            ) from None
        except OSError as err:
            raise BackendError(f"{where}: cannot load the weights ({err})") from None
        model = model.to(device).eval()
        processor.tokenizer.padding_side = "left"  # batched generation continues every row at the end
        return model, processor

    async def aclose(self) -> None:
        """Drop the model (it loads again on next use) and return its memory."""
        batcher = self._batchers.pop(asyncio.get_running_loop(), None)
        if batcher is not None:
            await batcher.aclose()
        with self._load_lock:
            self._model = self._processor = None
        gc.collect()
        torch = importlib.import_module("torch") if importlib.util.find_spec("torch") else None
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # -- requests -------------------------------------------------------------------------

    def chat_messages(self, request: Request) -> tuple[list[dict[str, Any]], list[Any]]:
        """The chat messages and the images (within `max_pixels`, in order) sent for `request`."""
        messages, images = to_hf_messages(request)
        return messages, [fit_pixels(im, self.options.max_pixels) for im in images]

    def _batcher(self) -> MicroBatcher:
        # One batcher per event loop, not per session: concurrent `acompare` calls made
        # independently (each with its own session) still share `generate` calls.
        loop = asyncio.get_running_loop()
        if loop not in self._batchers:
            self._batchers[loop] = MicroBatcher(self._generate, self.batch_size)
        return self._batchers[loop]

    async def _complete(self, request: Request, sampling: Sampling) -> Completion:
        if sampling.regex is not None or sampling.json_schema is not None:
            raise BackendError(_NO_REGEX.format(model=self.model_id))
        return await self._batcher().submit(request, sampling)

    def _generate(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        """One `generate` call for all `requests` (same sampling). Runs in a worker thread."""
        try:
            return self._generate_batch(requests, sampling)
        except AgentprefError:
            raise
        except Exception as err:
            raise BackendError(
                f"hf:{self.model_id}: generation of a batch of {len(requests)} failed "
                f"({type(err).__name__}: {err})"
            ) from err

    def _generate_batch(self, requests: list[Request], sampling: Sampling) -> list[Completion]:
        import torch

        model, processor = self.load()
        start = time.perf_counter()
        texts: list[str] = []
        images: list[Any] = []
        for request in requests:
            messages, pictures = self.chat_messages(request)
            texts.append(
                processor.apply_chat_template(
                    messages, tokenize=False, add_generation_prompt=True, add_vision_id=True
                )
            )
            images += pictures
        inputs = processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        inputs = inputs.to(model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        stops = _stop_ids(model, processor)
        pad = processor.tokenizer.pad_token_id
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "repetition_penalty": sampling.repetition_penalty,
            "pad_token_id": stops[0] if pad is None else pad,
            "eos_token_id": stops,
        }
        if sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=sampling.temperature)
        else:  # greedy, whatever sampling defaults the model's generation_config carries
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with self._generate_lock, torch.inference_mode():
            if sampling.seed is not None and sampling.temperature > 0:
                torch.manual_seed(sampling.seed)
            output = model.generate(**inputs, **kwargs)
        self.batch_sizes.append(len(requests))
        elapsed = time.perf_counter() - start
        width = inputs["input_ids"].shape[1]
        prompt_tokens = inputs["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, n_prompt in zip(output[:, width:].tolist(), prompt_tokens, strict=True):
            n = next((i + 1 for i, t in enumerate(row) if t in stops), len(row))  # through the first stop
            text = processor.tokenizer.decode(row[:n], skip_special_tokens=True)
            completions.append(Completion(text, int(n_prompt), n, latency_s=elapsed))
        return completions


_NO_REGEX = (
    "hf:{model}: structured outputs (structured=regex or json) need a vLLM server; serve the model and use "
    "vllm://HOST:PORT?model=NAME, or leave structured off for hf:"
)


def _stop_ids(model: Any, processor: Any) -> list[int]:
    """Token ids that end an answer: the generation config's eos ids, else the tokenizer's."""
    eos = model.generation_config.eos_token_id
    ids = [eos] if isinstance(eos, int) else list(eos or [])
    tok_eos = processor.tokenizer.eos_token_id
    if tok_eos is not None and tok_eos not in ids:
        ids.append(tok_eos)
    if not ids:
        raise BackendError("the model defines no end-of-sequence token (generation_config.eos_token_id)")
    return ids


def from_uri(rest: str, **options: Any) -> HFAssessor:
    """The `hf:MODEL_OR_PATH[?options]` backend."""
    if not rest:
        raise InputError("hf: needs a model id or folder, e.g. hf:ZhouSimple/PreferThinker_model")
    return HFAssessor(rest, **options)
