"""Loaders from the field's evaluation formats into `PairSample`s, each naming the file and field at fault.

- `load_preferimg_bench`: PreferThinker's PreferImg-Bench JSON (an array of records).
- `load_pickapic_split`: learn-user-pref's Pick-a-Pic v2 per-user split (pickled or parquet DataFrame).
- `load_user_folders`: a person's own test, a folder per user with a small manifest.
- `load_synthetic`: the data sets `train/` builds.
- `load_eval_data`: any of the above, told apart by what the path is.

Images stay on disk: only their paths are kept (Pick-a-Pic's raw bytes are written once
into a cache folder). Every image path is checked to exist unless `check_images=False`.

Data files come from strangers, so every image path they hold must resolve (symbolic
links followed) inside its root, else the record is refused naming file, record and field
(`agentpref.paths.inside_root`; `allow_outside_root=True` lifts it). The root is
`image_root` when given, else the data file's folder, for PreferImg-Bench and Pick-a-Pic;
the folder given for user folders and train/ data sets, whose layout puts images inside
them. Pickles are read with a restricted unpickler (see `evaluation.pickapic`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentpref.errors import InputError
from agentpref.evaluation.errors import (
    LoadError,
    check_files,
    check_unique_ids,
    from_validation,
    image_path,
    location,
)
from agentpref.evaluation.pickapic import load_pickapic_split
from agentpref.images.refs import IMAGE_EXTENSIONS
from agentpref.paths import inside_root
from agentpref.profile import Profile, UserProfile
from agentpref.samples import PairSample, Winner, read_json, read_samples, shard_files

log = logging.getLogger(__name__)

SPLITS = ("SP_ID", "SP_OD", "MP_ID", "MP_OD", "PICKAPIC")
_SPLIT_IN_NAME = re.compile(r"(?<![A-Za-z])(SP_ID|SP_OD|MP_ID|MP_OD|PICKAPIC|PICK_A_PIC)(?![A-Za-z])", re.I)


def split_from_name(path: str | os.PathLike[str]) -> str | None:
    """The PreferImg-Bench split a file name names ("test_SP_OD.json" -> "SP_OD"), else None."""
    found = _SPLIT_IN_NAME.search(Path(path).stem)
    return None if found is None else found.group(1).upper().replace("PICK_A_PIC", "PICKAPIC")


# --- PreferImg-Bench -------------------------------------------------------------------------------


class _Turn(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    speaker: str = Field(alias="from")
    value: str


AttributeDict = dict[str, str | list[str]] | str


class BenchRecord(BaseModel):
    """One PreferImg-Bench record (PreferThinker's spelling of the keys; unknown keys are kept)."""

    model_config = ConfigDict(extra="allow")

    conversations: list[_Turn] = Field(min_length=1)
    imageA: str = Field(min_length=1)
    imageB: str = Field(min_length=1)
    prefered_images: list[str]
    non_prefered_images: list[str]
    prefer_attributes: AttributeDict | None = None
    non_prefer_attributes: AttributeDict | None = None
    user_id: str | int | None = None
    reference_prompt_list: list[str] = Field(default_factory=list)
    prompt: str | None = None


def _bench_label(turns: list[_Turn]) -> tuple[Winner | None, str]:
    """The answer and the field it was read from: the last gpt turn, else the first turn.

    PreferThinker's eval script compares the model's answer to `conversations[0].value`,
    so records with a single turn holding "Image A" are read as well as human+gpt pairs.
    The answer is read as PreferThinker's JSONL reader reads it (one reading of the format).
    """
    from agentpref.preferthinker.jsonl import read_answer

    gpt = [i for i, t in enumerate(turns) if t.speaker.lower() in ("gpt", "assistant")]
    index = gpt[-1] if gpt else 0
    answer = read_answer(turns[index].value)
    winner = None if answer is None else answer.removeprefix("Image ")
    return winner, f"conversations[{index}].value"  # type: ignore[return-value]


def _read_json_array(path: Path) -> list[Any]:
    data = read_json(path)
    if not isinstance(data, list):
        raise LoadError(path, f"expected a JSON array of records, got {type(data).__name__}")
    return data


def load_preferimg_bench(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str] | None = None,
    split: str | None = None,
    *,
    check_images: bool = True,
    allow_outside_root: bool = False,
) -> list[PairSample]:
    """PreferImg-Bench JSON -> samples; image paths are joined to `image_root` (default: the file's folder).

    `split` defaults to the split the file name names, else the file's stem. A path that
    resolves outside that root is refused unless `allow_outside_root`.
    """
    from agentpref.preferthinker.jsonl import parse_attributes

    path = Path(json_path)
    root = Path(image_root) if image_root is not None else path.parent
    name = split or split_from_name(path) or path.stem
    samples = []
    parsed: dict[str, Profile] = {}  # a user's records repeat the same attribute dicts

    def profile_of(value: AttributeDict) -> Profile:
        key = json.dumps(value, sort_keys=True)
        if key not in parsed:
            parsed[key] = parse_attributes(value)
        return parsed[key]

    for i, obj in enumerate(_read_json_array(path)):
        if not isinstance(obj, dict):
            raise LoadError(path, f"expected a JSON object, got {type(obj).__name__}", index=i)
        try:
            record = BenchRecord.model_validate(obj)
        except ValidationError as exc:
            raise from_validation(path, i, exc) from None
        label, answer_field = _bench_label(record.conversations)
        if label is None:
            preview = record.conversations[0].value[:60]
            reason = f"no answer: expected 'Image A' or 'Image B' (got {preview!r})"
            raise LoadError(path, reason, index=i, field=answer_field)
        profiles: dict[str, Profile | None] = {"prefer_attributes": None, "non_prefer_attributes": None}
        if record.prefer_attributes is not None or record.non_prefer_attributes is not None:
            for key in profiles:
                value = getattr(record, key)
                try:
                    profiles[key] = profile_of(value) if value is not None else Profile()
                except ValueError as exc:
                    raise LoadError(path, str(exc), index=i, field=key) from None

        def where(p: str, field: str, i: int = i) -> str:
            return image_path(p, root, source=path, index=i, field=field, allow_outside=allow_outside_root)

        sample = PairSample(
            sample_id=f"{name}-{i:05d}",
            split=name,
            user_id=str(record.user_id) if record.user_id is not None else f"{name}-{i:05d}",
            pair_kind="imported",
            refs_liked=[where(p, f"prefered_images[{j}]") for j, p in enumerate(record.prefered_images)],
            refs_disliked=[
                where(p, f"non_prefered_images[{j}]") for j, p in enumerate(record.non_prefered_images)
            ],
            image_a=where(record.imageA, "imageA"),
            image_b=where(record.imageB, "imageB"),
            answer=f"Image {label}",
            likes=profiles["prefer_attributes"],
            dislikes=profiles["non_prefer_attributes"],
            prompt=record.prompt or "",
            reference_prompts=list(record.reference_prompt_list),
        )
        if check_images:
            check_files(
                path,
                i,
                {
                    "prefered_images": sample.refs_liked,
                    "non_prefered_images": sample.refs_disliked,
                    "imageA": sample.image_a,
                    "imageB": sample.image_b,
                },
            )
        samples.append(sample)
    return samples


# --- a person's own folders -------------------------------------------------------------------------

_LIKED = ("liked", "likes", "like")
_DISLIKED = ("disliked", "dislikes", "dislike")
_QUERIES = ("queries", "query", "candidates")
MANIFEST = "manifest.json"


class PairSpec(BaseModel):
    """One labelled query pair: file names inside `queries/`, and which one the person prefers."""

    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1)
    b: str = Field(min_length=1)
    winner: Literal["a", "b"]
    prompt: str | None = None

    @field_validator("winner", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        # "A", "Image A" and "a" all mean the same to a person writing the file by hand.
        if isinstance(v, str):
            v = v.strip().lower().removeprefix("image").strip()
        return v


class UserManifest(BaseModel):
    """`manifest.json` of a user folder: `{"pairs": [{"a": "q1.png", "b": "q2.png", "winner": "a"}]}`.

    Optional: `user_id` (default: the folder name), `split` (default "user"), `profile`
    (ground truth as `{"likes": {...}, "dislikes": {...}}`), per-pair `prompt`.
    """

    model_config = ConfigDict(extra="forbid")

    pairs: list[PairSpec] = Field(min_length=1)
    user_id: str | None = None
    split: str | None = None
    profile: UserProfile | None = None


def _subfolder(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _images_in(folder: Path | None, root: Path, allow_outside: bool) -> list[str]:
    """Image files in `folder`, by name; one that is a symbolic link out of `root` is refused."""
    if folder is None:
        return []
    listed = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    # Checked before is_file(): whether a link's outside target exists is not ours to tell.
    files = [
        inside_root(p.name, root, base=folder, where=str(p), allow_outside=allow_outside) for p in listed
    ]
    return [str(f) for f in files if f.is_file()]


def _load_user(folder: Path, root: Path, default_split: str, allow_outside: bool) -> list[PairSample]:
    manifest_path = folder / MANIFEST
    raw = read_json(manifest_path)
    try:
        manifest = UserManifest.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(manifest_path, None, exc) from None
    likes = _images_in(_subfolder(folder, _LIKED), root, allow_outside)
    if not likes:
        raise LoadError(folder, f"no liked images: put them in {folder / 'liked'}")
    dislikes = _images_in(_subfolder(folder, _DISLIKED), root, allow_outside)
    queries = _subfolder(folder, _QUERIES) or folder / "queries"
    user = manifest.user_id or folder.name
    samples = []
    for i, pair in enumerate(manifest.pairs):
        if pair.a == pair.b:
            raise LoadError(manifest_path, f"a and b are the same image {pair.a!r}", field=f"pairs[{i}].b")
        files = {}
        for side in ("a", "b"):
            where = location(manifest_path, field=f"pairs[{i}].{side}")
            file = inside_root(
                getattr(pair, side), root, base=queries, where=where, allow_outside=allow_outside
            )
            if not file.is_file():
                raise LoadError(manifest_path, f"image not found: {file}", field=f"pairs[{i}].{side}")
            files[side] = str(file)
        samples.append(
            PairSample(
                sample_id=f"{user}-{i:04d}",
                split=manifest.split or default_split,
                user_id=user,
                pair_kind="imported",
                refs_liked=likes,
                refs_disliked=dislikes,
                image_a=files["a"],
                image_b=files["b"],
                answer="Image A" if pair.winner == "a" else "Image B",
                likes=manifest.profile.likes if manifest.profile else None,
                dislikes=manifest.profile.dislikes if manifest.profile else None,
                prompt=pair.prompt or "",
            )
        )
    return samples


def load_user_folders(
    root: str | os.PathLike[str], *, split: str = "user", allow_outside_root: bool = False
) -> list[PairSample]:
    """One user folder (holding `manifest.json`) or a folder of them, sorted by name.

    Every image (manifest entries, symbolic links in liked/ and disliked/, a user folder
    that is a link) must resolve inside `root` unless `allow_outside_root`.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise LoadError(folder, "not a folder")
    if (folder / MANIFEST).is_file():
        return _load_user(folder, folder, split, allow_outside_root)
    users = sorted(p for p in folder.iterdir() if p.is_dir() and (p / MANIFEST).is_file())
    if not users:
        raise LoadError(
            folder, f"no user folders: expected <user>/{MANIFEST} with liked/, disliked/, queries/"
        )
    for u in users:
        inside_root(u.name, folder, where=str(u), allow_outside=allow_outside_root)
    samples = [s for u in users for s in _load_user(u, folder, split, allow_outside_root)]
    check_unique_ids(folder, samples)
    return samples


# --- train/'s synthetic sets ------------------------------------------------------------------------


def load_synthetic(
    root: str | os.PathLike[str], *, check_images: bool = True, allow_outside_root: bool = False
) -> list[PairSample]:
    """A data set folder built by `train/` (manifest.json + samples-*.jsonl; paths relative to it,
    and refused outside it unless `allow_outside_root`)."""
    folder = Path(root)
    samples = []
    # Errors name the shard and the record in it, so the line can be found and fixed.
    numbered = [(shard, i, s) for shard in shard_files(folder) for i, s in enumerate(read_samples(shard))]
    for shard, i, s in numbered:

        def where(p: str, field: str, shard: Path = shard, i: int = i) -> str:
            return image_path(p, folder, source=shard, index=i, field=field, allow_outside=allow_outside_root)

        sample = s.model_copy(
            update={
                "split": s.split or "synthetic",
                "user_id": str(s.user_id),
                "refs_liked": [where(p, f"refs_liked[{j}]") for j, p in enumerate(s.refs_liked)],
                "refs_disliked": [where(p, f"refs_disliked[{j}]") for j, p in enumerate(s.refs_disliked)],
                "image_a": where(s.image_a, "image_a"),
                "image_b": where(s.image_b, "image_b"),
            }
        )
        if check_images:
            fields = {"refs_liked": sample.refs_liked, "refs_disliked": sample.refs_disliked}
            check_files(shard, i, {**fields, "image_a": sample.image_a, "image_b": sample.image_b})
        samples.append(sample)
    check_unique_ids(folder, samples)
    return samples


# --- dispatch ---------------------------------------------------------------------------------------

_PICKAPIC_SUFFIXES = (".pkl", ".pickle", ".parquet", ".pq")


def _is_synthetic(folder: Path) -> bool:
    manifest = folder / MANIFEST
    if manifest.is_file():
        try:
            data = read_json(manifest)
        except InputError:  # not a data set's manifest; the user-folder reader names what is wrong
            return False
        return isinstance(data, dict) and "shards" in data
    return any(folder.glob("samples-*.jsonl"))


def _load_any(
    path: Path, image_root: Path | None, check_images: bool, allow_outside: bool, trust_pickle: bool
) -> list[PairSample]:
    bench_options: dict[str, Any] = {"check_images": check_images, "allow_outside_root": allow_outside}
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".json":
            return load_preferimg_bench(path, image_root, **bench_options)
        if suffix in _PICKAPIC_SUFFIXES:
            return load_pickapic_split(
                path, image_root=image_root, trust_pickle=trust_pickle, **bench_options
            )
        raise LoadError(
            path, "unknown data file: expected .json (PreferImg-Bench), .pkl or .parquet (Pick-a-Pic)"
        )
    if not path.is_dir():
        raise LoadError(path, "no such file or folder")
    if _is_synthetic(path):
        return load_synthetic(path, **bench_options)
    if (path / MANIFEST).is_file() or any((p / MANIFEST).is_file() for p in path.iterdir() if p.is_dir()):
        return load_user_folders(path, allow_outside_root=allow_outside)
    bench = sorted(p for p in path.glob("*.json") if split_from_name(p))
    if bench:  # a PreferImg-Bench folder: SP_ID.json, ..., images under image_root (default: here)
        return [s for f in bench for s in load_preferimg_bench(f, image_root, **bench_options)]
    raise LoadError(
        path,
        "cannot tell what data this is: expected a train/ data set (samples-*.jsonl), user folders "
        f"(<user>/{MANIFEST}) or PreferImg-Bench files named by split (SP_ID.json, ...)",
    )


def load_eval_data(
    path: str | os.PathLike[str],
    *,
    image_root: str | os.PathLike[str] | None = None,
    splits: Sequence[str] | None = None,
    check_images: bool = True,
    allow_outside_root: bool = False,
    trust_pickle: bool = False,
) -> list[PairSample]:
    """Samples from any supported data, optionally only some splits (InputError naming a missing one).

    `allow_outside_root` accepts image paths that resolve outside their root (`image_root`,
    else the data's folder); `trust_pickle` reads a pickle with pandas' full unpickler,
    which runs whatever code the file holds (the default allows only a DataFrame's classes).
    """
    p = Path(path).expanduser()
    root = Path(image_root).expanduser() if image_root is not None else None
    samples = _load_any(p, root, check_images, allow_outside_root, trust_pickle)
    check_unique_ids(p, samples)
    if same := [s.sample_id for s in samples if s.image_a == s.image_b]:
        # No judge can tell such a pair apart: counting it would add coin flips to every assessor.
        log.warning("%s: %d pair(s) show one image twice, left out: %s", p, len(same), ", ".join(same[:5]))
        samples = [s for s in samples if s.image_a != s.image_b]
    if splits:
        present = sorted({s.split for s in samples if s.split is not None})
        wanted = {s.upper() if s.upper() in SPLITS else s for s in splits}
        missing = sorted(wanted - set(present))
        if missing:
            raise LoadError(p, f"no split {', '.join(missing)} in the data (it has: {', '.join(present)})")
        samples = [s for s in samples if s.split in wanted]
    log.info("loaded %d samples from %s", len(samples), p)
    return samples
