"""Images a process has already read, by content: each file is decoded at most once.

A run touches the same pictures again and again (the references in every assess round,
each candidate when it is ranked, compared and put in the report). `ImageStore.load`
reads the file's bytes and hashes them, which is cheap, and decodes only what it has
not seen; `thumbnail` makes each report thumbnail once. The store is bounded: the least
recently used images are dropped first.

>>> import io
>>> from PIL import Image
>>> buffer = io.BytesIO()
>>> Image.new("RGB", (8, 8), (0, 128, 128)).save(buffer, format="PNG")
>>> store = ImageStore()
>>> first = store.add(ImageRef.from_bytes(buffer.getvalue(), "a.png"))
>>> store.get(first.sha256) is first
True
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from PIL import Image

from agentpref.errors import ImageError, InputError
from agentpref.images.refs import ImageRef, content_hash, read_image_file
from agentpref.lru import LRU

DEFAULT_CAPACITY = 512
"""Images kept (decoded pixels included); a 512 px RGB image costs about 0.8 MB."""


class ImageStore:
    """Validated images by sha256, least recently used dropped first, and their thumbnails."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._images: LRU[str, ImageRef] = LRU(capacity)
        self._thumbnails: LRU[tuple[str, int], str] = LRU(2 * capacity)  # a report uses two sizes

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._images

    def add(self, ref: ImageRef) -> ImageRef:
        """Keep `ref`; an image with the same content already kept is returned instead."""
        kept = self._images.get(ref.sha256)
        if kept is None:
            self._images.put(ref.sha256, ref)
        return kept or ref

    def get(self, sha256: str) -> ImageRef | None:
        return self._images.get(sha256)

    def load(self, path: str | os.PathLike[str], sha256: str | None = None) -> ImageRef:
        """The image in `path`, decoded only if this content was never seen.

        A run refers to its images by content: with `sha256`, content already in memory is
        used without reading the file, and a file read must still hold that content (else an
        `InputError` names it). The same picture under another name shares the pixels.
        """
        p = Path(path).expanduser()
        kept = self.get(sha256) if sha256 is not None else None
        if kept is None:
            data = read_image_file(p)
            digest = content_hash(data)
            if sha256 is not None and digest != sha256:
                raise InputError(f"{p}: the file changed since the run started (its content hash differs)")
            kept = self.get(digest) or self.add(ImageRef(data, path=p))
        return kept if kept.path == p else kept.renamed(p)

    def thumbnail(self, ref: ImageRef, size: int = 256) -> str:
        """A JPEG thumbnail whose long side is `size` (never enlarged), as a data URL; made once
        per image and size. Cheapest when `size` divides the long side (a 512 px image at 256)."""
        key = (ref.sha256, size)
        url = self._thumbnails.get(key)
        if url is None:
            thumb = _shrunk(self.add(ref).image(), size)
            buffer = io.BytesIO()
            thumb.save(buffer, format="JPEG", quality=85)
            url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
            self._thumbnails.put(key, url)
        return url

    def thumbnail_of_file(self, path: str | os.PathLike[str], sha256: str | None, size: int = 256) -> str:
        """`thumbnail` of an image file, or "" when it cannot be read (a report still renders)."""
        if sha256 is not None and (url := self._thumbnails.get((sha256, size))) is not None:
            return url
        try:
            return self.thumbnail(self.load(path, sha256), size)
        except (ImageError, InputError, OSError):
            return ""


def _shrunk(image: Image.Image, size: int) -> Image.Image:
    """`image` with its long side cut to `size`: first averaged over k x k blocks for the largest
    whole k that keeps it at least `size` (Pillow's `reduce`: antialiased and ~6x cheaper than a
    filter over the whole image), then the rest, under 2x, by the bilinear filter."""
    factor = max(image.size) // size
    small = image.reduce(factor) if factor >= 2 else image
    if max(small.size) > size:
        small = small.copy()  # `thumbnail` works in place; `image` is shared
        small.thumbnail((size, size), Image.Resampling.BILINEAR)
    return small
