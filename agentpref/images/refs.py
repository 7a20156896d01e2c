"""Images in and out: load, validate, hash, read prompt metadata, encode for models and reports.

An `ImageRef` holds the original file bytes (hashed with sha256: the content address used
for caching and de-duplication) and is validated when built: size caps checked from the
header before any pixel is decoded, then one full decode so a truncated file fails at load
time and not deep inside a model call. Every way an image can be unusable raises
`ImageError(source, reason)` with a reason a person can act on.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps
from pydantic import BaseModel

from agentpref.errors import ImageError, InputError
from agentpref.images.decode import (
    DEFAULT_MAX_BYTES,
    decode_image,
    fit_pixels,
    max_pixels_limit,
    to_rgb,
    too_many_pixels,
)
from agentpref.images.metadata import read_sidecar

if TYPE_CHECKING:
    pass

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp"})
DEFAULT_MODEL_PIXELS = 1024 * 1024
"""Pixel budget of `data_url()`: enough detail for a VLM judge, small enough to send many."""
CACHE_DECODED_PIXELS = 4_000_000
"""Images up to this size keep their decoded pixels from validation; larger ones re-decode on use."""


def content_hash(data: bytes) -> str:
    """The content address of an image: sha256 of its file bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def read_image_file(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of an image file, bounded by `max_bytes` even if the file grows while read.

    Raises `ImageError` naming the file when it is missing, a symbolic link loop, a folder,
    not a regular file, too large or unreadable.
    """
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    try:
        try:
            info = path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ImageError(str(path), "symbolic link loop") from None
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                raise ImageError(str(path), "file does not exist") from None
            raise
        if stat.S_ISDIR(info.st_mode):
            raise ImageError(str(path), "is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(str(path), "not a regular file")
        size = info.st_size
        if size > cap:
            raise ImageError(str(path), f"file is {size / 2**20:.1f} MB, over the {cap / 2**20:g} MB limit")
        with path.open("rb") as f:
            return f.read(cap + 1)
    except OSError as exc:
        raise ImageError(str(path), f"cannot read file ({exc.strerror or exc})") from None


class ImageInfo(BaseModel):
    """What is known about an image, for JSON (reports, graph state, CLI output)."""

    label: str
    path: str | None = None
    sha256: str
    width: int
    height: int
    format: str
    prompt: str | None = None
    negative_prompt: str | None = None
    prompt_source: str | None = None


class ImageRef:
    """One validated image: original bytes, content hash, size, format and prompt metadata.

    Equality and hashing follow the content (sha256), so the same picture loaded twice is
    one reference. Build with `from_path`, `from_bytes`, `from_pil` or `coerce`.
    """

    __slots__ = (
        "_encoded",
        "_image",
        "data",
        "format",
        "height",
        "label",
        "negative_prompt",
        "path",
        "prompt",
        "prompt_source",
        "sha256",
        "width",
    )

    def __init__(
        self,
        data: bytes,
        *,
        path: Path | None = None,
        label: str | None = None,
        max_pixels: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.path = path
        self.data = bytes(data)
        self.sha256 = content_hash(self.data)
        self.label = label or (path.name if path is not None else f"image-{self.sha256[:12]}")
        source = str(path) if path is not None else self.label
        cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        if len(self.data) > cap:
            raise ImageError(
                source, f"file is {len(self.data) / 2**20:.1f} MB, over the {cap / 2**20:g} MB limit"
            )
        rgb, self.format, embedded = decode_image(self.data, source, max_pixels_limit(max_pixels))
        meta = embedded if embedded is not None and embedded.prompt else None
        if meta is None and path is not None:
            meta = read_sidecar(path)
        self.prompt = meta.prompt if meta else None
        self.negative_prompt = meta.negative_prompt if meta else None
        self.prompt_source = meta.source if meta else None
        self.width, self.height = rgb.size
        self._image: Image.Image | None = rgb if rgb.width * rgb.height <= CACHE_DECODED_PIXELS else None
        self._encoded: dict[tuple[str, int | None], bytes] = {}

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_path(
        cls, path: str | os.PathLike[str], *, max_pixels: int | None = None, max_bytes: int | None = None
    ) -> ImageRef:
        p = Path(path).expanduser()
        return cls(read_image_file(p, max_bytes), path=p, max_pixels=max_pixels, max_bytes=max_bytes)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        name: str | None = None,
        *,
        max_pixels: int | None = None,
        max_bytes: int | None = None,
    ) -> ImageRef:
        return cls(data, label=name, max_pixels=max_pixels, max_bytes=max_bytes)

    @classmethod
    def from_pil(
        cls, img: Image.Image, name: str | None = None, *, max_pixels: int | None = None
    ) -> ImageRef:
        """Wrap an in-memory image (e.g. a generator's output); its bytes are a PNG of the RGB pixels."""
        limit = max_pixels_limit(max_pixels)
        if img.width < 1 or img.height < 1:
            raise ImageError(name or "image", f"image is {img.width}x{img.height}: it has no pixels")
        if img.width * img.height > limit:
            raise ImageError(name or "image", too_many_pixels(img.width, img.height, limit))
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        try:
            oriented = ImageOps.exif_transpose(img)
        except Exception:
            oriented = img
        rgb = to_rgb(oriented)
        buffer = io.BytesIO()
        rgb.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label=name, max_pixels=limit)

    @classmethod
    def from_encoded(
        cls, data: bytes, image: Image.Image, *, path: Path | None = None, label: str | None = None
    ) -> ImageRef:
        """An image this process just encoded (`data` are `image`'s RGB pixels as PNG, e.g. a
        generated candidate): kept with its pixels, without decoding the bytes back."""
        ref = object.__new__(cls)
        ref.path, ref.data, ref.sha256 = path, bytes(data), content_hash(data)
        ref.label = label or (path.name if path is not None else f"image-{ref.sha256[:12]}")
        ref.format, ref.width, ref.height = "PNG", image.width, image.height
        ref.prompt = ref.negative_prompt = ref.prompt_source = None
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        ref._image = rgb if rgb.width * rgb.height <= CACHE_DECODED_PIXELS else None
        ref._encoded = {}
        return ref

    @classmethod
    def coerce(cls, x: ImageLike, *, max_pixels: int | None = None) -> ImageRef:
        """ImageRef | path | bytes | PIL image -> ImageRef (an ImageRef is returned as is)."""
        if isinstance(x, ImageRef):
            return x
        if isinstance(x, (str, os.PathLike)):
            return cls.from_path(x, max_pixels=max_pixels)
        if isinstance(x, (bytes, bytearray, memoryview)):
            return cls.from_bytes(bytes(x), max_pixels=max_pixels)
        if isinstance(x, Image.Image):
            return cls.from_pil(x, max_pixels=max_pixels)
        if isinstance(x, np.ndarray):
            return cls.from_array(x, max_pixels=max_pixels)
        raise InputError(
            f"cannot use a {type(x).__name__} as an image: pass a path, bytes, PIL image, "
            "numpy array or ImageRef"
        )

    @classmethod
    def from_array(
        cls, array: np.ndarray, name: str | None = None, *, max_pixels: int | None = None
    ) -> ImageRef:
        """Wrap pixels as numpy holds them: height x width (x 1, 3 or 4 channels), uint8, or
        floats in 0..1 (what diffusers returns with output_type="np")."""
        source = name or "array"
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise ImageError(source, f"shape {array.shape}: expected height x width with 1, 3 or 4 channels")
        limit = max_pixels_limit(max_pixels)
        if array.shape[0] * array.shape[1] > limit:
            raise ImageError(source, too_many_pixels(array.shape[1], array.shape[0], limit))
        if array.dtype.kind == "f":
            if not (np.isfinite(array).all() and array.min(initial=0.0) >= 0 and array.max(initial=0.0) <= 1):
                raise ImageError(source, "float pixels must be finite and within 0..1")
            array = np.round(array * 255).astype(np.uint8)
        elif array.dtype != np.uint8:
            raise ImageError(source, f"pixels of dtype {array.dtype}: expected uint8, or floats in 0..1")
        return cls.from_pil(Image.fromarray(np.ascontiguousarray(array)), name, max_pixels=limit)

    # -- pixels and encodings -----------------------------------------------------------

    def image(self) -> Image.Image:
        """The decoded picture: RGB, EXIF orientation applied, first frame. Cached; do not mutate."""
        if self._image is None:
            source = str(self.path) if self.path is not None else self.label
            self._image, _, _ = decode_image(self.data, source, max(self.width * self.height, 1))
        return self._image

    def release(self) -> None:
        """Drop cached pixels and encodings (they are rebuilt from `data` when needed again)."""
        self._image = None
        self._encoded.clear()

    def _encode(self, fmt: str, max_pixels: int | None) -> bytes:
        key = (fmt, max_pixels)
        if key not in self._encoded:
            im = fit_pixels(self.image(), max_pixels)
            buffer = io.BytesIO()
            if fmt == "JPEG":
                im.save(buffer, format="JPEG", quality=90)
            else:
                im.save(buffer, format="PNG")
            if len(self._encoded) >= 4:  # a handful of budgets per image is all callers use
                self._encoded.pop(next(iter(self._encoded)), None)
            self._encoded[key] = buffer.getvalue()
        return self._encoded[key]

    def to_png_bytes(self, max_pixels: int | None = None) -> bytes:
        """PNG of the decoded pixels (optionally downscaled). Re-encoded, so no metadata leaks out."""
        return self._encode("PNG", max_pixels)

    def data_url(self, max_pixels: int | None = DEFAULT_MODEL_PIXELS, fmt: str = "PNG") -> str:
        """``data:image/png;base64,...`` within a pixel budget, for OpenAI-style image_url parts."""
        fmt = fmt.upper()
        if fmt not in ("PNG", "JPEG"):
            raise ValueError(f"data_url format must be PNG or JPEG, not {fmt!r}")
        encoded = base64.b64encode(self._encode(fmt, max_pixels)).decode("ascii")
        return f"data:image/{fmt.lower()};base64,{encoded}"

    # -- identity -----------------------------------------------------------------------

    def renamed(self, path: Path | None, label: str | None = None) -> ImageRef:
        """The same picture under another file name or label: shares bytes and pixels, no decode."""
        twin = object.__new__(ImageRef)
        for slot in ImageRef.__slots__:
            setattr(twin, slot, getattr(self, slot))
        twin.path = path
        twin.label = label or (path.name if path is not None else self.label)
        return twin

    def info(self) -> ImageInfo:
        return ImageInfo(
            label=self.label,
            path=str(self.path) if self.path is not None else None,
            sha256=self.sha256,
            width=self.width,
            height=self.height,
            format=self.format,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            prompt_source=self.prompt_source,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageRef) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def __repr__(self) -> str:
        return (
            f"ImageRef({self.label!r}, {self.width}x{self.height} {self.format}, sha256={self.sha256[:12]})"
        )


ImageLike = ImageRef | str | os.PathLike | bytes | Image.Image | np.ndarray
