"""The `openai://` and `vllm://` assessors: PreferThinker (or any VLM) behind an OpenAI-compatible server.

    vllm://127.0.0.1:8000?model=preferthinker            a local vLLM server
    openai://api.example.com/v1?model=gpt-4o&api_key_env=EXAMPLE_KEY

`vllm://HOST:PORT` means `http://HOST:PORT/v1` and turns on vLLM's extensions: a `uuid`
per image part (its content hash, vLLM's cache key), `repetition_penalty`,
`chat_template_kwargs={"add_vision_id": true}` (the "Picture N:" labels PreferThinker's
evaluation used) and vLLM's `structured_outputs` (regex or JSON schema). `openai://`
sends only standard fields (`structured=json` becomes `response_format`), so hosted APIs
accept it; add `vllm=1` when an `openai://` URL is a vLLM server. The scheme is https
when no port or port 443 is given, else http (`https=0/1` overrides).
Without `model=`, the server's first model (`GET /v1/models`) is used.

Any `ModelOptions` field is a query parameter too: `mode=cached-profile`, `swap=1`,
`structured=regex|json|off`, `concurrency=8`, `max_pixels=262144`, `parse_retries=2`, ...;
transport settings are `timeout` (seconds per attempt), `retries`, `api_key_env`, and
for vLLM `cache_salt` (requests with different salts never share prefix-cache blocks:
isolation between tenants).
The API key is read from that environment variable (default `OPENAI_API_KEY`, or
`VLLM_API_KEY` for vllm://) and never logged.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.assessors.vlm.http import RetryPolicy, post_json
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling, Structured
from agentpref.errors import BackendError, InputError
from agentpref.images.refs import ImageRef
from agentpref.preferthinker.requests import Request, to_openai_messages

_TRUE = ("1", "true", "yes", "on")


def parse_uri(scheme: str, rest: str) -> dict[str, Any]:
    """Keyword arguments of `OpenAIAssessor` from a URI's parts.

    >>> parse_uri("vllm", "//127.0.0.1:8000?model=pt&swap=1")
    {'model': 'pt', 'swap': '1', 'base_url': 'http://127.0.0.1:8000/v1', 'vllm': True}
    >>> parse_uri("openai", "//api.example.com/v1?model=gpt-4o")["base_url"]
    'https://api.example.com/v1'
    """
    if not rest.startswith("//"):
        raise InputError(f"{scheme}: URI needs a host, e.g. {scheme}://127.0.0.1:8000?model=NAME")
    parts = urlsplit(f"x:{rest}")
    if not parts.hostname:
        raise InputError(f"{scheme}:{rest}: no host name")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    vllm = scheme == "vllm" or query.pop("vllm", "0").lower() in _TRUE
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"{scheme}:{rest}: the port is not a number") from None
    https_default = port in (None, 443)
    https = query.pop("https", str(https_default)).lower() in _TRUE
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    path = parts.path.rstrip("/") or "/v1"
    # Transport keys are OpenAIAssessor parameters; the rest are ModelOptions fields, validated there.
    return {**query, "base_url": f"{'https' if https else 'http'}://{netloc}{path}", "vllm": vllm}


class OpenAIAssessor(ReasoningAssessor):
    """PreferThinker's predict-then-assess over an OpenAI-compatible chat completions API."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        vllm: bool = True,
        timeout: float = 300.0,
        retries: int = 3,
        api_key_env: str | None = None,
        cache_salt: str | None = None,
        options: ModelOptions | dict[str, Any] | None = None,
        **option_fields: Any,
    ) -> None:
        if isinstance(options, ModelOptions):
            merged = options.model_copy(update=option_fields)
        else:
            merged = ModelOptions(**{**(options or {}), **option_fields})
        super().__init__(merged)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.vllm = vllm
        self.policy = RetryPolicy(retries=int(retries), timeout=float(timeout))
        self.api_key_env = api_key_env or ("VLLM_API_KEY" if vllm else "OPENAI_API_KEY")
        self.cache_salt = cache_salt
        self.name = f"{'vllm' if vllm else 'openai'}:{model or '?'}"
        self._urls: OrderedDict[tuple[str, int], str] = OrderedDict()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIAssessor({self.base_url!r}, model={self.model!r}, vllm={self.vllm})"

    def _default_structured(self) -> Structured:
        preferthinker = "preferthinker" in (self.model or "").lower()
        return "regex" if self.vllm and not preferthinker else "off"

    def _json_bounds(self) -> bool:
        return self.vllm

    # -- transport -----------------------------------------------------------------------

    async def _open_transport(self) -> Any:
        import httpx

        headers = {}
        if key := os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        limits = httpx.Limits(max_connections=self.options.concurrency + 2)
        client = httpx.AsyncClient(headers=headers, limits=limits, timeout=self.policy.timeout)
        if self.model is None:
            try:
                self.model = await self._first_model(client)
            except BaseException:
                await client.aclose()
                raise
            self.name = f"{'vllm' if self.vllm else 'openai'}:{self.model}"
        return client

    async def _close_transport(self, transport: Any) -> None:
        await transport.aclose()

    async def _first_model(self, client: Any) -> str:
        import httpx

        url = f"{self.base_url}/models"
        try:
            response = await client.get(url, timeout=min(self.policy.timeout, 30.0))
            response.raise_for_status()
            models = [m["id"] for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise BackendError(
                f"cannot list the models at {url} ({type(err).__name__}: {err}); is the server running? "
                "Start one with `agentpref serve`, or name the model with ?model=NAME"
            ) from None
        if not models:
            raise BackendError(f"{url} lists no models")
        return models[0]

    def _image_url(self, ref: ImageRef) -> str:
        """A data URL within the pixel budget, encoded once per content hash."""
        key = (ref.sha256, self.options.max_pixels)
        if key not in self._urls:
            self._urls[key] = ref.data_url(self.options.max_pixels)
            if len(self._urls) > 256:
                self._urls.popitem(last=False)
        self._urls.move_to_end(key)
        return self._urls[key]

    def request_body(self, request: Request, sampling: Sampling) -> dict[str, Any]:
        """The chat completions body for one request (exactly what is sent)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(request, self._image_url, uuids=self.vllm),
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
        }
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if self.vllm:
            body["repetition_penalty"] = sampling.repetition_penalty
            body["chat_template_kwargs"] = {"add_vision_id": True}
            if self.cache_salt:
                body["cache_salt"] = self.cache_salt
        if sampling.regex is not None:
            body["structured_outputs"] = {"regex": sampling.regex}
        if sampling.json_schema is not None:
            if self.vllm:
                body["structured_outputs"] = {"json": sampling.json_schema}
            else:  # the standard form, which hosted APIs accept
                schema = {"name": "preferthinker_answer", "schema": sampling.json_schema, "strict": True}
                body["response_format"] = {"type": "json_schema", "json_schema": schema}
        return body

    async def _complete(self, request: Request, sampling: Sampling) -> Completion:
        client = self._transport()
        if client is None:  # called outside a session: open one for this request
            async with self.session():
                return await self._complete(request, sampling)
        start = time.perf_counter()
        url = f"{self.base_url}/chat/completions"
        answer = await post_json(client, url, self.request_body(request, sampling), self.policy)
        try:
            text = answer["choices"][0]["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            shown = str(answer)[:300]
            raise BackendError(f"{url} answered without choices[0].message.content: {shown}") from None
        usage = answer.get("usage") or {}
        return Completion(
            text=text,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            latency_s=time.perf_counter() - start,
        )


def from_vllm_uri(rest: str, **options: Any) -> OpenAIAssessor:
    """The `vllm://HOST:PORT?model=NAME` backend (vLLM's extra request fields on)."""
    return OpenAIAssessor(**{**parse_uri("vllm", rest), **options})


def from_openai_uri(rest: str, **options: Any) -> OpenAIAssessor:
    """The `openai://HOST[:PORT]/v1?model=NAME` backend (standard fields only)."""
    return OpenAIAssessor(**{**parse_uri("openai", rest), **options})
