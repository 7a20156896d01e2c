"""POSTing JSON to a model server, with bounded retries and errors that name the server.

vLLM has no admission control and no client-side protection, so the client brings its
own: a timeout on every request, retries with exponential backoff and jitter on
connection errors, timeouts, 408/409/429 and 5xx (honouring `Retry-After`), and no retry
on other 4xx answers, which would fail the same way again.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentpref.errors import BackendError

if TYPE_CHECKING:
    import httpx

RETRY_STATUS = frozenset({408, 409, 429})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: `retries` extra attempts, `timeout` seconds per attempt."""

    retries: int = 3
    timeout: float = 300.0
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), 60.0)
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = min(self.backoff * 2 ** (attempt - 1), self.max_backoff)
        return base * random.uniform(0.75, 1.25)


def _server_message(response: httpx.Response) -> str:
    """The error text a server put in its body (OpenAI and vLLM: {"error": {"message": ...}})."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return response.text[:300]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])[:300]
    return str(body)[:300]


async def post_json(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], policy: RetryPolicy
) -> dict[str, Any]:
    """POST `body` to `url` and return the JSON answer, retrying what is worth retrying.

    Raises `BackendError` naming the URL: after the last retry, at once on a 4xx that is
    not worth repeating, or when the answer is not JSON.
    """
    import httpx

    last = ""
    for attempt in range(policy.retries + 1):
        retry_after = None
        try:
            response = await client.post(url, json=body, timeout=policy.timeout)
        except httpx.TimeoutException:
            last = f"no answer within {policy.timeout:g} s"
        except httpx.TransportError as err:
            last = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        else:
            status = response.status_code
            if status < 400:
                try:
                    return response.json()
                except (json.JSONDecodeError, ValueError):
                    raise BackendError(f"{url} answered {status} with a body that is not JSON") from None
            message = _server_message(response)
            if status in (401, 403):
                raise BackendError(f"{url} refused the request ({status}): {message}; check the API key")
            if status < 500 and status not in RETRY_STATUS:
                raise BackendError(f"{url} rejected the request ({status}): {message}")
            last = f"HTTP {status}: {message}"
            retry_after = response.headers.get("retry-after")
        if attempt < policy.retries:
            await asyncio.sleep(policy.delay(attempt + 1, retry_after))
    tries = policy.retries + 1
    raise BackendError(f"{url} failed after {tries} attempt(s): {last}")
