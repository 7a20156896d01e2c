"""learn-user-pref's Pick-a-Pic v2 per-user split (a pickled or parquet DataFrame) -> `PairSample`s.

Columns: `user_id`, `reference_list` (liked references), `reference_list_bad` (disliked),
`reference_prompt_list`, `image0`, `image1`, `prompt`, `label0` (1: image0 preferred,
0: image1 preferred, 0.5: a tie, skipped since neither answer is right). Image cells are
raw bytes (their release), paths (relative to the file's folder) or Hugging Face image
structs `{"bytes": ..., "path": ...}`. Bytes are written once into a cache folder named
by content hash next to the file, so samples hold paths and a rerun writes nothing.

Pickles run code when read: load only files you trust (the same holds for their eval.py).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from agentpref.evaluation.errors import LoadError, check_files, from_validation
from agentpref.samples import PairSample

log = logging.getLogger(__name__)

COLUMNS = (
    "user_id",
    "reference_list",
    "reference_list_bad",
    "reference_prompt_list",
    "image0",
    "image1",
    "prompt",
    "label0",
)
_PARQUET = (".parquet", ".pq")
_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"))

ImageCell = bytes | str


class PickapicRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user_id: str | int
    reference_list: list[ImageCell]
    reference_list_bad: list[ImageCell]
    reference_prompt_list: list[str]
    image0: ImageCell
    image1: ImageCell
    prompt: str
    label0: float


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (what pandas and pyarrow hand back) as Python lists and scalars."""
    if isinstance(value, dict) and ("bytes" in value or "path" in value):
        return value["bytes"] if value.get("bytes") is not None else value.get("path")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):  # ndarray or numpy scalar
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _extension(data: bytes) -> str | None:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


class _Cache:
    """Writes image bytes once under `folder/<sha256>.<ext>`; the hash makes reruns free."""

    def __init__(self, folder: Path, source: Path) -> None:
        self.folder, self.source, self.written = folder, source, 0

    def put(self, data: bytes, index: int, field: str) -> str:
        ext = _extension(data)
        if ext is None:
            raise LoadError(self.source, f"not an image (first bytes {data[:8]!r})", index=index, field=field)
        target = self.folder / (hashlib.sha256(data).hexdigest() + ext)
        if not target.exists():
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
                tmp = target.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(data)
                os.replace(tmp, target)  # atomic: a killed load never leaves half an image
            except OSError as exc:
                reason = (
                    f"cannot write the image cache {self.folder} ({exc.strerror or exc}); pass cache_dir="
                )
                raise LoadError(self.source, reason) from None
            self.written += 1
        return str(target)


def _read_frame(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise LoadError(path, "no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in _PARQUET else pd.read_pickle(path)
    except Exception as exc:
        kind = "parquet" if path.suffix.lower() in _PARQUET else "pickled"
        raise LoadError(path, f"cannot read as a {kind} DataFrame ({type(exc).__name__}: {exc})") from None
    if not isinstance(frame, pd.DataFrame):
        raise LoadError(path, f"expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise LoadError(
            path, f"missing column (it has: {', '.join(map(str, frame.columns))})", field=missing[0]
        )
    return frame


def load_pickapic_split(
    path: str | os.PathLike[str],
    *,
    split: str = "PICKAPIC",
    cache_dir: str | os.PathLike[str] | None = None,
    check_images: bool = True,
) -> list[PairSample]:
    """Pick-a-Pic per-user rows -> samples (ties skipped); records are numbered by row position.

    Image bytes go to `cache_dir` (default: `<file stem>.images/` next to the file).
    """
    source = Path(path)
    frame = _read_frame(source)
    cache = _Cache(Path(cache_dir) if cache_dir else source.with_name(source.stem + ".images"), source)
    samples, ties = [], 0
    for i, raw in enumerate(frame[list(COLUMNS)].to_dict("records")):
        try:
            row = PickapicRow.model_validate({k: _plain(v) for k, v in raw.items()})
        except ValidationError as exc:
            raise from_validation(source, i, exc) from None
        if row.label0 not in (0.0, 0.5, 1.0):
            raise LoadError(source, f"expected 1, 0 or 0.5, got {row.label0}", index=i, field="label0")
        if row.label0 == 0.5:
            ties += 1
            continue
        if not row.reference_list:
            raise LoadError(source, "no liked references", index=i, field="reference_list")

        def resolve(cell: ImageCell, field: str, i: int = i) -> str:
            if isinstance(cell, bytes):
                return cache.put(cell, i, field)
            return str(source.parent / cell)

        sample = PairSample(
            sample_id=f"{split}-{i:05d}",
            split=split,
            user_id=str(row.user_id),
            pair_kind="imported",
            refs_liked=[resolve(c, f"reference_list[{j}]") for j, c in enumerate(row.reference_list)],
            refs_disliked=[
                resolve(c, f"reference_list_bad[{j}]") for j, c in enumerate(row.reference_list_bad)
            ],
            image_a=resolve(row.image0, "image0"),
            image_b=resolve(row.image1, "image1"),
            answer="Image A" if row.label0 == 1.0 else "Image B",
            prompt=row.prompt or "",
            reference_prompts=list(row.reference_prompt_list),
        )
        if check_images:
            fields = {"reference_list": sample.refs_liked, "reference_list_bad": sample.refs_disliked}
            check_files(source, i, {**fields, "image0": sample.image_a, "image1": sample.image_b})
        samples.append(sample)
    if ties:
        log.info("%s: skipped %d tied pairs (label0 = 0.5)", source, ties)
    if cache.written:
        log.info("%s: wrote %d images to %s", source, cache.written, cache.folder)
    return samples
