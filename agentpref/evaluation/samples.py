"""The evaluation sample: one user's references, a candidate pair and which candidate they prefer.

Every data set `agentpref eval` reads (PreferImg-Bench, Pick-a-Pic per-user splits, folders
of a person's own images, the synthetic sets `train/` builds) loads into `EvalSample`.
Samples hold image *paths*, never pixels, so a 10K-sample set costs a few MB; images are
read only when an assessor needs them (`load_references`, `load_candidates`).

>>> s = EvalSample(sample_id="u1-0", split="SP_ID", user_id="u1", likes=["l1.png", "l2.png"],
...                dislikes=["d1.png"], image_a="a.png", image_b="b.png", label="B")
>>> t = s.swapped()
>>> (t.image_a, t.image_b, t.label, t.sample_id)
('b.png', 'a.png', 'A', 'u1-0~swap')
>>> s.with_references(1).likes
['l1.png']
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpref.errors import InputError
from agentpref.images import ImageRef, References
from agentpref.profile import UserProfile

Label = Literal["A", "B"]
SWAP_SUFFIX = "~swap"


class EvalSample(BaseModel):
    """One pairwise judgment to make: would this user prefer image A or image B?"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sample_id: str = Field(description="unique within a loaded data set; the key results are stored under")
    split: str = Field(description="SP_ID, SP_OD, MP_ID, MP_OD, PICKAPIC, a folder's split, ...")
    user_id: str
    likes: list[str] = Field(description="paths of the user's liked reference images, most relevant first")
    dislikes: list[str] = Field(description="paths of the user's disliked reference images")
    image_a: str
    image_b: str
    label: Label = Field(description="the candidate the user preferred")
    truth: UserProfile | None = Field(None, description="ground-truth profiles, when the data has them")
    prompt: str | None = Field(None, description="the prompt the candidates were generated from")
    reference_prompts: list[str] = Field(default_factory=list, description="prompt i made reference i")
    k_group: str | None = Field(None, description="id of the top-k group's anchor pair (see top_k.py)")
    k_rank: int = Field(0, ge=0, description="0: a pair of the data; > 0: an extra pair of a top-k group")

    def swapped(self) -> EvalSample:
        """The same pair with A and B exchanged (for position consistency); the label follows."""
        return self.model_copy(
            update={
                "sample_id": self.sample_id + SWAP_SUFFIX,
                "image_a": self.image_b,
                "image_b": self.image_a,
                "label": "B" if self.label == "A" else "A",
            }
        )

    def with_references(self, n: int) -> EvalSample:
        """At most `n` liked and `n` disliked references (the first ones); id gets an "@n" suffix."""
        if n < 1:
            raise InputError(f"number of references must be >= 1, got {n}")
        return self.model_copy(
            update={
                "sample_id": f"{self.sample_id}@{n}",
                "likes": self.likes[:n],
                "dislikes": self.dislikes[:n],
                "reference_prompts": self.reference_prompts[:n],
            }
        )

    @property
    def n_references(self) -> int:
        """References per side the assessor sees (the smaller side: a pair needs both)."""
        return min(len(self.likes), len(self.dislikes)) if self.dislikes else len(self.likes)

    def image_paths(self) -> list[str]:
        return [*self.likes, *self.dislikes, self.image_a, self.image_b]

    def load_references(self, *, max_pixels: int | None = None) -> References:
        """The reference images read now; ImageError (naming the file) when one cannot be read.

        Unlike a user's own folder, a benchmark sample with a broken reference is a broken
        sample, so nothing is skipped silently.
        """
        return References(
            likes=[ImageRef.from_path(p, max_pixels=max_pixels) for p in self.likes],
            dislikes=[ImageRef.from_path(p, max_pixels=max_pixels) for p in self.dislikes],
            skipped=[],
        )

    def load_candidates(self, *, max_pixels: int | None = None) -> tuple[ImageRef, ImageRef]:
        return (
            ImageRef.from_path(self.image_a, max_pixels=max_pixels),
            ImageRef.from_path(self.image_b, max_pixels=max_pixels),
        )


class LoadError(InputError):
    """A record of an evaluation file that is wrong; the message names file, record and field."""

    def __init__(
        self, path: str | os.PathLike[str], reason: str, *, index: int | None = None, field: str | None = None
    ) -> None:
        where = str(path)
        if index is not None:
            where += f": record {index}"
        if field:
            where += f": field {field!r}"
        super().__init__(f"{where}: {reason}")
        self.path, self.index, self.field, self.reason = str(path), index, field, reason


def field_name(loc: Iterable[int | str]) -> str:
    """pydantic's error location as one name: ("pairs", 1, "winner") -> "pairs[1].winner"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def from_validation(path: str | os.PathLike[str], index: int | None, exc: ValidationError) -> LoadError:
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    value = f" (got {first['input']!r:.80})" if first["type"] != "missing" else ""
    return LoadError(path, first["msg"] + value + more, index=index, field=field_name(first["loc"]) or None)


def check_files(path: str | os.PathLike[str], index: int | None, fields: dict[str, str | list[str]]) -> None:
    """LoadError naming the field (and list position) of the first image path that is not a file.

    A stat per image: cheap next to reading them, and a missing image root fails at load
    time instead of hours into a remote evaluation.
    """
    for name, value in fields.items():
        items = (
            [(name, value)] if isinstance(value, str) else [(f"{name}[{i}]", v) for i, v in enumerate(value)]
        )
        for label, file in items:
            if not Path(file).is_file():
                raise LoadError(path, f"image not found: {file}", index=index, field=label)


def check_unique_ids(path: str | os.PathLike[str], samples: list[EvalSample]) -> None:
    seen: set[str] = set()
    for i, s in enumerate(samples):
        if s.sample_id in seen:
            raise LoadError(path, f"sample id {s.sample_id!r} appears twice", index=i, field="sample_id")
        seen.add(s.sample_id)
