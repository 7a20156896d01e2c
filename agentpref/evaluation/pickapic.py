"""learn-user-pref's Pick-a-Pic v2 per-user split (a pickled or parquet DataFrame) -> `PairSample`s.

Columns: `user_id`, `reference_list` (liked references), `reference_list_bad` (disliked),
`reference_prompt_list`, `image0`, `image1`, `prompt`, `label0` (1: image0 preferred,
0: image1 preferred, 0.5: a tie, skipped since neither answer is right). Image cells are
raw bytes (their release), paths (relative to the image root: `image_root`, else the
file's folder; refused outside it) or Hugging Face image structs `{"bytes": ..., "path": ...}`.
Bytes are written once into a cache folder named by content hash next to the file, so
samples hold paths and a rerun writes nothing.

Parquet is the format to exchange. A pickle can run any code when read, so pickles are
read with `SplitUnpickler`, which rebuilds only the pandas, numpy and pyarrow objects a
DataFrame of this format is made of (listed in `ALLOWED_GLOBALS`, found by pickling such
frames with pandas 1-3 and recording what they reference) and refuses any other global,
naming it. `trust_pickle=True` (`--trust-pickle`) reads with pandas' own unpickler instead,
for a file you trust that references something else.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from agentpref.evaluation.errors import LoadError, check_files, from_validation, image_path
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


_TRUST_HINT = (
    "save the split as parquet (frame.to_parquet(...)), or, if you trust this file, "
    "pass --trust-pickle (trust_pickle=True in Python)"
)

ALLOWED_GLOBALS = frozenset(
    {
        # builtins as protocols 0-5 name them
        ("builtins", "slice"),
        ("builtins", "bytearray"),
        ("__builtin__", "slice"),
        ("__builtin__", "bytearray"),
        ("_codecs", "encode"),  # bytes in protocols < 3
        ("copyreg", "_reconstructor"),  # objects in protocols < 2
        # numpy 1 and 2 arrays, dtypes and scalars
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        # the frame, its block manager and indexes (pandas 3 names, then pandas 1-2 names)
        ("pandas", "DataFrame"),
        ("pandas", "Index"),
        ("pandas", "RangeIndex"),
        ("pandas", "StringDtype"),
        ("pandas.arrays", "ArrowStringArray"),
        ("pandas.arrays", "StringArray"),
        ("pandas.core.frame", "DataFrame"),
        ("pandas.core.indexes.base", "Index"),
        ("pandas.core.indexes.base", "_new_Index"),
        ("pandas.core.indexes.range", "RangeIndex"),
        ("pandas.core.indexes.numeric", "Int64Index"),
        ("pandas.core.internals.managers", "BlockManager"),
        ("pandas.core.internals.blocks", "new_block"),
        ("pandas._libs.internals", "_unpickle_block"),
        ("pandas.core.arrays.string_", "StringDtype"),
        ("pandas.core.arrays.string_", "StringArray"),
        ("pandas.core.arrays.string_arrow", "ArrowStringArray"),
        # pandas 3's str columns hold pyarrow arrays
        ("pyarrow.lib", "type_for_alias"),
        ("pyarrow.lib", "py_buffer"),
        ("pyarrow.lib", "_restore_array"),
    }
)


def _restore_checked_array(data: Any) -> Any:
    """pyarrow's own restore, then a full validation: crafted offsets must not read out of bounds."""
    from pyarrow.lib import _restore_array

    array = _restore_array(data)
    array.validate(full=True)
    return array


def _split_unpickler(path: Path, data: bytes) -> Any:
    """An unpickler of `data` that resolves only `ALLOWED_GLOBALS` (pandas' compatibility
    unpickler underneath, so files from older pandas load as `pd.read_pickle` loads them)."""
    from pandas.compat.pickle_compat import Unpickler

    class SplitUnpickler(Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) not in ALLOWED_GLOBALS:
                reason = (
                    f"refused to unpickle: the file references {module}.{name}, which a DataFrame "
                    f"of this format never holds (a pickle can run code when read); {_TRUST_HINT}"
                )
                raise LoadError(path, reason)
            if (module, name) == ("pyarrow.lib", "_restore_array"):
                return _restore_checked_array
            return super().find_class(module, name)

    return SplitUnpickler(io.BytesIO(data))


def _unpickle(path: Path, trust_pickle: bool) -> Any:
    import pandas as pd

    if trust_pickle:
        return pd.read_pickle(path)
    return _split_unpickler(path, path.read_bytes()).load()


def _read_frame(path: Path, trust_pickle: bool) -> Any:
    import pandas as pd

    if not path.is_file():
        raise LoadError(path, "no such file")
    try:
        frame = pd.read_parquet(path) if path.suffix.lower() in _PARQUET else _unpickle(path, trust_pickle)
    except LoadError:
        raise
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
    image_root: str | os.PathLike[str] | None = None,
    allow_outside_root: bool = False,
    trust_pickle: bool = False,
) -> list[PairSample]:
    """Pick-a-Pic per-user rows -> samples (ties skipped); records are numbered by row position.

    Image bytes go to `cache_dir` (default: `<file stem>.images/` next to the file). Path
    cells are relative to `image_root` (default: the file's folder) and refused outside it
    unless `allow_outside_root`. `trust_pickle` lifts the restriction on what a pickle may
    hold (see the module's notes).
    """
    source = Path(path)
    root = Path(image_root) if image_root is not None else source.parent
    frame = _read_frame(source, trust_pickle)
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
            return image_path(
                cell, root, source=source, index=i, field=field, allow_outside=allow_outside_root
            )

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
