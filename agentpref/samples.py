"""The pair sample: one person's references, a candidate pair and which candidate they prefer.

Training builds them (`agentpref train`) and evaluation loads them from every benchmark
format (`agentpref eval`); both use this one model. A sample holds image *paths*, never
pixels, so a 10K-sample set costs a few MB; images are read when a judge needs them
(`load_references`, `load_candidates`). The true profiles (`likes`, `dislikes`) are
there when the data has them; a teacher's reasoning (`cot`) once annotated.

A data set folder (what `agentpref train run` builds) is `samples-*.jsonl` shards named
in a `manifest.json`, image paths relative to the folder (`load_samples`).

>>> s = PairSample(sample_id="u1-0", user_id="u1", refs_liked=["l1.png", "l2.png"],
...                refs_disliked=["d1.png"], image_a="a.png", image_b="b.png", answer="Image B")
>>> t = s.swapped()
>>> (t.image_a, t.image_b, t.winner, t.sample_id)
('b.png', 'a.png', 'A', 'u1-0~swap')
>>> s.with_references(1).refs_liked
['l1.png']
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpref.errors import InputError
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.io import describe_validation, read_jsonl, write_jsonl
from agentpref.paths import inside_root
from agentpref.profile import Profile, UserProfile

Answer = Literal["Image A", "Image B"]
Winner = Literal["A", "B"]
PairKind = Literal["contrast", "near", "imported"]
SWAP_SUFFIX = "~swap"
MAX_JSON_BYTES = 256 * 2**20
"""Largest JSON data file read whole (PreferImg-Bench's largest split is a few MB)."""


class PairSample(BaseModel):
    """Would this person prefer image A or image B, given the images they liked and disliked?"""

    model_config = ConfigDict(extra="forbid")

    sample_id: str = Field(description="unique within a data set; results are stored under it")
    user_id: str | int = Field(description="str for our users; PreferThinker's data may use int")
    split: str | None = Field(None, description="SP_ID, SP_OD, MP_ID, MP_OD, PICKAPIC, a folder's split...")
    seen: bool | None = Field(None, description="whether training may see this user; None when unknown")
    pair_kind: PairKind = "contrast"
    prompt: str = Field("", description="the subject the candidates were generated from ('' when unknown)")
    reference_prompts: list[str] = Field(default_factory=list, description="prompt i made reference i")
    refs_liked: list[str] = Field(description="paths of the liked reference images, most relevant first")
    refs_disliked: list[str] = Field(description="paths of the disliked reference images")
    image_a: str
    image_b: str
    answer: Answer = Field(description="the candidate the person preferred")
    likes: Profile | None = Field(None, description="the true liked profile, when the data has it")
    dislikes: Profile | None = Field(None, description="the true disliked profile, when the data has it")
    cot: str | None = Field(None, description="the assistant turn: teacher reasoning, or imported verbatim")
    request_text: str | None = Field(None, description="an imported human turn, kept verbatim for re-export")
    extra: dict[str, Any] = Field(default_factory=dict, description="unknown keys of an imported record")
    k_group: str | None = Field(None, description="id of the top-k group's anchor pair (evaluation)")
    k_rank: int = Field(0, ge=0, description="0: a pair of the data; > 0: an extra pair of a top-k group")

    @property
    def winner(self) -> Winner:
        return "A" if self.answer == "Image A" else "B"

    @property
    def profile(self) -> UserProfile | None:
        """The true profiles, or None when the data has none."""
        if self.likes is None and self.dislikes is None:
            return None
        return UserProfile(likes=self.likes or Profile(), dislikes=self.dislikes or Profile())

    @property
    def n_references(self) -> int:
        """References per side a judge sees (the smaller side: a pair needs both)."""
        if not self.refs_disliked:
            return len(self.refs_liked)
        return min(len(self.refs_liked), len(self.refs_disliked))

    def image_paths(self) -> list[str]:
        return [*self.refs_liked, *self.refs_disliked, self.image_a, self.image_b]

    def swapped(self) -> PairSample:
        """The same pair with A and B exchanged (for position consistency); the answer follows."""
        return self.model_copy(
            update={
                "sample_id": self.sample_id + SWAP_SUFFIX,
                "image_a": self.image_b,
                "image_b": self.image_a,
                "answer": "Image B" if self.answer == "Image A" else "Image A",
            }
        )

    def with_references(self, n: int) -> PairSample:
        """At most `n` liked and `n` disliked references (the first ones); the id gets an "@n" suffix."""
        if n < 1:
            raise InputError(f"number of references must be >= 1, got {n}")
        return self.model_copy(
            update={
                "sample_id": f"{self.sample_id}@{n}",
                "refs_liked": self.refs_liked[:n],
                "refs_disliked": self.refs_disliked[:n],
                "reference_prompts": self.reference_prompts[:n],
            }
        )

    def load_references(self, *, max_pixels: int | None = None) -> References:
        """The reference images read now; ImageError (naming the file) when one cannot be read.

        Unlike a person's own folder, a benchmark sample with a broken reference is a broken
        sample, so nothing is skipped silently.
        """
        return References(
            likes=[ImageRef.from_path(p, max_pixels=max_pixels) for p in self.refs_liked],
            dislikes=[ImageRef.from_path(p, max_pixels=max_pixels) for p in self.refs_disliked],
        )

    def load_candidates(self, *, max_pixels: int | None = None) -> tuple[ImageRef, ImageRef]:
        return (
            ImageRef.from_path(self.image_a, max_pixels=max_pixels),
            ImageRef.from_path(self.image_b, max_pixels=max_pixels),
        )


def read_samples(path: str | os.PathLike[str]) -> list[PairSample]:
    """One shard; errors name the file, the line and the field."""
    return read_jsonl(path, PairSample)


def write_samples(path: str | os.PathLike[str], samples: Iterable[PairSample]) -> None:
    """One sample per line, written atomically (a reader never sees half a shard)."""
    write_jsonl(path, samples)


class _Shard(BaseModel):
    model_config = ConfigDict(extra="allow")

    file: str = Field(min_length=1)


class ShardList(BaseModel):
    """What `load_samples` reads of a data set's manifest.json (train/ writes the rest)."""

    model_config = ConfigDict(extra="allow")

    shards: list[_Shard]


def read_json(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Any:
    """A JSON data file read whole: InputError naming the file when it is unreadable, over
    `max_bytes` (default `MAX_JSON_BYTES`), not UTF-8, not JSON or nested too deeply to parse."""
    p, cap = Path(path), MAX_JSON_BYTES if max_bytes is None else max_bytes
    try:
        info = p.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or device would block or never end
            raise InputError(f"{p}: not a regular file")
        if info.st_size > cap:
            raise InputError(
                f"{p}: {info.st_size / 2**20:.1f} MB, over the {cap / 2**20:g} MB limit of a JSON file"
            )
        with p.open("rb") as f:
            data = f.read(cap + 1)  # bounded even if the file grows meanwhile
        if len(data) > cap:
            raise InputError(f"{p}: grew over the {cap / 2**20:g} MB limit of a JSON file while read")
        text = data.decode("utf-8")
        return json.loads(text)
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer over Python's 4,300-digit conversion limit
        raise InputError(f"{p}: not JSON ({exc})") from None
    except RecursionError:  # json's parser recurses once per bracket
        raise InputError(f"{p}: JSON nested too deeply to read") from None


def load_samples(root: str | os.PathLike[str]) -> list[PairSample]:
    """Every sample of a data set folder, shard by shard (manifest order, else file-name order)."""
    return [s for f in shard_files(root) for s in read_samples(f)]


def shard_files(root: str | os.PathLike[str]) -> list[Path]:
    """A data set folder's shards, in manifest order, else file-name order.

    Shards named by the manifest must be inside the folder (InputError naming the manifest).
    """
    folder = Path(root)
    manifest = folder / "manifest.json"
    if manifest.exists():
        try:
            shards = ShardList.model_validate(read_json(manifest)).shards
        except ValidationError as exc:
            field, reason = describe_validation(exc)
            raise InputError(f"{manifest}: field {field!r}: {reason}") from None
        files = [
            inside_root(s.file, folder, where=f"{manifest}: field 'shards[{i}].file'")
            for i, s in enumerate(shards)
        ]
    else:
        files = sorted(folder.glob("samples-*.jsonl"))
    if not files:
        raise InputError(f"{folder}: no samples-*.jsonl shards (build the dataset first)")
    return files
