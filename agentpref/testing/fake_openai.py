"""A small, adversarial OpenAI-compatible server on 127.0.0.1, for testing what a client survives.

It speaks just enough of the API for the `vllm://`/`openai://` assessor (`GET /v1/models`,
`POST /v1/chat/completions`) and misbehaves on purpose, one way per mode:

    ok            a valid PreferThinker-layout judgment (B wins, 11 to 22)
    refuse        nothing listens on the port
    500-then-ok   HTTP 500 for the first `failures` requests, then ok
    429           HTTP 429 with `Retry-After: retry_after` for the first `failures`, then ok
    hang          reads the request and never answers
    trickle       a valid answer, one byte every `interval` seconds
    endless       a chunked body that never ends
    huge          a complete, valid-looking answer of `size` bytes (50 MB), chunked
    malformed     HTTP 200 with a body that is not JSON
    markup        a valid judgment whose rationale holds `MARKUP` (rich markup, escape sequences)
    out-of-range  a judgment with element scores 9 and -3 on a 0-5 scale
    bad-usage     a valid judgment whose `usage` counts are "lots", -5, 10**30 or {}

The fault modes (500-then-ok to malformed) apply to every request, so they also hit the
model listing; the answer modes change only the chat answer. Every request body is kept
(`requests`), and `received(data)` says whether some bytes reached the server, including
inside base64 image data URLs: the test of "no file outside the root is sent".

    with serve_fake("trickle") as server:
        judge = load_assessor(server.uri(timeout=2, retries=0))

`run_measured` runs a client in a child process and reports when it ended and its peak
memory, for the acceptance test and `benchmarks/remote_faults.py`.

Test kit only: production code never imports `agentpref.testing`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.testing.vllm_cpu import free_port

MODES = (
    "ok",
    "refuse",
    "500-then-ok",
    "429",
    "hang",
    "trickle",
    "endless",
    "huge",
    "malformed",
    "markup",
    "out-of-range",
    "bad-usage",
)
MODEL = "fake-judge"
JUDGMENT = format_judgment(WORKED_EXAMPLES[0])
"""The `ok` answer's text: B wins, 11 to 22."""
MARKUP = "[/x] [red]alarm[/red] \x1b[2J\x1b]0;owned\x07\x1b]52;c;b3duZWQ=\x07 done"
"""Rich markup, clear screen, a window title and an OSC 52 clipboard write, as `markup` sends them."""
BAD_USAGE: tuple[Any, ...] = ("lots", -5, 10**30, {})
_DATA_URL = re.compile(rb"data:[\w/+.-]*;base64,([A-Za-z0-9+/=]+)")


@dataclass
class FakeServer:
    """One running fake: where it is, what it was sent."""

    mode: str
    url: str
    failures: int = 1
    retry_after: str = "1"
    interval: float = 2.0
    size: int = 50 * 1024 * 1024
    answer: Any = None
    """What `ok` answers to a chat request instead of the judgment (any JSON value)."""
    requests: list[bytes] = field(default_factory=list)
    first_request_at: float | None = None
    """`time.monotonic()` when the first request arrived (None before)."""
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def uri(self, scheme: str = "vllm", **query: Any) -> str:
        """An assessor URI for this server, e.g. `uri(timeout=2, retries=0)`; `model=None` leaves it out."""
        host_port = self.url.removeprefix("http://")
        path = "/v1" if scheme == "openai" else ""
        settings = {k: v for k, v in {"model": MODEL, **query}.items() if v is not None}
        return f"{scheme}://{host_port}{path}?{urlencode(settings)}"

    def received(self, data: bytes) -> bool:
        """Whether `data` is in any request body, plain or inside a base64 data URL."""
        for body in self.requests:
            if data in body:
                return True
            if any(data in base64.b64decode(m) for m in _DATA_URL.findall(body)):
                return True
        return False

    def _arrived(self, body: bytes) -> int:
        """Record a request; its 0-based number."""
        with self._lock:
            if self.first_request_at is None:
                self.first_request_at = time.monotonic()
            self.requests.append(body)
            return len(self.requests) - 1


def _chat_answer(mode: str, number: int) -> dict[str, Any]:
    text = JUDGMENT
    if mode == "markup":
        text = text.replace("Image A(2) - ", f"Image A(2) - {MARKUP} ", 1)
    elif mode == "out-of-range":
        text = re.sub(r"Image A\(\d\)", "Image A(9)", text, count=1)
        text = re.sub(r"Image B\(\d\)", "Image B(-3)", text, count=1)
    usage: dict[str, Any] = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    if mode == "bad-usage":  # each request a different pair of bad counts
        bad = BAD_USAGE
        usage = {
            "prompt_tokens": bad[number % 4],
            "completion_tokens": bad[(number + 1) % 4],
            "total_tokens": {},
        }
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    return {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [choice],
        "usage": usage,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked bodies, as real servers do
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
        pass

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _answer(self, body: bytes) -> None:
        fake = self.server.fake
        number = fake._arrived(body)
        with contextlib.suppress(ConnectionError):  # a bounded client gives up
            self._misbehave(fake, number)

    def _misbehave(self, fake: FakeServer, number: int) -> None:
        mode = fake.mode
        if self.command == "GET":
            answer = {"object": "list", "data": [{"id": MODEL}]}
        else:
            answer = _chat_answer(mode, number) if fake.answer is None else fake.answer
        ok = json.dumps(answer).encode()
        if mode == "500-then-ok" and number < fake.failures:
            self._send(500, b'{"error": {"message": "EngineCore died"}}')
        elif mode == "429" and number < fake.failures:
            self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": fake.retry_after})
        elif mode == "hang":
            fake.stopping.wait()
        elif mode == "trickle":
            self._head(200, {"Content-Length": str(len(ok))})
            for i in range(len(ok)):
                self.wfile.write(ok[i : i + 1])
                self.wfile.flush()
                if fake.stopping.wait(fake.interval):
                    return
        elif mode == "endless":
            self._head(200, {"Transfer-Encoding": "chunked"})
            self._chunk(b'{"choices": [{"message": {"content": "')
            block = b"a" * 65536
            while not fake.stopping.is_set():
                self._chunk(block)
        elif mode == "huge":
            self._head(200, {"Transfer-Encoding": "chunked"})
            head, tail = ok.split(b"<think>", 1)  # pad inside the answer text: still valid JSON
            self._chunk(head)
            for _ in range(fake.size // 65536):
                self._chunk(b" " * 65536)
            self._chunk(b"<think>" + tail)
            self._chunk(b"")
        elif mode == "malformed":
            self._send(200, b'{"choices": [{"message": {"content": "B wins"')
        else:
            self._send(200, ok)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self._head(status, {"Content-Length": str(len(body)), **(headers or {})})
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler never keeps the test process alive

    def __init__(self, fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is expected
            super().handle_error(request, client_address)


@contextmanager
def serve_fake(mode: str = "ok", **knobs: Any) -> Iterator[FakeServer]:
    """Run a fake server in a background thread for the `with` block (see the module's modes).

    Knobs: `failures` (500-then-ok, 429), `retry_after` (429), `interval` (trickle), `size` (huge),
    `answer` (ok: the JSON to answer instead).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; modes: {', '.join(MODES)}")
    if mode == "refuse":
        yield FakeServer(mode, f"http://127.0.0.1:{free_port()}", **knobs)
        return
    fake = FakeServer(mode, "", **knobs)
    httpd = _HTTPServer(fake)
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, name=f"fake-openai-{mode}", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        httpd.shutdown()
        httpd.server_close()


@dataclass
class Measured:
    """How a child process ended: exit code, output, when (`time.monotonic()`), peak RSS in MB."""

    code: int
    stdout: str
    stderr: str
    ended_at: float
    peak_rss_mb: float


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            line = next((x for x in status if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    except OSError:  # gone, or not Linux
        return 0.0
    return int(line.split()[1]) / 1024


def error_within(call: Callable[[], object], seconds: float) -> BaseException:
    """The exception `call()` raised, which must come within `seconds` (AssertionError if it
    returned or took longer). Run in a thread, so a client that never gives up fails the test
    instead of hanging it."""
    outcome: list[BaseException | None] = []

    def attempt() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as err:
            outcome.append(err)

    worker = threading.Thread(target=attempt, daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(seconds + 10)
    elapsed = time.monotonic() - start
    assert outcome and outcome[0] is not None, f"no error after {elapsed:.0f} s"
    assert elapsed < seconds, f"took {elapsed:.1f} s, bound {seconds} s"
    return outcome[0]


def run_measured(
    command: Sequence[str], kill_after: float = 60.0, kill_above_mb: float | None = None
) -> Measured:
    """Run `command` to its end; killed after `kill_after` s or above `kill_above_mb` of RSS.

    The limits make an unbounded client fail its test instead of hanging it or eating the machine.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(list(command), stdout=out, stderr=err)
        done = threading.Event()
        give_up = time.monotonic() + kill_after

        def watch() -> None:
            while not done.wait(0.05):
                too_big = kill_above_mb is not None and _rss_mb(child.pid) > kill_above_mb
                if too_big or time.monotonic() > give_up:
                    # os.kill, not child.kill: Popen would reap the child before wait4 reads its usage.
                    os.kill(child.pid, signal.SIGKILL)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak RSS, which Popen.wait cannot give
        ended = time.monotonic()
        done.set()
        watcher.join()
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(child.returncode, out.read(), err.read(), ended, usage.ru_maxrss / 1024)
