"""The remote assessor against a misbehaving server: every fault a clear, bounded BackendError.

Each mode of `agentpref.testing.fake_openai` is a real HTTP server on 127.0.0.1. The
last tests run `agentpref compare` in a child process, as a user would, and hold it to
the acceptance bound: exit 3 naming the server within the deadline plus 1 s, with peak
memory under 100 MB above the same command against a closed port.
"""

from __future__ import annotations

import base64
import io
import json
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from agentpref.backends import load_assessor
from agentpref.errors import BackendError
from agentpref.http import RetryPolicy
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.testing.fake_openai import (
    BAD_USAGE,
    MARKUP,
    FakeServer,
    Measured,
    error_within,
    run_measured,
    serve_fake,
)

LIKES = Path(__file__).resolve().parent.parent / "examples" / "likes"


def _image(i: int) -> ImageRef:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (i * 40 % 256, 100, 50)).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=f"i{i}.png")


REFS = References(likes=[_image(1)], dislikes=[_image(2)], skipped=[])


def _compare(uri: str, a: int = 3, b: int = 4):
    judge = load_assessor(uri)
    return judge, judge.compare(REFS, _image(a), _image(b))


def _fails_within(uri: str, seconds: float) -> str:
    """The BackendError message of one compare, which must end within `seconds`."""
    err = error_within(lambda: _compare(uri), seconds)
    assert isinstance(err, BackendError), err
    return str(err)


def test_ok_answers_a_judgment_and_counts_what_it_cost():
    with serve_fake("ok") as server:
        judge, judgment = _compare(server.uri())
        assert (judgment.winner, judgment.total_a, judgment.total_b) == ("B", 11.0, 22.0)
        assert judge.usage.prompt_tokens == 1000 and judge.usage.completion_tokens == 200
        sent = judge._image_url(_image(3)).partition(",")[2]
        assert server.received(base64.b64decode(sent))  # seen inside the data URL
        assert server.received(b"fake-judge") and not server.received(b"never sent")


def test_a_closed_port_fails_at_once_naming_the_server():
    with serve_fake("refuse") as server:
        message = _fails_within(server.uri(retries=0), 5)
    assert f"{server.url}/v1/chat/completions failed after 1 attempt(s)" in message


def test_a_server_error_is_retried_then_the_answer_used():
    with serve_fake("500-then-ok", failures=2) as server:
        _, judgment = _compare(server.uri(retries=2))
        assert judgment.winner == "B" and len(server.requests) == 3


def test_429_waits_for_retry_after():
    with serve_fake("429", retry_after="1") as server:
        start = time.monotonic()
        _, judgment = _compare(server.uri(retries=1))
        assert judgment.winner == "B" and time.monotonic() - start >= 1


def test_a_retry_after_beyond_the_cap_ends_the_call_instead_of_waiting():
    with serve_fake("429", failures=99, retry_after="86400") as server:
        message = _fails_within(server.uri(timeout=2, retries=2), 5)
        assert len(server.requests) == 1
    assert (
        f"{server.url}/v1/chat/completions failed: HTTP 429: slow down; it asks to retry after 86400 s"
        in message
    )


def test_retry_after_is_capped_and_nonsense_in_it_ignored():
    policy = RetryPolicy(backoff=0.5)
    assert (
        policy.delay(1, "60") == 60 and policy.delay(1, "60.5") is None and policy.delay(1, "1e400") is None
    )
    assert policy.delay(1, "-5") == 0
    assert 0.3 < policy.delay(1, "nan") < 0.7 and 0.3 < policy.delay(1, "Wed, 21 Oct 2015") < 0.7


def test_a_hanging_server_is_given_up_on_at_the_deadline():
    with serve_fake("hang") as server:
        message = _fails_within(server.uri(timeout=1, retries=0), 1 + 2)
    assert server.url in message and "no complete answer within 1 s" in message


def test_a_trickling_server_is_given_up_on_at_the_deadline():
    """One byte every 2 s never trips a per-read timeout; the deadline covers the whole exchange."""
    with serve_fake("trickle", interval=0.5) as server:
        message = _fails_within(server.uri(timeout=2, retries=1), 2 * 2 + 3)  # a margin for a busy machine
    assert server.url in message and "failed after 2 attempt(s): no complete answer within 2 s" in message


def test_the_model_listing_has_the_same_bounds():
    with serve_fake("trickle", interval=0.5) as server:
        message = _fails_within(server.uri(model=None, timeout=1, retries=0), 1 + 2)
    assert f"cannot list the models: {server.url}/v1/models failed" in message


@pytest.mark.parametrize("mode", ["endless", "huge"])
def test_an_endless_or_huge_body_is_cut_at_the_size_cap(mode):
    with serve_fake(mode) as server:
        message = _fails_within(server.uri(timeout=30, retries=3), 10)
        assert len(server.requests) == 1  # an oversized answer would come back as large: no retry
    assert (
        f"{server.url}/v1/chat/completions sent an answer over 4194304 bytes (max_response_bytes)" in message
    )


def test_the_size_cap_is_a_uri_setting():
    with serve_fake("ok") as server:
        assert "over 2048 bytes" in _fails_within(server.uri(max_response_bytes=2048), 5)


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"choices": []}, "choices"),
        ({"object": "chat.completion"}, "choices"),
        ({"choices": [{"message": {"content": None, "refusal": "no"}}]}, "choices[0].message.content"),
        ({"choices": [{"message": {"content": ["B"]}}]}, "choices[0].message.content"),
        ([1, 2], "body"),
        ("B wins", "body"),
    ],
)
def test_an_answer_without_text_is_a_backend_error_naming_the_server(answer, named):
    with serve_fake("ok", answer=answer) as server:
        message = _fails_within(server.uri(), 5)
    assert message.startswith(f"{server.url}/v1/chat/completions answered without a usable {named}:")


def test_a_body_that_is_not_json_is_a_backend_error_naming_the_server():
    with serve_fake("malformed") as server:
        message = _fails_within(server.uri(), 5)
    assert message == f"{server.url}/v1/chat/completions answered 200 with a body that is not JSON"


def test_markup_and_escape_sequences_in_an_answer_are_kept_as_text():
    with serve_fake("markup") as server:
        _, judgment = _compare(server.uri())
    assert judgment.winner == "B" and MARKUP in judgment.scores[0].rationale_a


def test_scores_out_of_range_stay_on_the_scale():
    with serve_fake("out-of-range") as server:
        _, judgment = _compare(server.uri())
    assert judgment.winner == "B"
    assert all(0 <= s.score_a <= 5 and 0 <= s.score_b <= 5 for s in judgment.scores)


def test_adversarial_usage_counts_are_unknown_not_a_crash():
    with serve_fake("bad-usage") as server:
        judge = load_assessor(server.uri())
        for a in range(3, 3 + len(BAD_USAGE)):  # each request a different pair of bad values
            assert judge.compare(REFS, _image(a), _image(a + 10)).winner == "B"
    assert judge.usage.requests == len(BAD_USAGE)
    assert judge.usage.prompt_tokens == judge.usage.completion_tokens == 0


# -- through the CLI, in a child process ---------------------------------------------------


def _cli_compare(
    server: FakeServer, tmp_path: Path, timeout: float = 2, max_mb: float | None = None
) -> Measured:
    a, b = tmp_path / "A.png", tmp_path / "B.png"
    Image.new("RGB", (64, 48), "red").save(a)
    Image.new("RGB", (64, 48), "blue").save(b)
    command = [sys.executable, "-m", "agentpref.cli", "compare", "--refs", str(LIKES), str(a), str(b)]
    uri = server.uri(timeout=timeout, retries=0)
    return run_measured([*command, "--assessor", uri, "--json"], kill_after=30, kill_above_mb=max_mb)


@pytest.fixture(scope="module")
def baseline_rss_mb(tmp_path_factory) -> float:
    with serve_fake("refuse") as server:
        refused = _cli_compare(server, tmp_path_factory.mktemp("refuse"))
    assert refused.code == 3 and server.url in refused.stderr
    return refused.peak_rss_mb


@pytest.mark.parametrize("mode", ["trickle", "endless", "huge"])
def test_compare_exits_3_naming_the_server_within_the_deadline_and_memory_bound(
    mode, tmp_path, baseline_rss_mb
):
    with serve_fake(mode) as server:
        ended = _cli_compare(server, tmp_path, timeout=2, max_mb=baseline_rss_mb + 200)
    assert ended.code == 3, ended.stderr
    assert server.url in ended.stderr and server.first_request_at is not None
    took = ended.ended_at - server.first_request_at
    assert took < 2 + 1, f"exit {took:.1f} s after the request"
    assert ended.peak_rss_mb - baseline_rss_mb < 100, (
        f"{ended.peak_rss_mb:.0f} MB vs {baseline_rss_mb:.0f} MB"
    )
    assert len(ended.stdout) < 4096 and json.loads(ended.stdout)["exit_code"] == 3  # never the 50 MB answer
