"""The prompt metadata embedded in image files or written beside them.

Prompt metadata is untrusted text from a file someone else may have made: it is parsed as
data (never evaluated), stripped of control and bidi-override characters and capped in
length before anything else sees it. Every reader here cuts its input to a fixed size
before parsing it, parses in linear time (no pattern with adjacent repeats that can match
the same characters) and never raises on bad metadata: whatever the file holds, reading it
costs at most a few milliseconds and yields a prompt or none.

Sources, in the order they are tried (the first that yields a prompt wins):

1. Automatic1111 / Forge / SD.Next: PNG text chunk ``parameters``, or the same text in the
   EXIF UserComment of a JPEG/WebP. Prompt = text before ``Negative prompt:``.
2. ComfyUI: PNG text chunk ``prompt`` holding the API graph as JSON. The positive prompt is
   the text of the CLIPTextEncode node wired into a sampler's ``positive`` input; when the
   wiring cannot be followed, the longest CLIPTextEncode text.
3. A generic PNG ``Description`` chunk (NovelAI and others), EXIF ImageDescription.
4. A sidecar ``<stem>.txt`` next to the file (A1111's "save text file" option, dataset
   captions). Embedded metadata comes first because it travels with the image bytes and
   describes exactly them; a sidecar is a fallback that may be stale.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from agentpref.paths import RefusedPathError, inside_root

MAX_PROMPT_CHARS = 2000
"""Prompts longer than this are cut: they end up inside model requests and HTML reports."""

MAX_SIDECAR_BYTES = 64 * 1024

MAX_METADATA_CHARS = 64 * 1024
"""The most of one metadata text (A1111 parameters, a description, a comment) that is read.
A1111's text with a long negative prompt and every LoRA hash is a few thousand characters;
beyond this it is noise or an attack, and the prompt it holds comes first anyway."""

MAX_GRAPH_CHARS = 128 * 1024
"""A ComfyUI graph longer than this is not read (cut JSON is no JSON). An API graph of a
large workflow (a hundred nodes) is tens of kilobytes."""

_EXIF_IFD = 0x8769
_TAG_IMAGE_DESCRIPTION = 0x010E
_TAG_USER_COMMENT = 0x9286
_MAX_GRAPH_DEPTH = 16
# C0 and C1 controls except the newline (category Cc), surrogates (Cs), and bidi overrides and
# isolates, which can make a prompt display as something else in a report.
_DROPPED = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# One "Key: value" setting, matched only where the previous one ended. A key starts with a word
# character, so the leading spaces and the key cannot trade characters (the old pattern,
# searched from every position, took 24 s on a 40,000-character line).
_A1111_SETTING = re.compile(r'\s*(\w[\w ]*):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_NEGATIVE = re.compile(r"^[^\S\n]*Negative prompt:", re.MULTILINE)


@dataclass(frozen=True)
class PromptMetadata:
    """The prompt found for one image, and where it came from (for reports and debugging)."""

    prompt: str | None = None
    negative_prompt: str | None = None
    source: str | None = None  # "a1111", "comfyui", "description", "exif", "sidecar"


NO_METADATA = PromptMetadata()


def clean_text(text: str | bytes | None, limit: int = MAX_PROMPT_CHARS) -> str | None:
    """Untrusted text -> printable text without control characters, at most `limit` chars.

    Newlines survive (prompts are often multi-line); tabs become spaces; other control,
    format-override and surrogate characters are dropped. Empty results become None. Only
    the first MAX_METADATA_CHARS characters are read. Never raises.
    """
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text[: 4 * MAX_METADATA_CHARS].decode("utf-8", errors="replace")
    text = text[:MAX_METADATA_CHARS].replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    cleaned = _DROPPED.sub("", text).strip()
    if len(cleaned) > limit:
        cleaned = cleaned[:limit].rstrip()
    return cleaned or None


def _is_settings_line(line: str) -> bool:
    """A1111's last line: ``Steps: 20, Sampler: Euler a, CFG scale: 7, ...`` (3 settings suffice)."""
    if not line.lstrip().startswith("Steps:"):
        return False
    pos = 0
    for _ in range(3):
        setting = _A1111_SETTING.match(line, pos)
        if setting is None:
            return False
        pos = setting.end()
    return True


def parse_a1111(text: str) -> tuple[str | None, str | None]:
    """Split Automatic1111 "parameters" text into (prompt, negative prompt).

    Layout: prompt lines, then optionally lines starting at ``Negative prompt:``, then
    optionally one line of ``Key: value, Key: value`` generation settings (dropped). Only the
    first MAX_METADATA_CHARS characters are read. Never raises.
    """
    text = text[:MAX_METADATA_CHARS].strip().replace("\r\n", "\n")
    head, _, last = text.rpartition("\n")
    if _is_settings_line(last):
        text = head
    negative = _NEGATIVE.search(text)
    if negative is None:
        return clean_text(text), None
    return clean_text(text[: negative.start()]), clean_text(text[negative.end() :])


def _link(graph: dict[str, Any], value: Any) -> tuple[dict[str, Any], int] | None:
    """A ComfyUI input wired to another node is ``[node_id, output_index]``."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int)):
        node = graph.get(str(value[0]))
        if isinstance(node, dict):
            return node, value[1] if isinstance(value[1], int) else 0
    return None


_Memo = dict[tuple[int, int], str | None]


def _text_of(
    graph: dict[str, Any], node: dict[str, Any], output: int = 0, depth: int = 0, memo: _Memo | None = None
) -> str | None:
    """Text reached from a conditioning node: its own text input, or through what it is wired to.

    `memo` (one per graph) holds each node's answer: without it a graph whose nodes each wire
    five inputs to the next costs 5**depth calls. A node met again on its own path (a cycle)
    answers None.
    """
    if depth > _MAX_GRAPH_DEPTH:
        return None
    memo = {} if memo is None else memo
    key = (id(node), output)
    if key not in memo:
        memo[key] = None  # in progress: a cycle back to this node finds nothing
        memo[key] = _follow(graph, node, output, depth, memo)
    return memo[key]


def _follow(graph: dict[str, Any], node: dict[str, Any], output: int, depth: int, memo: _Memo) -> str | None:
    inputs = node.get("inputs")
    if not isinstance(inputs, dict):
        return None
    texts: list[str] = []
    # CLIPTextEncode has "text"; SDXL's CLIPTextEncodeSDXL has "text_g"/"text_l"; primitive
    # and string nodes feeding a text input use "text", "string" or "value".
    for key in ("text", "text_g", "text_l", "string", "value"):
        value = inputs.get(key)
        if isinstance(value, str) and value.strip():
            texts.append(value.strip())
        elif (link := _link(graph, value)) is not None and (found := _text_of(graph, *link, depth + 1, memo)):
            texts.append(found)
    if texts:
        return max(texts, key=len)
    # Nodes that pass conditioning through (ControlNet appliers output positive=0 and
    # negative=1; combiners, area/timestep setters): follow the matching input.
    if "positive" in inputs and "negative" in inputs:
        keys = ["negative" if output == 1 else "positive"]
    else:
        keys = [k for k in inputs if "conditioning" in k.lower()]
    for key in keys:
        link = _link(graph, inputs[key])
        if link is not None and (found := _text_of(graph, *link, depth + 1, memo)):
            return found
    return None


def parse_comfyui(raw: str) -> tuple[str | None, str | None]:
    """(positive, negative) prompt from a ComfyUI API-format graph (the PNG ``prompt`` chunk).

    A graph longer than MAX_GRAPH_CHARS, nested too deep or not JSON gives (None, None).
    Never raises.
    """
    if len(raw) > MAX_GRAPH_CHARS:
        return None, None
    try:
        graph = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested deeper than the stack
        return None, None
    if not isinstance(graph, dict):
        return None, None
    nodes = [n for n in graph.values() if isinstance(n, dict)]
    positive = negative = None
    memo: _Memo = {}
    for node in nodes:
        inputs = node.get("inputs")
        if not isinstance(inputs, dict) or "positive" not in inputs:
            continue
        link = _link(graph, inputs["positive"])
        if positive is None and link is not None:
            positive = _text_of(graph, *link, memo=memo)
        link = _link(graph, inputs.get("negative"))
        if negative is None and link is not None:
            negative = _text_of(graph, *link, memo=memo)
    if positive is None:
        encoders = [
            t
            for n in nodes
            if isinstance(n.get("class_type"), str)
            and "CLIPTextEncode" in n["class_type"]
            and (t := _text_of(graph, n, memo=memo))
            and t != negative
        ]
        positive = max(encoders, key=len) if encoders else None
    return clean_text(positive), clean_text(negative)


def _decode_user_comment(value: Any) -> str | None:
    """EXIF UserComment: 8-byte charset prefix, then the text (A1111 writes UTF-16 "UNICODE").

    Only the first MAX_METADATA_CHARS characters are decoded and returned. Never raises.
    """
    if isinstance(value, str):
        return value[:MAX_METADATA_CHARS]
    if not isinstance(value, bytes) or len(value) < 8:
        return None
    # 4 bytes hold any character in UTF-8 and in UTF-16 (an even count keeps UTF-16 aligned).
    value = value[: 8 + 4 * MAX_METADATA_CHARS]
    prefix, body = value[:8], value[8:]
    if prefix.startswith(b"UNICODE"):
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            text = body.decode("utf-16", errors="replace")
        else:
            # The byte order is not recorded; for mostly-ASCII text the zero bytes sit on even
            # offsets in big-endian (what piexif/A1111 write) and on odd ones in little-endian.
            even_zeros = body[0::2].count(0)
            odd_zeros = body[1::2].count(0)
            text = body.decode("utf-16-be" if even_zeros >= odd_zeros else "utf-16-le", errors="replace")
    elif prefix.startswith((b"ASCII", b"\x00\x00\x00\x00\x00\x00\x00\x00")):
        text = body.rstrip(b"\x00").decode("utf-8", errors="replace")
    else:
        text = value.rstrip(b"\x00").decode("utf-8", errors="replace")
    return text[:MAX_METADATA_CHARS]


def _looks_like_a1111(text: str) -> bool:
    text = text[:MAX_METADATA_CHARS]
    return "Negative prompt:" in text or text.strip().rpartition("\n")[2].lstrip().startswith("Steps:")


def read_embedded(im: Image.Image) -> PromptMetadata:
    """Prompt from an opened (and loaded: PNG text after the pixels needs that) image's metadata.

    Never raises on bad metadata: what cannot be read is no prompt.
    """
    info = im.info
    raw = info.get("parameters")
    if isinstance(raw, str) and raw.strip():
        prompt, negative = parse_a1111(raw)
        if prompt:
            return PromptMetadata(prompt, negative, "a1111")
    raw = info.get("prompt")
    if isinstance(raw, str) and raw.strip():
        prompt, negative = parse_comfyui(raw)
        if prompt:
            return PromptMetadata(prompt, negative, "comfyui")
    for key in ("Description", "description"):
        raw = info.get(key)
        if isinstance(raw, str) and (prompt := clean_text(raw)):
            return PromptMetadata(prompt, None, "description")
    try:
        exif = im.getexif()
        comment = _decode_user_comment(exif.get_ifd(_EXIF_IFD).get(_TAG_USER_COMMENT))
        description = exif.get(_TAG_IMAGE_DESCRIPTION)
    except Exception:  # malformed EXIF is common and must never make an image unusable
        return NO_METADATA
    for text in (comment, description if isinstance(description, str) else None):
        if text and text.strip():
            if _looks_like_a1111(text):
                prompt, negative = parse_a1111(text)
            else:
                prompt, negative = clean_text(text), None
            if prompt:
                return PromptMetadata(prompt, negative, "exif")
    return NO_METADATA


def read_sidecar(image_path: Path) -> PromptMetadata:
    """Prompt from ``<stem>.txt`` beside the image (first MAX_SIDECAR_BYTES only). Never raises.

    A sidecar that is a symbolic link out of the image's folder is not read: its text would
    reach prompts, reports and a remote judge.
    """
    try:
        sidecar = inside_root(image_path.with_suffix(".txt").name, image_path.parent, where=str(image_path))
    except RefusedPathError:
        return NO_METADATA
    try:
        if not sidecar.is_file():
            return NO_METADATA
        with sidecar.open("rb") as f:
            text = f.read(MAX_SIDECAR_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return NO_METADATA
    if _looks_like_a1111(text):
        prompt, negative = parse_a1111(text)
    else:
        prompt, negative = clean_text(text), None
    return PromptMetadata(prompt, negative, "sidecar") if prompt else NO_METADATA


def read_prompt_metadata(im: Image.Image, path: Path | None = None) -> PromptMetadata:
    """Embedded metadata first, then the sidecar file (if the image came from a path)."""
    try:
        found = read_embedded(im)
    except Exception:  # untrusted metadata: a parser bug must not make the image unusable
        found = NO_METADATA
    if found.prompt is None and path is not None:
        found = read_sidecar(path)
    return found
