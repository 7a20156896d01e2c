"""Reading image files safely: untrusted bytes -> RGB pixels, or an `ImageError` saying why not.

Size caps are checked from the header before anything is decoded, Pillow's
decompression-bomb warning is made an error, one full decode makes truncated data fail
here (not deep inside a model call), and EXIF orientation is applied. `ImageRef` in
`agentpref.images.refs` is built on it.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError, WebPImagePlugin

from agentpref.errors import ImageError, InputError
from agentpref.images.metadata import PromptMetadata, read_prompt_metadata

FORMATS = ("PNG", "JPEG", "WEBP")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "AGENTPREF_MAX_PIXELS"

_NOT_AN_IMAGE = "not a PNG/JPEG/WebP image"
_CORRUPT = "truncated or corrupt image data"
# Leading bytes of formats people commonly have, to say what an unsupported file is.
_OTHER_FORMATS = (
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
)


def max_pixels_limit(override: int | None = None) -> int:
    """The pixel cap: the argument if given, else $AGENTPREF_MAX_PIXELS, else 40 megapixels."""
    if override is not None:
        return int(override)
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(float(raw.replace("_", "")))
    except ValueError:
        raise InputError(f"{MAX_PIXELS_ENV}={raw!r}: not a number of pixels (e.g. 40000000)") from None
    if value <= 0:
        raise InputError(f"{MAX_PIXELS_ENV}={raw!r}: must be a positive number of pixels")
    return value


def _megapixels(pixels: float) -> str:
    mp = pixels / 1_000_000
    return f"{mp:.0f}" if mp >= 100 else f"{mp:.3g}"


def too_many_pixels(width: int, height: int, limit: int) -> str:
    return (
        f"image is {width}x{height} = {_megapixels(width * height)} megapixels, over the "
        f"{_megapixels(limit)} megapixel limit (set {MAX_PIXELS_ENV} to raise it)"
    )


def header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header alone, without Pillow's decompression-bomb check."""
    for plugin in (PngImagePlugin.PngImageFile, JpegImagePlugin.JpegImageFile, WebPImagePlugin.WebPImageFile):
        try:
            with plugin(io.BytesIO(data)) as im:
                return im.size
        except Exception:  # not this format (or a broken header): try the next one
            continue
    return None


def to_rgb(im: Image.Image) -> Image.Image:
    """RGB with transparency composited on white (what a person sees in a browser)."""
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        background.alpha_composite(rgba)
        return background.convert("RGB")
    if im.mode.startswith("I") or im.mode == "F":
        # 16-bit greyscale PNGs decode as I;16; Pillow's convert("RGB") clips them to white.
        arr = np.asarray(im, dtype=np.float64)
        if im.mode != "F" and arr.max(initial=0) > 255:
            arr = arr / 257.0
        grey = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        return grey.convert("RGB")
    return im.convert("RGB")


def fit_pixels(im: Image.Image, max_pixels: int | None) -> Image.Image:
    """Downscale (never upscale) so width*height <= max_pixels, keeping the aspect ratio."""
    w, h = im.size
    if not max_pixels or w * h <= max_pixels:
        return im
    scale = (max_pixels / (w * h)) ** 0.5
    nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
    while nw * nh > max_pixels and (nw > 1 or nh > 1):  # float rounding can overshoot by a row
        nw, nh = (nw - 1, nh) if nw >= nh else (nw, nh - 1)
    return im.resize((max(1, nw), max(1, nh)), Image.Resampling.LANCZOS, reducing_gap=3.0)


def decode_image(data: bytes, source: str, max_pixels: int) -> tuple[Image.Image, str, PromptMetadata | None]:
    """Validate and decode file bytes -> (RGB image, format, embedded prompt metadata)."""
    if not data:
        raise ImageError(source, "empty file")
    # Our cap first, from the header alone: nothing is allocated for a file claiming 30000x30000.
    size = header_size(data)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageError(source, too_many_pixels(size[0], size[1], max_pixels))
    with warnings.catch_warnings():
        # Pillow's own bomb check is a second line: an error, unless the user raised our cap past it.
        pillow_cap = Image.MAX_IMAGE_PIXELS
        ignore = pillow_cap is not None and max_pixels > pillow_cap
        warnings.simplefilter("ignore" if ignore else "error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise ImageError(
                source, f"{exc} (over Pillow's PIL.Image.MAX_IMAGE_PIXELS = {pillow_cap})"
            ) from None
        except UnidentifiedImageError:
            other = next((name for magic, name in _OTHER_FORMATS if data.startswith(magic)), None)
            raise ImageError(source, _NOT_AN_IMAGE + (f" (looks like {other})" if other else "")) from None
        except Exception as exc:  # a header so broken that a plugin crashed on it
            raise ImageError(source, f"{_CORRUPT} ({type(exc).__name__}: {exc})") from None
    with im:
        width, height = im.size
        if width < 1 or height < 1:
            raise ImageError(source, f"image is {width}x{height}: it has no pixels")
        if width * height > max_pixels:
            raise ImageError(source, too_many_pixels(width, height, max_pixels))
        fmt = im.format or "PNG"
        try:
            im.seek(0)  # first frame of an animated PNG/WebP
            im.load()
        except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, zlib errors...
            raise ImageError(source, f"{_CORRUPT} ({exc})" if str(exc) else _CORRUPT) from None
        metadata = read_prompt_metadata(im)
        try:
            oriented = ImageOps.exif_transpose(im)
        except Exception:  # malformed EXIF: keep the pixels as stored rather than reject them
            oriented = im
        rgb = to_rgb(oriented)
        if rgb is im:
            rgb = im.copy()  # detach from the file object closed by `with`
    return rgb, fmt, metadata
