"""Where a torch model runs when nobody says: cuda, else Apple's mps, else the CPU, and its dtype."""

from __future__ import annotations

from typing import Any


def pick_device(torch: Any) -> str:
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def pick_dtype(torch: Any, device: str) -> Any:
    """bfloat16 on GPUs that have it, float16 on other GPUs and mps, float32 on the CPU."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device.startswith("mps") else torch.float32
