"""PreferThinker's released JSONL layout, to and from our `PairSample`, and the request a
sample stands for (its human turn, with image paths instead of pixels).

One record per line: `conversations` (a human turn and a gpt turn, LLaVA-style
`{"from", "value"}`), `imageA`, `imageB`, `prefered_images`, `non_prefered_images` (their
spelling; paths relative to an image folder), `prefer_attributes` and
`non_prefer_attributes` (the five keys; their GRPO data also writes "ArtisticMedium"),
`user_id` and `reference_prompt_list`. Unknown keys are kept.

Import keeps both turns verbatim (`PairSample.request_text`, `PairSample.cot`), so importing and
exporting gives back an equivalent file: the same records, with attribute dicts equal
once keys and term lists are normalised (`compare_files`). Exporting our own samples
builds the human turn from agentpref's request (`<image>` placeholders in image order)
and the gpt turn from the CoT, else the ground truth in the output layout.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentpref.io import JsonlError, describe_validation, iter_jsonl, write_atomic
from agentpref.judgment import Judgment
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.parse import parse_answer
from agentpref.preferthinker.requests import DEFAULT_MAX_HISTORY, Request, TextPart, build_compare_request
from agentpref.profile import ELEMENTS, Element, Profile, _split_terms
from agentpref.samples import PairSample

Attributes = dict[str, str | list[str]] | str


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    speaker: str = Field(alias="from", description='"human" or "gpt"')
    value: str


class PreferThinkerRecord(BaseModel):
    """One line of PreferThinker's training JSONL."""

    model_config = ConfigDict(extra="allow")

    conversations: list[Turn]
    imageA: str
    imageB: str
    prefered_images: list[str]
    non_prefered_images: list[str]
    prefer_attributes: Attributes
    non_prefer_attributes: Attributes
    user_id: str | int
    reference_prompt_list: list[str]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def profile_attributes(profile: Profile | None) -> dict[str, str]:
    """A profile as PreferThinker's attribute dict: the five keys, terms joined by ", " (empty when None)."""
    return {e.value: ", ".join(profile.terms(e)) if profile else "" for e in ELEMENTS}


def parse_attributes(value: Attributes) -> Profile:
    """An attribute dict (any key spelling Element.parse accepts) or tag-body string -> Profile.

    Raises ValueError naming the key that is unknown or given twice.
    """
    if isinstance(value, str):
        return Profile.from_tag_body(value) if value.strip() else Profile()
    profile, seen = Profile(), set()
    for key, terms in value.items():
        element = Element.parse(key)
        if element in seen:
            raise ValueError(f"key {key!r}: {element.value} is given twice")
        seen.add(element)
        listed = [t.strip() for t in terms] if isinstance(terms, list) else _split_terms(terms)
        profile = profile.with_terms(element, [t for t in listed if t])
    return profile


# Matched against the stripped text: whitespace runs on both sides of an optional "." made
# the pattern quadratic in a long run of spaces.
_BARE_ANSWER = re.compile(r"(?:image\s*)?([ab])(?:\s*\.)?", re.IGNORECASE)


def read_answer(text: str) -> str | None:
    """'Image A' / 'Image B' from a gpt turn: the last <answer> tag, or a bare 'Image A'."""
    winner = parse_answer(text)
    if winner is None and (bare := _BARE_ANSWER.fullmatch(text.strip())):
        winner = bare.group(1).upper()
    return None if winner is None else f"Image {winner}"


def record_to_sample(record: PreferThinkerRecord, sample_id: str) -> PairSample:
    """Raises ValueError whose first word is the field at fault."""
    turns = record.conversations
    if len(turns) != 2:
        raise ValueError(f"conversations: expected 2 turns (human, gpt), got {len(turns)}")
    answer = read_answer(turns[1].value)
    if answer is None:
        raise ValueError("conversations[1].value: no answer (<answer>Image A</answer> or Image B)")
    profiles = {}
    for name in ("prefer_attributes", "non_prefer_attributes"):
        try:
            profiles[name] = parse_attributes(getattr(record, name))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return PairSample(
        sample_id=sample_id,
        user_id=record.user_id,
        pair_kind="imported",
        reference_prompts=list(record.reference_prompt_list),
        refs_liked=list(record.prefered_images),
        refs_disliked=list(record.non_prefered_images),
        image_a=record.imageA,
        image_b=record.imageB,
        answer=answer,  # type: ignore[arg-type]
        likes=profiles["prefer_attributes"],
        dislikes=profiles["non_prefer_attributes"],
        request_text=turns[0].value,
        cot=turns[1].value,
        extra=dict(record.model_extra or {}),
    )


def sample_to_record(sample: PairSample, *, max_history: int = DEFAULT_MAX_HISTORY) -> PreferThinkerRecord:
    human = (
        sample.request_text
        if sample.request_text is not None
        else human_text(sample, max_history=max_history)
    )
    return PreferThinkerRecord.model_validate(
        {
            **sample.extra,
            "conversations": [
                {"from": "human", "value": human},
                {"from": "gpt", "value": target_text(sample)},
            ],
            "imageA": sample.image_a,
            "imageB": sample.image_b,
            "prefered_images": sample.refs_liked,
            "non_prefered_images": sample.refs_disliked,
            "prefer_attributes": profile_attributes(sample.likes),
            "non_prefer_attributes": profile_attributes(sample.dislikes),
            "user_id": sample.user_id,
            "reference_prompt_list": sample.reference_prompts,
        }
    )


def read_records(path: str | os.PathLike[str]) -> list[tuple[int, PreferThinkerRecord]]:
    """(line number, record) for every line; JsonlError naming file, line and field."""
    out = []
    for n, obj in iter_jsonl(path):
        try:
            out.append((n, PreferThinkerRecord.model_validate(obj)))
        except ValidationError as exc:
            raise JsonlError(path, n, *describe_validation(exc)) from None
    return out


def read_preferthinker(path: str | os.PathLike[str]) -> list[PairSample]:
    """PreferThinker JSONL -> samples (image paths stay as written: relative to their image folder)."""
    samples = []
    stem = Path(path).stem
    for n, record in read_records(path):
        try:
            samples.append(record_to_sample(record, f"{stem}-{n:06d}"))
        except ValueError as exc:
            field, _, reason = str(exc).partition(": ")
            raise JsonlError(path, n, field, reason) from None
    return samples


def write_preferthinker(
    samples: Iterable[PairSample], path: str | os.PathLike[str], *, max_history: int = DEFAULT_MAX_HISTORY
) -> int:
    """PairSamples -> PreferThinker JSONL (atomically); returns the record count."""
    lines = [sample_to_record(s, max_history=max_history).to_json() + "\n" for s in samples]
    write_atomic(Path(path), "".join(lines))
    return len(lines)


def _normal(record: PreferThinkerRecord) -> dict[str, Any]:
    data = record.model_dump(by_alias=True)
    for name in ("prefer_attributes", "non_prefer_attributes"):
        profile = parse_attributes(getattr(record, name))
        data[name] = {e.value: profile.terms(e) for e in ELEMENTS}
    return data


def compare_files(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> list[str]:
    """Differences between two PreferThinker JSONL files, record by record ([] when equivalent).

    Equivalent: the same records in the same order, equal key by key, attribute dicts
    compared after key spelling and term-list normalisation.
    """
    left, right = read_records(a), read_records(b)
    diffs = [] if len(left) == len(right) else [f"{len(left)} records in {a}, {len(right)} in {b}"]
    for (n, x), (_, y) in zip(left, right, strict=False):  # a length mismatch is reported above
        nx, ny = _normal(x), _normal(y)
        for key in sorted(set(nx) | set(ny)):
            if nx.get(key) != ny.get(key):
                diffs.append(f"record {n}: {key!r} differs: {nx.get(key)!r} != {ny.get(key)!r}"[:400])
    return diffs


# --- the request a sample stands for ----------------------------------------------------------------


IMAGE_PLACEHOLDER = "<image>"


@dataclass(frozen=True)
class PathRef:
    """Stands in for an ImageRef inside a Request: export needs the order and path, never the pixels."""

    path: str

    @property
    def label(self) -> str:
        return Path(self.path).name

    @property
    def sha256(self) -> str:
        return Path(self.path).stem


def build_request(
    sample: PairSample, *, max_history: int = DEFAULT_MAX_HISTORY, system_prompt: str | None = None
) -> Request:
    """The compare request for `sample`, image parts holding paths (the first `max_history` refs per side)."""

    def refs(paths: list[str]) -> list[Any]:
        return [PathRef(p) for p in paths]

    return build_compare_request(
        refs(sample.refs_liked),
        refs(sample.refs_disliked),
        cast(Any, PathRef(sample.image_a)),
        cast(Any, PathRef(sample.image_b)),
        max_history=max_history,
        system_prompt=system_prompt,
    )


def human_text(sample: PairSample, *, max_history: int = DEFAULT_MAX_HISTORY) -> str:
    """The user turn as one string with `<image>` placeholders in image order (LLaVA-style layouts)."""
    request = build_request(sample, max_history=max_history)
    return "\n".join(p.text if isinstance(p, TextPart) else IMAGE_PLACEHOLDER for p in request.parts)


def target_text(sample: PairSample) -> str:
    """The assistant turn: the sample's CoT, else the ground truth (profiles, answer) in the output layout."""
    if sample.cot is not None:
        return sample.cot
    return format_judgment(Judgment(profile=sample.profile, winner=sample.winner))
