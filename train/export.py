"""PairSamples -> TRL-ready JSONL (SFT and GRPO), and a loader into `datasets.Dataset`.

Both row kinds carry the request agentpref sends at inference time
(`agentpref.preferthinker.requests.build_compare_request`: the system prompt with PreferThinker's task
and worked examples; likes, dislikes, then candidates A and B), in the shapes of
`to_hf_messages`: typed content parts with one `{"type": "image"}` per image, in the order
of the `images` column. Images stay paths (relative to the dataset folder) in the JSONL;
`to_hf_dataset` resolves them and casts the column to `datasets.Image`, so rows decode
to PIL images only when read.

- SFT: `{"messages": [system, user, assistant], "images": [...]}`; the assistant turn is
  the sample's CoT, or (when it has none) the ground truth in the output layout
  (profile tags and answer, no `<think>`), unless `require_cot` drops such samples.
- GRPO: `{"prompt": [system, user], "images": [...], "answer": "Image A",
  "prefer_attributes": {...}, "non_prefer_attributes": {...}, ...}`: the extra columns are
  what the reward functions read (TRL passes every column to them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from agentpref.io import JsonlError, iter_jsonl, write_atomic
from agentpref.preferthinker.jsonl import PathRef, build_request, profile_attributes, target_text
from agentpref.preferthinker.requests import (
    DEFAULT_MAX_HISTORY,
    ImagePart,
    Request,
    TextPart,
)
from agentpref.samples import PairSample

if TYPE_CHECKING:
    import datasets


def request_messages(request: Request) -> tuple[list[dict[str, Any]], list[str]]:
    """`to_hf_messages` shapes without decoding: system + user messages, and image paths in order."""
    content: list[dict[str, Any]] = []
    paths: list[str] = []
    for part in request.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image"})
            paths.append(cast(PathRef, part.ref).path)
    messages = [
        {"role": "system", "content": [{"type": "text", "text": request.system}]},
        {"role": "user", "content": content},
    ]
    return messages, paths


def _columns(sample: PairSample) -> dict[str, Any]:
    return {
        "sample_id": sample.sample_id,
        "user_id": str(sample.user_id),  # one Arrow type even when imported ids are ints
        "split": sample.split,
        "answer": sample.answer,
        "prefer_attributes": profile_attributes(sample.likes),
        "non_prefer_attributes": profile_attributes(sample.dislikes),
        "reference_prompt_list": list(sample.reference_prompts),
        "prompt_subject": sample.prompt,
    }


def sft_row(
    sample: PairSample, *, max_history: int = DEFAULT_MAX_HISTORY, system_prompt: str | None = None
) -> dict[str, Any]:
    messages, images = request_messages(
        build_request(sample, max_history=max_history, system_prompt=system_prompt)
    )
    messages.append({"role": "assistant", "content": [{"type": "text", "text": target_text(sample)}]})
    return {"messages": messages, "images": images}


def grpo_row(
    sample: PairSample, *, max_history: int = DEFAULT_MAX_HISTORY, system_prompt: str | None = None
) -> dict[str, Any]:
    prompt, images = request_messages(
        build_request(sample, max_history=max_history, system_prompt=system_prompt)
    )
    return {"prompt": prompt, "images": images, **_columns(sample)}


class ExportStats(BaseModel):
    path: str
    rows: int
    skipped_without_cot: int = 0


def _write(
    path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], image_root: str | os.PathLike[str] | None
) -> int:
    """Rows as JSONL (atomically), image paths made relative to the file's folder.

    Sample paths are relative to `image_root` (default: the file's folder, i.e. the file is
    written inside the dataset folder); absolute paths are kept.
    """
    out_dir = Path(path).absolute().parent
    lines = []
    for row in rows:
        if image_root is not None:
            row["images"] = [
                p if os.path.isabs(p) else os.path.relpath(Path(image_root).absolute() / p, out_dir)
                for p in row["images"]
            ]
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    write_atomic(Path(path), "".join(lines))
    return len(lines)


def export_sft(
    samples: Iterable[PairSample],
    path: str | os.PathLike[str],
    *,
    require_cot: bool = False,
    image_root: str | os.PathLike[str] | None = None,
    max_history: int = DEFAULT_MAX_HISTORY,
    system_prompt: str | None = None,
) -> ExportStats:
    """SFT rows for `samples` (atomically); `require_cot` drops, and counts, samples without CoT.

    Sample image paths are relative to `image_root` (default: the output file's folder).
    """
    kept, skipped = [], 0
    for s in samples:
        if require_cot and s.cot is None:
            skipped += 1
            continue
        kept.append(sft_row(s, max_history=max_history, system_prompt=system_prompt))
    return ExportStats(path=str(path), rows=_write(path, kept, image_root), skipped_without_cot=skipped)


def export_grpo(
    samples: Iterable[PairSample],
    path: str | os.PathLike[str],
    *,
    image_root: str | os.PathLike[str] | None = None,
    max_history: int = DEFAULT_MAX_HISTORY,
    system_prompt: str | None = None,
) -> ExportStats:
    """GRPO rows for `samples` (atomically); image paths as in `export_sft`."""
    rows = (grpo_row(s, max_history=max_history, system_prompt=system_prompt) for s in samples)
    return ExportStats(path=str(path), rows=_write(path, rows, image_root))


def _placeholders(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages for part in m["content"] if part.get("type") == "image")


def to_hf_dataset(
    path: str | os.PathLike[str], image_root: str | os.PathLike[str] | None = None
) -> datasets.Dataset:
    """Load an exported SFT or GRPO JSONL as a `datasets.Dataset` with decoded-on-read images.

    Relative image paths resolve against `image_root` (default: the JSONL's folder). A row
    whose image is missing, or whose image count differs from its `{"type": "image"}` parts,
    raises a JsonlError naming the line.
    """
    import datasets

    base = Path(image_root) if image_root is not None else Path(path).parent
    rows = []
    for n, row in iter_jsonl(path):
        key = "messages" if "messages" in row else "prompt"
        if key not in row or "images" not in row:
            raise JsonlError(path, n, None, "expected 'messages' (SFT) or 'prompt' (GRPO) and 'images'")
        images = [p if os.path.isabs(p) else str(base / p) for p in row["images"]]
        for i, p in enumerate(images):
            if not os.path.isfile(p):
                raise JsonlError(path, n, f"images[{i}]", f"no such file: {p}")
        if (count := _placeholders(row[key])) != len(images):
            raise JsonlError(path, n, key, f"{count} image parts but {len(images)} images")
        rows.append({**row, "images": images})
    if not rows:
        raise JsonlError(path, 0, None, "no rows")
    # Sequence(Image()) rather than List: the same spelling works on datasets 3.x and 5.x.
    return datasets.Dataset.from_list(rows).cast_column("images", datasets.Sequence(datasets.Image()))
