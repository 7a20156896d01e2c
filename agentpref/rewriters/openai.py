"""The `openai://` and `vllm://` rewriters: any chat model behind an OpenAI-compatible server.

    vllm://127.0.0.1:8000?model=qwen                     a local vLLM server
    openai://api.example.com/v1?model=gpt-4o-mini        a hosted API (key from $OPENAI_API_KEY)

The URIs read as the assessor's do (`agentpref.endpoints`: https guess, `vllm=1`,
`api_key_env=`, no key in the URI, the server's first model without `model=`). Settings:
`structured` (below), `max_tokens` (2048), `temperature` (0: greedy, reproducible),
`seed`, `cache_salt` (vLLM), and the transport's `timeout` (120 s per attempt),
`retries` (1) and `max_response_bytes` (1 MiB): a rewrite is one small answer, and the
caller has a fallback, so a broken server should cost little.

How the answer's shape is enforced (`structured`):

- `json` (default for openai://): `response_format` with `Rewrite`'s JSON schema, strict.
  Hosted strict modes may refuse length and pattern keywords, so only vLLM is sent them.
- `regex` (default for vllm://): vLLM's `structured_outputs` regex of the same JSON, written
  compactly, which also puts the subject in the positive prompt. vLLM 0.32's xgrammar
  lets JSON-schema decoding put any whitespace between tokens (per-request
  `disable_any_whitespace` is ignored; only a server flag sets it): a weak model then
  spends every token on newlines and never closes the object (measured with the tiny
  model: 2048 tokens of whitespace). The regex leaves no room for that.
- `off`: no constraint; the instructions and the validation alone.

Whatever the server enforced, the answer is validated here (`base.read_rewrite`).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
from agentpref.errors import InputError
from agentpref.http import RetryPolicy, request_json, run_sync
from agentpref.rewriters.base import (
    MAX_PROMPT,
    MAX_REASON,
    SYSTEM_PROMPT,
    Rewrite,
    RewriteRequest,
    read_rewrite,
    request_text,
)

_TRANSPORT = ("timeout", "retries", "max_response_bytes")


class RewriterOptions(BaseModel):
    """What a rewriter URI's query (or keyword arguments) may set besides the transport."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: ModelId | None = None
    api_key_env: EnvName | None = None
    structured: Literal["json", "regex", "off"] | None = Field(
        None, description="how the answer's shape is enforced; default regex for vLLM, json otherwise"
    )
    max_tokens: int = Field(2048, ge=16, le=65536)
    temperature: float = Field(0.0, ge=0, le=2)
    seed: int | None = Field(None, ge=-(2**63), lt=2**63)
    cache_salt: str | None = Field(None, min_length=1, max_length=256)


# A JSON string's characters without escapes: no quote, backslash or control character.
_CHAR = r'[^"\\\x00-\x1f\x7f-\x9f]'


def _literal(text: str) -> str:
    """`text` as written inside a JSON string, as a regex matching it literally.

    Only regex operators are escaped: some engines refuse an escaped space.
    """
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", json.dumps(text, ensure_ascii=False)[1:-1])


def rewrite_regex(subject: str) -> str:
    """The compact JSON of a `Rewrite` whose positive prompt holds `subject`, as a regex for vLLM.

    The subject may start anywhere in the first half of the prompt's room.

    >>> answer = '{"positive":"soft, a fox","negative":"","reason":"ok"}'
    >>> bool(re.fullmatch(rewrite_regex("a fox"), answer)), bool(re.fullmatch(rewrite_regex("a cat"), answer))
    (True, False)
    """
    room = max(0, (MAX_PROMPT - len(subject)) // 2)
    positive = f"{_CHAR}{{0,{room}}}{_literal(subject)}{_CHAR}{{0,{room}}}"
    return (
        rf'\{{"positive":"{positive}","negative":"{_CHAR}{{0,{MAX_PROMPT}}}",'
        rf'"reason":"{_CHAR}{{0,{MAX_REASON}}}"\}}'
    )


def rewrite_schema(bounds: bool) -> dict[str, Any]:
    """`Rewrite`'s JSON schema; without `bounds`, no length or pattern keywords (hosted strict modes)."""
    schema = Rewrite.model_json_schema()
    if not bounds:
        for field in schema["properties"].values():
            for keyword in ("minLength", "maxLength", "pattern"):
                field.pop(keyword, None)
    return schema


class OpenAIRewriter:
    """Rewrites prompts with a chat model over an OpenAI-compatible chat completions API."""

    def __init__(
        self,
        base_url: str,
        *,
        vllm: bool = True,
        timeout: float = 120.0,
        retries: int = 1,
        max_response_bytes: int = 1024 * 1024,
        **settings: Any,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.vllm = vllm
        self.options = validated(RewriterOptions, self.base_url, settings, also=_TRANSPORT)
        transport = {"timeout": timeout, "retries": retries, "max_response_bytes": max_response_bytes}
        self.policy = validated(RetryPolicy, self.base_url, transport)
        self.structured = self.options.structured or ("regex" if vllm else "json")
        if self.structured == "regex" and not vllm:
            raise InputError(
                f"{self.base_url}: structured=regex is vLLM's extension; use structured=json, "
                "or vllm=1 if the server is vLLM"
            )
        self.model = self.options.model
        self.api_key_env = self.options.api_key_env or key_env("vllm" if vllm else "openai")
        self.name = f"{'vllm' if vllm else 'openai'}:{self.model or '?'}"  # never the URL, salt or key

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIRewriter({self.base_url!r}, model={self.model!r}, vllm={self.vllm})"

    def request_body(self, request: RewriteRequest) -> dict[str, Any]:
        """The chat completions body for one request (exactly what is sent)."""
        o = self.options
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": request_text(request)},
            ],
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
        }
        if o.seed is not None:
            body["seed"] = o.seed
        if self.structured == "regex":
            body["structured_outputs"] = {"regex": rewrite_regex(request.subject)}
        elif self.structured == "json":
            schema = {"name": "rewrite", "schema": rewrite_schema(bounds=self.vllm), "strict": True}
            body["response_format"] = {"type": "json_schema", "json_schema": schema}
        if self.vllm and o.cache_salt:
            body["cache_salt"] = o.cache_salt
        return body

    async def arewrite(self, request: RewriteRequest) -> Rewrite:
        """`rewrite` for async callers."""
        import httpx

        headers = auth_headers(self.api_key_env)
        async with httpx.AsyncClient(headers=headers, timeout=self.policy.timeout) as client:
            if self.model is None:
                self.model = await first_model(client, self.base_url, self.policy)
                self.name = f"{'vllm' if self.vllm else 'openai'}:{self.model}"
            url = f"{self.base_url}/chat/completions"
            answer = await request_json(client, url, self.policy, self.request_body(request))
        choice = read_answer(ChatAnswer, url, answer).choices[0]
        return read_rewrite(
            choice.message.content, request.subject, cut_short=choice.finish_reason == "length"
        )

    def rewrite(self, request: RewriteRequest) -> Rewrite:
        """The next prompts; BackendError (the server failed) or ParseError (its answer) on any failure."""
        return run_sync(lambda: self.arewrite(request))


def from_vllm_uri(rest: str, **options: Any) -> OpenAIRewriter:
    """The `vllm://HOST:PORT?model=NAME` rewriter (regex structured outputs)."""
    return OpenAIRewriter(**{**parse_uri("vllm", rest), **options})


def from_openai_uri(rest: str, **options: Any) -> OpenAIRewriter:
    """The `openai://HOST[:PORT]/v1?model=NAME` rewriter (a strict JSON schema)."""
    return OpenAIRewriter(**{**parse_uri("openai", rest), **options})
