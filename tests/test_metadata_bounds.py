"""Image prompt metadata is read in bounded, linear time whatever a file holds.

A file someone else made can carry megabytes in a PNG text chunk, an EXIF comment or a
sidecar. Each reader cuts its input before parsing and parses linearly; these cases took
seconds to hours before (a 40,000-character ``parameters`` chunk cost 24 s, a ComfyUI graph
of twenty nodes wiring five inputs each to the next cost 5**16 calls).
"""

from __future__ import annotations

import gc
import io
import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, PngImagePlugin

from agentpref.images import metadata
from agentpref.images.metadata import (
    MAX_GRAPH_CHARS,
    MAX_METADATA_CHARS,
    MAX_PROMPT_CHARS,
    parse_a1111,
    parse_comfyui,
    read_embedded,
    read_sidecar,
)

SETTINGS = "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 12"
# The shape that made the old settings-line pattern quadratic: words and spaces, no colon.
QUADRATIC_LINE = "Steps: 20, " + "a b " * 10_000


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail if the block uses more than `seconds` of this process's CPU, interrupting it if it hangs.

    CPU time, not wall time: other processes on a loaded machine do not count against the
    reader, and the garbage collector is paused (a collection of the test process's heap is
    not the reader's cost). SIGALRM at ten times the bound interrupts a regex mid-match (the
    matcher checks signals), so a quadratic or exponential reader fails fast instead of
    blocking the suite.
    """

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {10 * seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    collecting = gc.isenabled()
    gc.disable()
    signal.setitimer(signal.ITIMER_REAL, 10 * seconds)
    start = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if collecting:
            gc.enable()
    used = time.process_time() - start
    assert used < seconds, f"took {used:.2f} s of CPU (bound {seconds} s)"


def timed(seconds: float, read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)`, failing if it takes longer than `seconds`."""
    with within(seconds):
        return read(*args)


def _png(**chunks: str) -> Image.Image:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG", pnginfo=info)
    im = Image.open(io.BytesIO(buffer.getvalue()))
    im.load()
    return im


def test_a_40k_parameters_chunk_is_read_in_milliseconds() -> None:
    im = _png(parameters="a red fox\nNegative prompt: blurry\n" + QUADRATIC_LINE)
    found = timed(1.0, read_embedded, im)
    assert (found.prompt, found.source) == ("a red fox", "a1111")
    assert found.negative_prompt is not None and found.negative_prompt.startswith(
        "blurry\nSteps: 20, a b a b"
    )


def test_a_10mb_parameters_chunk_is_cut_before_parsing() -> None:
    im = _png(parameters="a red fox, " + "a b " * 2_500_000)
    found = timed(1.0, read_embedded, im)
    assert found.prompt is not None and found.prompt.startswith("a red fox, a b")
    assert len(found.prompt) <= MAX_PROMPT_CHARS


def test_a_64k_sidecar_is_read_in_milliseconds(tmp_path: Path) -> None:
    image = tmp_path / "fox.png"
    Image.new("RGB", (4, 4)).save(image)
    image.with_suffix(".txt").write_text(
        "a red fox\nNegative prompt: blurry\n" + "Steps: 1, " + "a b " * 16_000
    )
    found = timed(1.0, read_sidecar, image)
    assert (found.prompt, found.source) == ("a red fox", "sidecar")


def test_a_64k_exif_user_comment_is_read_in_milliseconds() -> None:
    exif = Image.Exif()
    comment = "neon city\nNegative prompt: day\n" + "Steps: 1, " + "a b " * 16_000
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + comment.encode("utf-16-be")
    buffer = io.BytesIO()  # PNG: a JPEG's EXIF segment holds at most 64 KB
    Image.new("RGB", (4, 4)).save(buffer, format="PNG", exif=exif.tobytes())
    found = timed(1.0, read_embedded, Image.open(buffer))
    assert (found.prompt, found.source) == ("neon city", "exif")


def test_the_settings_line_is_still_recognised_and_dropped() -> None:
    quoted = SETTINGS + ', Lora hashes: "fox: 1a2b, snow: 3c4d", Version: v1.9'
    assert parse_a1111(f"a fox\nNegative prompt: blur\n{quoted}") == ("a fox", "blur")
    assert parse_a1111(f"a fox\n{SETTINGS}") == ("a fox", None)
    # "Steps:" starting a prompt line with fewer than three settings is prompt text.
    assert parse_a1111("a fox\nSteps: forward") == ("a fox\nSteps: forward", None)
    assert parse_a1111(SETTINGS) == (None, None)


def test_metadata_text_past_the_cap_is_not_read() -> None:
    # The negative prompt starts after MAX_METADATA_CHARS: it is never seen.
    text = "fox " * (MAX_METADATA_CHARS // 4) + "\nNegative prompt: blurry"
    prompt, negative = parse_a1111(text)
    assert prompt is not None and negative is None


def test_comfyui_nested_100k_deep_is_no_prompt_and_no_error() -> None:
    graph = '{"1": {"inputs": {"text": ' + "[" * 100_000 + "]" * 100_000 + "}}}"
    assert timed(1.0, parse_comfyui, graph) == (None, None)
    assert timed(1.0, parse_comfyui, "[" * 10_000_000) == (None, None)


def test_comfyui_graph_over_the_cap_is_not_read() -> None:
    text = "castle " * (MAX_GRAPH_CHARS // 7)
    graph = json.dumps({"1": {"class_type": "CLIPTextEncode", "inputs": {"text": text}}})
    assert len(graph) > MAX_GRAPH_CHARS
    assert timed(1.0, parse_comfyui, graph) == (None, None)
    assert parse_comfyui(graph[: MAX_GRAPH_CHARS - 100] + '"}}}')[0] is not None  # just under it is read


def test_comfyui_wiring_fan_out_is_followed_once_per_node() -> None:
    # Each node wires all five text inputs to the next: 5**16 paths to the text at the end.
    graph: dict[str, Any] = {
        str(i): {
            "class_type": "StringConcat",
            "inputs": {key: [str(i + 1), 0] for key in ("text", "text_g", "text_l", "string", "value")},
        }
        for i in range(1, 12)
    }
    graph["12"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "pixel art castle"}}
    graph["0"] = {"class_type": "KSampler", "inputs": {"positive": ["1", 0], "negative": ["12", 0]}}
    assert timed(1.0, parse_comfyui, json.dumps(graph)) == ("pixel art castle", "pixel art castle")


def test_comfyui_cycles_end() -> None:
    graph = {
        "1": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0]}},
        "2": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["1", 0]}},
        "3": {"class_type": "KSampler", "inputs": {"positive": ["1", 0], "negative": ["2", 0]}},
        "4": {"class_type": "CLIPTextEncode", "inputs": {"text": "harbour"}},
    }
    assert timed(1.0, parse_comfyui, json.dumps(graph)) == ("harbour", None)


@pytest.mark.parametrize(
    "comment",
    [b"UNICODE\x00" + ("x" * 5_000_000).encode("utf-16-be"), b"ASCII\x00\x00\x00" + b"\x00" * 10_000_000],
    ids=["utf16-10mb", "ascii-zeros-10mb"],
)
def test_a_10mb_user_comment_is_cut_before_decoding(comment: bytes) -> None:
    text = timed(1.0, metadata._decode_user_comment, comment)
    assert text is None or len(text) <= MAX_METADATA_CHARS
