"""OpenAI-compatible endpoints: what a `vllm://` or `openai://` URI says, and how a server's answers are read.

Shared by every backend family that talks to such a server (the `openai`/`vllm` assessor,
the rewriter), so a URI means the same thing whichever flag it is given to:

    vllm://127.0.0.1:8000?model=NAME                 http://127.0.0.1:8000/v1, vLLM's extensions on
    openai://api.example.com/v1?model=NAME           https (no port or 443), standard fields only

`https=0/1` overrides the scheme's guess and `vllm=1` marks an `openai://` URL as a vLLM
server. The API key is read from the environment variable `api_key_env` names (default
`OPENAI_API_KEY`, or `VLLM_API_KEY` for vllm://) and never logged; a key in the URI itself
(`user:KEY@host`, `api_key=`) is refused, since URIs are shown and written to run folders.
A server's answer is untrusted: one without a text in `choices[0].message.content` is a
`BackendError` naming the server. See `agentpref.http` for how each request is bounded.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel, Field, StrictStr, StringConstraints, ValidationError

from agentpref.errors import BackendError, InputError
from agentpref.http import RetryPolicy, request_json
from agentpref.io import describe_validation, field_name

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_KEY_NAMES = frozenset({"api_key", "key", "token", "access_token", "password", "secret"})

M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], where: str, values: dict[str, Any], *, also: tuple[str, ...] = ()) -> M:
    """`model(**values)`, or an InputError naming `where`, the setting and the value given.

    `also` names the backend's other settings, listed with the model's fields when a key is
    unknown; the value of an unknown key is never shown (it may be a pasted secret).

    >>> validated(RetryPolicy, "vllm://h:1", {"retries": "many"})
    Traceback (most recent call last):
    agentpref.errors.InputError: vllm://h:1: retries: Input should be a valid integer, \
unable to parse string as an integer (got 'many')
    >>> validated(RetryPolicy, "vllm://h:1", {"api_kee": "sk-1"}, also=("model",))
    Traceback (most recent call last):
    agentpref.errors.InputError: vllm://h:1: unknown setting 'api_kee'; known: retries, timeout, ...
    """
    try:
        return model(**values)
    except ValidationError as err:
        first = err.errors()[0]
        if first["type"] == "extra_forbidden":  # its value may be a secret pasted in the wrong place
            known = ", ".join([*model.model_fields, *also])
            raise InputError(
                f"{where}: unknown setting {field_name(first['loc'])!r}; known: {known}"
            ) from None
        field, reason = describe_validation(err)
        raise InputError(f"{where}: {field}: {reason}") from None


def key_env(scheme: str) -> str:
    """The environment variable an endpoint's API key is read from unless `api_key_env=` names another."""
    return "VLLM_API_KEY" if scheme == "vllm" else "OPENAI_API_KEY"


def auth_headers(api_key_env: str) -> dict[str, str]:
    """The Authorization header when that variable holds a key (a local server needs none)."""
    key = os.environ.get(api_key_env)
    return {"Authorization": f"Bearer {key}"} if key else {}


def _flag(where: str, name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InputError(f"{where}: {name} must be 1 or 0 (got {value[:80]!r})")


def parse_uri(scheme: str, rest: str) -> dict[str, Any]:
    """A URI's parts as keyword arguments: `base_url`, `vllm` and the query's other settings (as strings).

    >>> parse_uri("vllm", "//127.0.0.1:8000?model=pt&swap=1")
    {'model': 'pt', 'swap': '1', 'base_url': 'http://127.0.0.1:8000/v1', 'vllm': True}
    >>> parse_uri("openai", "//api.example.com/v1?model=gpt-4o")["base_url"]
    'https://api.example.com/v1'
    """
    if not rest.startswith("//"):
        raise InputError(f"{scheme}: URI needs a host, e.g. {scheme}://127.0.0.1:8000?model=NAME")
    if any(ord(c) < 32 or ord(c) == 127 for c in rest):  # urlsplit would silently drop newlines and tabs
        raise InputError(f"{scheme}: URI holds a control character (a newline or tab pasted with it?)")
    try:
        parts = urlsplit(f"x:{rest}")
    except ValueError as err:  # e.g. an unclosed IPv6 bracket
        raise InputError(f"{scheme}: URI is not a valid URL ({err})") from None
    if not parts.hostname:
        raise InputError(f"{scheme}: URI has no host name")
    if len(parts.hostname) > 253 or len(parts.path) > 2048:  # DNS's limit; httpx refuses long URLs later
        raise InputError(
            f"{scheme}: the host name or path is too long ({len(parts.netloc + parts.path)} characters)"
        )
    where = f"{scheme}://{parts.hostname}"  # never the URI itself: it may hold a key
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "@" in parts.netloc or _KEY_NAMES & {k.lower() for k in query}:
        raise InputError(
            f"{where}: an API key or user name in the URI is not accepted (URIs are shown and written "
            f"to run folders); put the key in an environment variable and name it with api_key_env=NAME "
            f"(default {key_env(scheme)})"
        )
    vllm = scheme == "vllm" or _flag(where, "vllm", query.pop("vllm", "0"))
    try:
        port = parts.port
    except ValueError:
        raise InputError(f"{where}: the port is not a number from 0 to 65535") from None
    https = _flag(where, "https", query.pop("https", "1" if port in (None, 443) else "0"))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{port}" if port else host
    path = parts.path.rstrip("/") or "/v1"
    # The rest are the backend's own settings, validated by it.
    return {**query, "base_url": f"{'https' if https else 'http'}://{netloc}{path}", "vllm": vllm}


# A model name is shown and sent: printable, bounded (from a URI or a server's listing alike).
ModelId = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
]
EnvName = Annotated[str, StringConstraints(max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _ModelEntry(BaseModel):
    id: ModelId


class _ModelList(BaseModel):
    data: list[_ModelEntry]


# What is read of a server's answers: anything else in them is ignored, anything missing is its fault.
class _Message(BaseModel):
    content: StrictStr


class Choice(BaseModel):
    message: _Message
    finish_reason: Any = None  # "length" says the text was cut at max_tokens; anything else is not read


class ChatAnswer(BaseModel):
    choices: list[Choice] = Field(min_length=1)
    usage: Any = None  # read leniently by the caller: a bad count is unknown, not a failure


def read_answer(model: type[M], url: str, answer: Any) -> M:
    """A server's JSON answer read as `model`, or a BackendError naming the server and the field."""
    try:
        return model.model_validate(answer)
    except ValidationError as err:
        field, reason = describe_validation(err)
        raise BackendError(f"{url} answered without a usable {field or 'body'}: {reason}") from None


async def first_model(client: Any, base_url: str, policy: RetryPolicy) -> str:
    """The first model a server lists (`GET /models`), for a URI without `model=`."""
    url = f"{base_url}/models"
    policy = policy.model_copy(update={"timeout": min(policy.timeout, 30.0)})
    try:
        listing = read_answer(_ModelList, url, await request_json(client, url, policy))
    except BackendError as err:
        raise BackendError(
            f"cannot list the models: {err}; is the server running? "
            "Start one with `agentpref serve`, or name the model with ?model=NAME"
        ) from None
    if not listing.data:
        raise BackendError(f"{url} lists no models")
    return listing.data[0].id
