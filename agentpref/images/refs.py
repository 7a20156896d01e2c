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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from agentpref.paths import RefusedPathError, inside_root

if TYPE_CHECKING:
    from agentpref.images.store import ImageStore

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


_LIKE_DIRS = ("likes", "liked", "like")
_DISLIKE_DIRS = ("dislikes", "disliked", "dislike")


@dataclass
class References:
    """A person's reference images. `skipped` lists files that could not be used, and why."""

    likes: list[ImageRef]
    dislikes: list[ImageRef] = field(default_factory=list)
    skipped: list[ImageError] = field(default_factory=list)

    @property
    def all(self) -> list[ImageRef]:
        return [*self.likes, *self.dislikes]


def _image_files(folder: Path) -> list[Path]:
    """Image files directly in `folder` (by extension, case-insensitive), hidden ones ignored, by name."""
    return sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS),
        key=lambda p: p.name,
    )


def _subfolder(folder: Path, names: tuple[str, ...]) -> Path | None:
    by_name = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
    return next((by_name[n] for n in names if n in by_name), None)


def _require_folder(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise InputError(f"{p}: folder does not exist")
    if not p.is_dir():
        raise InputError(f"{p}: not a folder (pass a list of files to use single images)")
    return p


def image_list(value: object, *, what: str = "images") -> list[ImageLike]:
    """`value` as a list of images, for any call that takes several.

    A list or other iterable is taken as is; one path, bytes, PIL image or ImageRef becomes
    a list of one (a folder: its image files). A string that names no existing folder or
    file, None, or a mapping is an `InputError` naming `what` and the value, never a string
    iterated character by character.
    """
    if isinstance(value, (str, os.PathLike)):
        p = Path(value).expanduser()
        if p.is_dir():
            return list(_image_files(p))
        if p.is_file():
            return [value]
        raise InputError(
            f"{what}: {os.fspath(value)!r} is not an existing folder or image file (pass a list of images)"
        )
    if isinstance(value, (bytes, Image.Image, ImageRef, np.ndarray)):  # one image, not rows of pixels
        return [value]
    if isinstance(value, (bytearray, memoryview)):
        return [bytes(value)]
    if isinstance(value, Iterable) and not isinstance(value, Mapping):
        return list(value)
    raise InputError(f"{what}: expected a folder, an image or a list of images, got {type(value).__name__}")


def _folder_images(
    folder: Path, root: Path, allow_outside: bool, skipped: list[ImageError]
) -> tuple[list[Path], int]:
    """Image files of a reference folder, and how many were listed; a symbolic link that leads
    out of `root` is skipped with the reason (unless `allow_outside`): the folder may come
    from someone else, and its images are sent to the judge."""
    listed = _image_files(folder)
    kept = []
    for p in listed:
        try:
            inside_root(p.name, root, base=folder, where=str(p), allow_outside=allow_outside)
        except RefusedPathError as exc:
            skipped.append(ImageError(str(p), exc.reason))
            continue
        kept.append(p)
    return kept, len(listed)


def _load_all(
    sources: Iterable[ImageLike],
    skipped: list[ImageError],
    seen: dict[str, ImageRef] | None,
    max_pixels: int | None,
    store: ImageStore | None,
    tick: Callable[[], None] = lambda: None,
) -> list[ImageRef]:
    refs: list[ImageRef] = []
    for source in sources:
        try:
            if store is not None and max_pixels is None and isinstance(source, (str, os.PathLike)):
                ref = store.load(source)
            else:
                ref = ImageRef.coerce(source, max_pixels=max_pixels)
                ref = store.add(ref) if store is not None else ref
        except ImageError as exc:
            skipped.append(exc)
            continue
        finally:
            tick()
        if seen is not None:
            if ref.sha256 in seen:
                skipped.append(
                    ImageError(str(ref.path or ref.label), f"same image as {seen[ref.sha256].label}")
                )
                continue
            seen[ref.sha256] = ref
        refs.append(ref)
    return refs


def load_references(
    likes: str | os.PathLike[str] | Sequence[ImageLike],
    dislikes: str | os.PathLike[str] | Sequence[ImageLike] | None = None,
    *,
    max_pixels: int | None = None,
    store: ImageStore | None = None,
    allow_outside_root: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> References:
    """Load liked (and optionally disliked) reference images.

    `likes` is a folder holding ``likes/`` and ``dislikes/`` subfolders (``liked``/``disliked``
    and ``like``/``dislike`` work too), or a folder of liked images, or a list of images.
    `dislikes`, when given, is a folder or list and takes precedence over a dislikes
    subfolder. Folders are read one level deep, image files by extension, sorted by name.
    Unusable files are skipped and listed in `skipped`; so is a symbolic link in a folder
    that leads out of the folder given, unless `allow_outside_root`. The same content twice
    counts once (a picture both liked and disliked stays a like). Raises `InputError` for a
    missing folder, a value that is neither a folder nor images, or when no liked image is
    usable. With a `store`, images it holds are not decoded again, and the ones read are
    kept in it. `on_progress(done, total)` is called once before the first image and after
    each one (decoding is most of the time a large folder takes).
    """
    skipped: list[ImageError] = []
    like_sources: list[ImageLike]
    dislike_sources: list[ImageLike] = []
    where, listed = "the given list", 0
    if isinstance(likes, (str, os.PathLike)):
        root = _require_folder(likes)
        like_dir = _subfolder(root, _LIKE_DIRS) or root
        files, listed = _folder_images(like_dir, root, allow_outside_root, skipped)
        like_sources, where = list(files), str(like_dir)
        if dislikes is None and (dislike_dir := _subfolder(root, _DISLIKE_DIRS)) is not None:
            dislike_sources = list(_folder_images(dislike_dir, root, allow_outside_root, skipped)[0])
    else:
        like_sources = image_list(likes, what="likes")
        listed = len(like_sources)
    if isinstance(dislikes, (str, os.PathLike)):
        folder = _require_folder(dislikes)
        dislike_sources = list(_folder_images(folder, folder, allow_outside_root, skipped)[0])
    elif dislikes is not None:
        dislike_sources = image_list(dislikes, what="dislikes")

    total, done = len(like_sources) + len(dislike_sources), 0

    def tick() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, total)

    if on_progress is not None:
        on_progress(0, total)
    seen: dict[str, ImageRef] = {}
    liked = _load_all(like_sources, skipped, seen, max_pixels, store, tick)
    if not liked:
        if not listed:
            raise InputError(
                f"{where}: no liked images found (looked for {', '.join(sorted(IMAGE_EXTENSIONS))} files)"
            )
        reasons = "\n".join(f"  - {e}" for e in skipped)
        raise InputError(f"{where}: no usable liked image; skipped:\n{reasons}")
    disliked = _load_all(dislike_sources, skipped, seen, max_pixels, store, tick)
    return References(likes=liked, dislikes=disliked, skipped=skipped)


def load_images(
    paths: Iterable[ImageLike] | ImageLike, *, max_pixels: int | None = None
) -> tuple[list[ImageRef], list[ImageError]]:
    """Candidate images (a folder in the list stands for its image files), in the given order.

    Unusable ones are returned in the second list instead of raising; duplicates are kept,
    since a caller comparing A with B may mean to. Labels are file names, or the paths of
    files that share a name (a/q.png and b/q.png), so every file keeps a label of its own.
    One folder or image instead of a list is taken as a list of one; a string naming
    neither is an `InputError` (see `image_list`).
    """
    sources: list[ImageLike] = []
    skipped: list[ImageError] = []
    for item in image_list(paths):
        if isinstance(item, (str, os.PathLike)) and Path(item).expanduser().is_dir():
            sources.extend(_image_files(Path(item).expanduser()))
        else:
            sources.append(item)
    refs = _load_all(sources, skipped, None, max_pixels, None)
    paths_by_label: dict[str, set[Path | None]] = {}
    for r in refs:
        paths_by_label.setdefault(r.label, set()).add(r.path)
    shared = {label for label, paths in paths_by_label.items() if len(paths) > 1}
    refs = [r.renamed(r.path, str(r.path)) if r.label in shared and r.path else r for r in refs]
    return refs, skipped
