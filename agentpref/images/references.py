"""A person's reference images: liked and disliked folders (or lists) loaded into `References`.

Folders are read by extension, hidden files ignored, in name order; a file that cannot be used
is skipped with the reason (`References.skipped`), a symbolic link out of its folder included.
`image_list` turns whatever a caller passes as "some images" into a list, never iterating a
string character by character.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from agentpref.errors import ImageError, InputError
from agentpref.images.refs import IMAGE_EXTENSIONS, ImageLike, ImageRef
from agentpref.paths import RefusedPathError, inside_root

if TYPE_CHECKING:
    from agentpref.images.store import ImageStore


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
