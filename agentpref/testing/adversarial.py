"""Text shaped to make a reader slow: long runs of the tokens each format is parsed by.

The fuzz tests and `benchmarks/parse_bounds.py` time every reader of untrusted text on these
(metadata, model answers, JSON answers): a reader that is linear in its input reads each
shape of 10 MB in milliseconds; one with a backtracking regex takes minutes.

>>> sorted(text_shapes(8))[:3], len(text_shapes(8)["spaces"])
(['"\\\\', '</think>', '<answer>'], 8)
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, PngImagePlugin

from agentpref.errors import ParseError


def text_shapes(size: int) -> dict[str, str]:
    """Adversarial texts of about `size` characters, by name."""

    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    return {
        "spaces": fill(" "),
        "newlines": fill("\n"),
        "a:": "Steps: " + fill("a:"),
        "words, no colon": "Steps: 1, " + fill("a b "),
        '"\\': 'Steps: "' + fill('"\\'),
        "commas": fill(","),
        "control+bidi": fill("\x00\x1b\u202e"),
        "<think> spaces": "<think>" + fill(" "),
        "<think> newlines": "<think>" + fill("\n"),
        "<answer>": fill("<answer>"),
        "</think>": "<think>" + fill("</think>"),
        "headings": "<think>" + fill("Color:\n"),
        "scores": "<think>Color:\n" + fill("Image A(2) "),
        "sums": "<think>Total:\nImage A: " + fill("1+"),
        "digits": "<think>Total:\nImage A: " + fill("1"),
        "profile keys": "<visual preference profile>\n" + fill('"Color": "a",\n'),
        "[[[": fill("["),
        "json keys": '{"1": {"inputs": {' + fill('"text": "x", '),
    }


def documented(read: Callable[[str], object]) -> Callable[[str], object]:
    """`read`, with the ParseError that model-text readers document returned as a result."""

    def call(text: str) -> object:
        try:
            return read(text)
        except ParseError as err:
            return err

    return call


def png_with_text(text: str) -> Image.Image:
    """A 2x2 PNG, opened and loaded, whose A1111 `parameters` and ComfyUI `prompt` chunks hold `text`."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", text)
    info.add_text("prompt", text)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG", pnginfo=info)
    image = Image.open(buffer)
    image.load()
    return image
