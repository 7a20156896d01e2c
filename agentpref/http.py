"""Asking a model server for JSON, with bounds on time, size and retries, and errors that name it.

vLLM has no admission control and no client-side protection, and a server we are pointed
at may be slow, broken or hostile, so every exchange is bounded:

- **time**: `timeout` seconds (at most an hour) per attempt for the whole exchange
  (connect, send, every read), as one deadline. httpx's own timeouts are per read, so a
  server sending one byte every 2 s would never trip them.
- **size**: the answer is read as a stream and dropped at `max_response_bytes` (4 MiB by
  default), so an endless or huge body costs at most that much memory.
- **retries**: at most `retries` (0-10) extra attempts with exponential backoff and jitter
  (at most 8 s apart) on connection errors, missed deadlines, 408/409/429 and 5xx, honouring
  `Retry-After` up to 60 s (a longer one ends the call at once); no retry on other 4xx
  answers or an oversized answer, which would fail the same way again.

Every failure is a `BackendError` naming the URL. `run_sync` runs such a call from sync code.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agentpref.errors import BackendError

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
RETRY_STATUS = frozenset({408, 409, 429})
MAX_RETRY_AFTER = 60.0
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class RetryPolicy(BaseModel):
    """How hard to try: `retries` extra attempts, each within `timeout` seconds and `max_response_bytes`."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    retries: int = Field(3, ge=0, le=10)
    timeout: float = Field(
        300.0, gt=0, le=3600, description="seconds for a whole attempt, connect to last byte"
    )
    max_response_bytes: int = Field(DEFAULT_MAX_RESPONSE_BYTES, ge=1024)
    backoff: float = Field(0.5, ge=0)
    max_backoff: float = Field(8.0, ge=0)

    def delay(self, attempt: int, retry_after: str | None = None) -> float | None:
        """Seconds to wait before retry number `attempt` (1-based), or None when the server's
        Retry-After asks for longer than `MAX_RETRY_AFTER` (waiting would only end in failure)."""
        if retry_after is not None:
            try:
                seconds = float(retry_after)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
            else:
                if seconds == seconds:  # not NaN
                    return max(seconds, 0.0) if seconds <= MAX_RETRY_AFTER else None
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base * random.uniform(0.75, 1.25)


class _TooLarge(Exception):
    """The answer passed `max_response_bytes` (never retried: it would come back as large)."""


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _server_message(body: bytes) -> str:
    """The error text a server put in its body (OpenAI and vLLM: {"error": {"message": ...}})."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        return body[:300].decode("utf-8", "replace")
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    if isinstance(answer, dict) and "message" in answer:
        return str(answer["message"])[:300]
    return str(answer)[:300]


async def request_json(
    client: httpx.AsyncClient, url: str, policy: RetryPolicy, body: dict[str, Any] | None = None
) -> Any:
    """POST `body` (GET without one) to `url` and return the decoded JSON answer, within `policy`.

    Raises `BackendError` naming the URL: after the last retry, at once on a 4xx that is
    not worth repeating, an answer over `max_response_bytes`, or one that is not JSON.
    """
    import httpx

    method = "GET" if body is None else "POST"
    last = ""
    for attempt in range(policy.retries + 1):
        retry_after = None
        try:
            async with asyncio.timeout(policy.timeout):  # the whole exchange, not each read
                async with client.stream(method, url, json=body, timeout=policy.timeout) as response:
                    content = await _read_capped(response, policy.max_response_bytes)
        except (TimeoutError, httpx.TimeoutException):
            last = f"no complete answer within {policy.timeout:g} s"
        except _TooLarge:
            raise BackendError(
                f"{url} sent an answer over {policy.max_response_bytes} bytes (max_response_bytes); "
                "raise it in the URI if the server is trusted"
            ) from None
        except httpx.HTTPError as err:  # connection and protocol errors, a body cut short
            last = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        else:
            status = response.status_code
            if status < 400:
                try:
                    return json.loads(content)
                except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
                    raise BackendError(f"{url} answered {status} with a body that is not JSON") from None
            message = _server_message(content)
            if status in (401, 403):
                raise BackendError(f"{url} refused the request ({status}): {message}; check the API key")
            if status < 500 and status not in RETRY_STATUS:
                raise BackendError(f"{url} rejected the request ({status}): {message}")
            last = f"HTTP {status}: {message}"
            retry_after = response.headers.get("retry-after")
        if attempt < policy.retries:
            wait = policy.delay(attempt + 1, retry_after)
            if wait is None:
                raise BackendError(
                    f"{url} failed: {last}; it asks to retry after {retry_after!s:.20} s, longer than the "
                    f"{MAX_RETRY_AFTER:g} s a request waits"
                )
            await asyncio.sleep(wait)
    tries = policy.retries + 1
    raise BackendError(f"{url} failed after {tries} attempt(s): {last}")


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine `make()` gives to completion from sync code.

    Inside a running event loop (a notebook cell, an async graph server) `asyncio.run` is
    refused, so the coroutine then runs in a worker thread with its own loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()
