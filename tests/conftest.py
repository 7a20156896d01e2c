"""Shared fixtures: reference folders made in the test from the committed examples."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Tests never reach a model hub: everything they load is built or shipped offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def example_refs(tmp_path: Path) -> Path:
    """A copy of examples/ as one folder holding likes/ and dislikes/."""
    root = tmp_path / "refs"
    shutil.copytree(EXAMPLES / "likes", root / "likes")
    shutil.copytree(EXAMPLES / "dislikes", root / "dislikes")
    return root


@pytest.fixture(scope="session")
def tiny_qwen() -> Path:
    """The tiny random Qwen2.5-VL folder (built once offline, cached outside the clone)."""
    from agentpref.testing.tiny_qwen import build_tiny_qwen

    return build_tiny_qwen()


@pytest.fixture(scope="session")
def tiny_sd() -> Path:
    """A tiny random StableDiffusionPipeline folder (built once offline, cached outside the clone)."""
    from agentpref.testing.tiny_diffusers import build_tiny_pipeline

    return build_tiny_pipeline("sd")


@pytest.fixture(scope="session")
def tiny_sdxl() -> Path:
    """A tiny random StableDiffusionXLPipeline folder (built once offline, cached outside the clone)."""
    from agentpref.testing.tiny_diffusers import build_tiny_pipeline

    return build_tiny_pipeline("sdxl")


@pytest.fixture(scope="session")
def tiny_flux() -> Path:
    """A tiny random FluxPipeline folder (built once offline, cached outside the clone)."""
    from agentpref.testing.tiny_diffusers import build_tiny_pipeline

    return build_tiny_pipeline("flux")


@pytest.fixture(scope="session")
def tiny_ip_adapter() -> Path:
    """A tiny random IP-Adapter folder laid out like h94/IP-Adapter (SD and SDXL adapters, image encoders)."""
    from agentpref.testing.tiny_ip_adapter import build_tiny_ip_adapter

    return build_tiny_ip_adapter()


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Toy-sized matmuls gain nothing from threads, and on a busy 2-core machine waiting for a
    second thread makes a 0.1 s run take seconds."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
