"""The training sample (one user, one candidate pair) and JSONL reading that names file, line and field.

A `Sample` holds what every later stage needs: the user's reference images (liked and
disliked, paths relative to the dataset folder), candidates A and B, the correct answer,
the prompts, the ground-truth profiles, and, once annotated, the teacher's reasoning.

>>> from agentpref.profile import Profile
>>> s = Sample(sample_id="u1-p0", user_id="u1", refs_liked=["a.png"], refs_disliked=["b.png"],
...            image_a="c.png", image_b="d.png", answer="Image B",
...            likes=Profile(color=["Teal"]), dislikes=Profile(color=["Crimson"]))
>>> s.winner, s.profile.likes.color
('B', ['Teal'])
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpref.errors import InputError
from agentpref.profile import ELEMENTS, Profile, UserProfile
from agentpref.run import write_atomic

Answer = Literal["Image A", "Image B"]
PairKind = Literal["contrast", "near", "imported"]
M = TypeVar("M", bound=BaseModel)


class Sample(BaseModel):
    """One training example: a user's references, a candidate pair and its answer."""

    model_config = ConfigDict(extra="forbid")

    sample_id: str
    user_id: str | int = Field(description="str for simulated users; PreferThinker's data may use int")
    split: str | None = Field(None, description="SP_ID, SP_OD, MP_ID or MP_OD; None when imported")
    seen: bool | None = Field(None, description="whether training may see this user; None when unknown")
    pair_kind: PairKind = "contrast"
    prompt: str = Field("", description="the candidates' subject")
    reference_prompts: list[str] = Field(
        default_factory=list, description="prompt i made liked and disliked ref i"
    )
    refs_liked: list[str]
    refs_disliked: list[str]
    image_a: str
    image_b: str
    answer: Answer
    likes: Profile
    dislikes: Profile
    cot: str | None = Field(None, description="the assistant turn: teacher reasoning, or imported verbatim")
    request_text: str | None = Field(None, description="an imported human turn, kept verbatim for re-export")
    extra: dict[str, Any] = Field(default_factory=dict, description="unknown keys of an imported record")

    @property
    def winner(self) -> Literal["A", "B"]:
        return "A" if self.answer == "Image A" else "B"

    @property
    def profile(self) -> UserProfile:
        return UserProfile(likes=self.likes, dislikes=self.dislikes)

    def image_paths(self) -> list[str]:
        return [*self.refs_liked, *self.refs_disliked, self.image_a, self.image_b]


def profile_attributes(profile: Profile) -> dict[str, str]:
    """A profile as PreferThinker's attribute dict: the five keys, terms joined by ", "."""
    return {e.value: ", ".join(profile.terms(e)) for e in ELEMENTS}


class JsonlError(InputError):
    """A bad line in a JSONL file; the message names the file, the line and the field."""

    def __init__(self, path: str | os.PathLike[str], line: int, field: str | None, reason: str) -> None:
        where = f"{path}:{line}" + (f": field {field!r}" if field else "")
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.field, self.reason = str(path), line, field, reason


def field_name(loc: Iterable[int | str]) -> str:
    """pydantic's error location as one name: ("conversations", 1, "value") -> "conversations[1].value"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_error(path: str | os.PathLike[str], line: int, exc: ValidationError) -> JsonlError:
    errors = exc.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return JsonlError(path, line, field_name(first["loc"]) or None, first["msg"] + more)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; JsonlError for bad JSON or a non-object."""
    p = Path(path)
    try:
        handle = p.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None
    with handle:
        for n, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise JsonlError(p, n, None, f"not JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise JsonlError(p, n, None, f"expected a JSON object, got {type(obj).__name__}")
            yield n, obj


def read_models(path: str | os.PathLike[str], model: type[M]) -> list[M]:
    """Every line of a JSONL file validated as `model`, errors naming file, line and field."""
    out = []
    for n, obj in iter_jsonl(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            raise validation_error(path, n, exc) from None
    return out


def read_samples(path: str | os.PathLike[str]) -> list[Sample]:
    return read_models(path, Sample)


def write_samples(path: str | os.PathLike[str], samples: Iterable[Sample]) -> None:
    """One sample per line, written atomically (a reader never sees half a shard)."""
    lines = [s.model_dump_json() + "\n" for s in samples]
    write_atomic(Path(path), "".join(lines))


def load_samples(root: str | os.PathLike[str]) -> list[Sample]:
    """Every sample of a dataset folder, shard by shard (manifest order, else file-name order)."""
    folder = Path(root)
    manifest = folder / "manifest.json"
    if manifest.exists():
        files = [folder / s["file"] for s in json.loads(manifest.read_text())["shards"]]
    else:
        files = sorted(folder.glob("samples-*.jsonl"))
    if not files:
        raise InputError(f"{folder}: no samples-*.jsonl shards (build the dataset first)")
    return [s for f in files for s in read_samples(f)]
