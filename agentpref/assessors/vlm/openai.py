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
transport settings are `timeout` (seconds for a whole attempt, connect to last byte; finite
and positive), `retries` (0-10), `max_response_bytes` (answers are read as a stream and
dropped past it; 4 MiB by default), `api_key_env`, and for vLLM `cache_salt` (requests
with different salts never share prefix-cache blocks: isolation between tenants). Bad
values are an `InputError` naming the setting when the URI is read; see `agentpref.http`
for how each request is bounded and `agentpref.endpoints` for how the URI is read.

The API key is read from that environment variable (default `OPENAI_API_KEY`, or
`VLLM_API_KEY` for vllm://) and never logged; a key in the URI itself (`user:KEY@host`,
`api_key=`) is refused, since URIs are shown and written to run folders.
A server's answer is untrusted: one without a text in `choices[0].message.content` is a
`BackendError` naming the server, and token counts in `usage` that are not plausible
counts are taken as unknown.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from pydantic import BaseModel

from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling, Structured
from agentpref.endpoints import (
    ChatAnswer,
    EnvName,
    ModelId,
    auth_headers,
    first_model,
    key_env,
    parse_uri,
    read_answer,
    validated,
)
from agentpref.http import DEFAULT_MAX_RESPONSE_BYTES, RetryPolicy, request_json
from agentpref.images.refs import ImageRef
from agentpref.preferthinker.requests import Request, to_openai_messages

_TRANSPORT = ("model", "vllm", "timeout", "retries", "max_response_bytes", "api_key_env", "cache_salt")
# Token counts above this are not counts (a judgment prompt is thousands of tokens).
_MAX_TOKENS_COUNT = 10**9


class _Endpoint(BaseModel):
    """What the URI says about whom to ask: the model's name and where the key is."""

    model: ModelId | None
    api_key_env: EnvName | None


def _token_count(value: Any) -> int | None:
    """A token count from a server's `usage`, or None (unknown) when it is not a plausible one."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TOKENS_COUNT:
        return value
    return None


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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        api_key_env: str | None = None,
        cache_salt: str | None = None,
        options: ModelOptions | dict[str, Any] | None = None,
        **option_fields: Any,
    ) -> None:
        base_url = base_url.rstrip("/")
        if isinstance(options, ModelOptions):  # already valid (a system prompt file already read)
            update = validated(ModelOptions, base_url, option_fields, also=_TRANSPORT)
            merged = options.model_copy(update=update.model_dump(exclude_unset=True))
        else:
            merged = validated(ModelOptions, base_url, {**(options or {}), **option_fields}, also=_TRANSPORT)
        super().__init__(merged)
        endpoint = validated(_Endpoint, base_url, {"model": model, "api_key_env": api_key_env})
        self.base_url = base_url
        self.model = endpoint.model
        self.vllm = vllm
        settings = {"timeout": timeout, "retries": retries, "max_response_bytes": max_response_bytes}
        self.policy = validated(RetryPolicy, base_url, settings)
        self.api_key_env = endpoint.api_key_env or key_env("vllm" if vllm else "openai")
        self.cache_salt = cache_salt
        self.name = f"{'vllm' if vllm else 'openai'}:{model or '?'}"  # never the URL, salt or key
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

        headers = auth_headers(self.api_key_env)
        limits = httpx.Limits(max_connections=self.options.concurrency + 2)
        client = httpx.AsyncClient(headers=headers, limits=limits, timeout=self.policy.timeout)
        if self.model is None:
            try:
                self.model = await first_model(client, self.base_url, self.policy)
            except BaseException:
                await client.aclose()
                raise
            self.name = f"{'vllm' if self.vllm else 'openai'}:{self.model}"
        return client

    async def _close_transport(self, transport: Any) -> None:
        await transport.aclose()

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
        body = self.request_body(request, sampling)
        answer = read_answer(ChatAnswer, url, await request_json(client, url, self.policy, body))
        usage = answer.usage if isinstance(answer.usage, dict) else {}
        return Completion(
            text=answer.choices[0].message.content,
            prompt_tokens=_token_count(usage.get("prompt_tokens")),
            completion_tokens=_token_count(usage.get("completion_tokens")),
            latency_s=time.perf_counter() - start,
        )


def from_vllm_uri(rest: str, **options: Any) -> OpenAIAssessor:
    """The `vllm://HOST:PORT?model=NAME` backend (vLLM's extra request fields on)."""
    return OpenAIAssessor(**{**parse_uri("vllm", rest), **options})


def from_openai_uri(rest: str, **options: Any) -> OpenAIAssessor:
    """The `openai://HOST[:PORT]/v1?model=NAME` backend (standard fields only)."""
    return OpenAIAssessor(**{**parse_uri("openai", rest), **options})
