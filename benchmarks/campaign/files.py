"""Bad files, made with code (nothing binary is committed): PNG chunks by hand, EXIF, odd modes."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "likes" / "01_quiet_lake_dusk.png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_header_only(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose IHDR claims `width` x `height` (8-bit RGB) with little or no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr)
    body += chunk(b"IDAT", idat or zlib.compress(b"\x00" * 64))
    return PNG_SIGNATURE + body + chunk(b"IEND", b"")


def png_bomb(side: int) -> bytes:
    """A real decompression bomb: `side` x `side` grey PNG of zeros, a few KB compressed."""
    raw = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * side
    data = b"".join(raw.compress(row) for _ in range(side)) + raw.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def insert_chunks(png: bytes, *chunks: bytes) -> bytes:
    """`png` with `chunks` inserted just before IEND."""
    end = png.rindex(b"IEND") - 4
    return png[:end] + b"".join(chunks) + png[end:]


def text_chunk(key: str, text: str | bytes) -> bytes:
    """tEXt (latin-1) when possible, else iTXt (UTF-8), as A1111 and ComfyUI write them."""
    if isinstance(text, bytes):
        return chunk(b"tEXt", key.encode("latin-1") + b"\x00" + text)
    try:
        return chunk(b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:
        utf8 = text.encode("utf-8", "surrogatepass")  # lone surrogates kept: they are part of the attack
        return chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + utf8)


def png_with_text(png: bytes, key: str, text: str | bytes) -> bytes:
    return insert_chunks(png, text_chunk(key, text))


def example_png(size: int = 0) -> bytes:
    """The bundled example (or a `size`-px thumbnail of it), as PNG bytes."""
    if not size:
        return EXAMPLE.read_bytes()
    with Image.open(EXAMPLE) as im:
        return encode(im.convert("RGB").resize((size, size)), "PNG")


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def example_image(size: int = 64) -> Image.Image:
    with Image.open(EXAMPLE) as im:
        return im.convert("RGB").resize((size, size))


def jpeg_with_exif(user_comment: bytes | None = None, description: str | None = None) -> bytes:
    """A JPEG whose EXIF holds a UserComment (raw bytes, charset prefix included) and/or ImageDescription."""
    exif = Image.Exif()
    if description is not None:
        exif[0x010E] = description
    if user_comment is not None:
        exif.get_ifd(0x8769)[0x9286] = user_comment
    return encode(example_image(96), "JPEG", exif=exif.tobytes())


def user_comment(text: str) -> bytes:
    """EXIF UserComment as A1111 writes it: "UNICODE" prefix, UTF-16 big-endian."""
    return b"UNICODE\x00" + text.encode("utf-16-be", "surrogatepass")


def animated(fmt: str) -> bytes:
    frames = [example_image(64), example_image(64).rotate(90), example_image(64).rotate(180)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def in_mode(mode: str, fmt: str = "PNG") -> bytes:
    im = example_image(64)
    if mode == "I;16":
        im = im.convert("L").convert("I").point(lambda v: v * 256).convert("I;16")
    elif mode == "P+transparency":
        im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        return encode(im, fmt, transparency=0)
    else:
        im = im.convert(mode)
    return encode(im, fmt)


def exif_rotated_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90
    return encode(example_image(64).resize((96, 64)), "JPEG", exif=exif.tobytes())
