"""The openai/vllm assessor's URI, request body and HTTP retry policy.

Status codes vLLM never sends (429 from a hosted API, a flaky 503) come from an
httpx.MockTransport; everything else runs against the real vLLM server in
test_vllm_server.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import time
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from agentpref.assessors.vlm.options import Sampling
from agentpref.backends import load_assessor
from agentpref.errors import BackendError, InputError
from agentpref.http import RetryPolicy, request_json
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.preferthinker.requests import build_compare_request
from agentpref.testing.vllm_cpu import free_port

FAST = RetryPolicy(retries=2, timeout=5, backoff=0.01)


def _image(i: int) -> ImageRef:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (i * 40 % 256, 100, 50)).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=f"i{i}.png")


def test_uris_name_the_server_model_and_options():
    j = load_assessor("vllm://127.0.0.1:8000?model=PreferThinker&mode=cached-profile&swap=1&concurrency=8")
    assert j.base_url == "http://127.0.0.1:8000/v1" and j.model == "PreferThinker" and j.vllm
    assert j.options.mode == "cached-profile" and j.options.swap and j.options.concurrency == 8
    assert j.structured == "off"  # PreferThinker was trained on the free layout
    generic = load_assessor("vllm://h:1?model=qwen2.5-vl-7b")
    assert generic.structured == "regex"  # other VLMs need the layout enforced
    hosted = load_assessor("openai://api.example.com/v1?model=gpt-4o", timeout=30)
    assert hosted.base_url == "https://api.example.com/v1" and not hosted.vllm and hosted.structured == "off"
    assert load_assessor("openai://localhost:8000/v1?vllm=1").vllm
    with pytest.raises(InputError, match="needs a host"):
        load_assessor("vllm:nowhere")
    with pytest.raises(ValueError, match="max_pixels"):
        load_assessor("vllm://h:1?max_pixels=10")


@pytest.mark.parametrize("scheme", ["openai", "vllm"])
@pytest.mark.parametrize(
    "rest",
    ["user:sk-SECRET@h.example:8000?model=m", "sk-SECRET@h.example:8000", "h.example:8000?api_key=sk-SECRET"],
)
def test_a_key_in_the_uri_is_refused_saying_where_it_goes_without_repeating_it(scheme, rest):
    with pytest.raises(InputError) as info:
        load_assessor(f"{scheme}://{rest}")
    message = str(info.value)
    default = "VLLM_API_KEY" if scheme == "vllm" else "OPENAI_API_KEY"
    assert f"api_key_env=NAME (default {default})" in message and "h.example" in message
    assert "SECRET" not in message


def test_the_name_never_holds_a_secret(monkeypatch):
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-value")
    judge = load_assessor("vllm://h:1/v1?model=pt&cache_salt=tenant-salt&api_key_env=JUDGE_KEY")
    assert judge.name == "vllm:pt" and judge.cache_salt == "tenant-salt"
    assert "salt" not in repr(judge) and "sk-secret" not in repr(judge)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("timeout", "abc"),
        ("timeout", "nan"),
        ("timeout", "inf"),
        ("timeout", "0"),
        ("timeout", "-5"),
        ("retries", "abc"),
        ("retries", "-1"),
        ("retries", "1e9"),
        ("retries", "11"),
        ("timeout", "1e12"),
        ("max_response_bytes", "12"),
        ("temperature", "inf"),
        ("concurrency", "lots"),
        ("concurrency", "1000000000"),
        ("api_key_env", ""),
        ("api_key_env", "$(id)"),
    ],
)
def test_bad_settings_are_input_errors_naming_the_setting_and_value(setting, value):
    named = rf"{setting}: .*\(got {re.escape(repr(value))}\)"
    with pytest.raises(InputError, match=rf"http://h:1/v1: {named}"):
        load_assessor(f"vllm://h:1?model=x&{setting}={quote(value)}")
    with pytest.raises(InputError, match=named):
        load_assessor("vllm://h:1?model=x", **{setting: value})


def test_other_bad_uris_are_input_errors_not_tracebacks():
    with pytest.raises(InputError, match="unknown setting 'bogus'; known: mode, swap"):
        load_assessor("vllm://h:1?model=x&bogus=1")
    with pytest.raises(InputError, match="https must be 1 or 0"):
        load_assessor("openai://h:1/v1?https=maybe")
    with pytest.raises(InputError, match="port is not a number"):
        load_assessor("vllm://h:99999")
    with pytest.raises(InputError, match="host name or path is too long"):
        load_assessor("vllm://" + "a" * 1_000_000 + "?model=m")
    with pytest.raises(InputError, match="not a valid URL"):
        load_assessor("vllm://[::1?model=m")
    with pytest.raises(InputError, match="control character"):  # urlsplit would drop it: model "mX-Evil: 1"
        load_assessor("vllm://h:1?model=m\nX-Evil: 1")
    with pytest.raises(InputError, match=r"model: .*\(got 'm\\x1b\[2J'\)"):
        load_assessor("vllm://h:1", model="m\x1b[2J")
    ok = load_assessor("vllm://h:1?model=x&timeout=2.5&retries=0&max_response_bytes=65536")
    assert (ok.policy.timeout, ok.policy.retries, ok.policy.max_response_bytes) == (2.5, 0, 65536)


def test_request_body_uses_vllm_extensions_only_for_vllm(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "sk-secret-value")
    likes, dislikes = [_image(1), _image(2)], [_image(3)]
    a, b = _image(4), _image(5)
    request = build_compare_request(likes, dislikes, a, b)
    sampling = Sampling(max_tokens=64, temperature=0.0, repetition_penalty=1.15, regex="x+", seed=None)
    vllm = load_assessor("vllm://h:1?model=m&max_pixels=4096")
    body = vllm.request_body(request, sampling)
    parts = [p for p in body["messages"][1]["content"] if p["type"] == "image_url"]
    assert [p["uuid"] for p in parts] == [r.sha256 for r in (*likes, *dislikes, a, b)]
    assert all(p["image_url"]["url"].startswith("data:image/png;base64,") for p in parts)
    first = Image.open(io.BytesIO(base64.b64decode(parts[0]["image_url"]["url"].split(",")[1])))
    assert first.width * first.height <= 4096  # resized to the pixel budget
    assert body["repetition_penalty"] == 1.15 and body["chat_template_kwargs"] == {"add_vision_id": True}
    assert body["structured_outputs"] == {"regex": "x+"}
    assert "sk-secret" not in repr(vllm) and "sk-secret" not in json.dumps(body)

    hosted = load_assessor("openai://api.example.com/v1?model=gpt-4o")
    plain = hosted.request_body(request, Sampling(64, 0.0, 1.15, None, None))
    assert set(plain) == {"model", "messages", "max_tokens", "temperature"}
    assert all("uuid" not in p for p in plain["messages"][1]["content"])

    schema = {"type": "object"}
    as_json = Sampling(64, 0.0, 1.15, None, None, json_schema=schema)
    assert vllm.request_body(request, as_json)["structured_outputs"] == {"json": schema}
    standard = hosted.request_body(request, as_json)["response_format"]
    assert standard["type"] == "json_schema" and standard["json_schema"]["schema"] == schema


class Server:
    """A scripted HTTP server: answers the i-th request with `responses[min(i, last)]`."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = responses
        self.calls = 0

    def post(self, policy: RetryPolicy = FAST) -> dict:
        def handler(request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return self.responses[min(self.calls, len(self.responses)) - 1]

        async def go() -> dict:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
                return await request_json(client, "http://judge/v1/chat/completions", policy, {"x": 1})

        return asyncio.run(go())


def _error(status: int, message: str, **kwargs) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": message}}, **kwargs)


def test_429_and_5xx_are_retried_then_succeed():
    server = Server(
        _error(429, "slow down", headers={"retry-after": "0"}),
        httpx.Response(503, text="overloaded"),
        httpx.Response(200, json={"ok": True}),
    )
    assert server.post() == {"ok": True} and server.calls == 3


def test_client_errors_are_not_retried_and_name_the_url_and_reason():
    server = Server(_error(400, "prompt is longer than max_model_len"))
    with pytest.raises(BackendError, match=r"http://judge/v1/chat/completions rejected .*400.*max_model_len"):
        server.post()
    assert server.calls == 1
    with pytest.raises(BackendError, match="check the API key"):
        Server(_error(401, "bad key")).post()


def test_persistent_server_errors_give_up_after_the_retries():
    server = Server(_error(500, "EngineDeadError"))
    with pytest.raises(BackendError, match=r"failed after 3 attempt\(s\): HTTP 500: EngineDeadError"):
        server.post()
    assert server.calls == 3


def test_an_absent_server_gives_a_clear_error_quickly(tmp_path):
    port = free_port()  # nothing listens there
    judge = load_assessor(f"vllm://127.0.0.1:{port}?model=m", retries=2)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (8, 8), "red").save(a)
    Image.new("RGB", (8, 8), "blue").save(b)
    start = time.perf_counter()
    with pytest.raises(
        BackendError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed after 3 attempt"
    ):
        judge.compare(_refs(), a, b)
    assert time.perf_counter() - start < 10

    unnamed = load_assessor(f"vllm://127.0.0.1:{port}")
    with pytest.raises(
        BackendError, match=r"cannot list the models: .*/v1/models failed .* is the server running"
    ):
        unnamed.compare(_refs(), a, b)


def _refs() -> References:
    return References(likes=[_image(1)], dislikes=[_image(2)], skipped=[])


def test_an_answer_nested_too_deep_or_too_long_is_a_backend_error():
    deep = Server(httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000))
    with pytest.raises(
        BackendError, match=r"http://judge/v1/chat/completions answered 200 with a body that is not"
    ):
        deep.post()
    declared = Server(httpx.Response(200, content=b"x" * 5000))  # refused by its Content-Length
    with pytest.raises(BackendError, match="sent an answer over 1024 bytes"):
        declared.post(RetryPolicy(retries=2, timeout=5, max_response_bytes=1024))
    assert declared.calls == 1
