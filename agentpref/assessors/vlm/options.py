"""What a model-backed assessor is asked with: its options, one request's sampling, one answer.

They are built from URI or keyword values with `agentpref.endpoints.validated`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentpref.images.refs import DEFAULT_MODEL_PIXELS
from agentpref.judgment import Usage

Structured = Literal["off", "regex", "json"]


class ModelOptions(BaseModel):
    """Options of a model-backed assessor (URI query parameters or keyword arguments)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    mode: Literal["joint", "cached-profile"] = "joint"
    swap: bool = Field(False, description="ask again with A and B exchanged; the judgment reports agreement")
    structured: Structured | None = Field(
        None, description="constrain the output to the layout; default off for PreferThinker, on otherwise"
    )
    parse_retries: int = Field(1, ge=0, description="extra attempts when the answer cannot be read")
    retry_temperature: float = Field(0.7, ge=0)
    max_history: int = Field(5, ge=1, description="reference images per side")
    max_pixels: int = Field(DEFAULT_MODEL_PIXELS, ge=28 * 28, description="pixel budget per image")
    max_tokens: int = Field(4096, ge=16)
    temperature: float = Field(0.0, ge=0, description="0 = greedy, as in PreferThinker's evaluation")
    repetition_penalty: float = Field(1.15, gt=0)
    seed: int | None = Field(None, ge=-(2**63), lt=2**63, description="a 64-bit integer, as servers take")
    concurrency: int = Field(4, ge=1, le=256, description="requests in flight at once")
    ranking: Literal["swiss", "all-pairs"] = "swiss"
    rounds: int | None = Field(None, ge=1, description="Swiss rounds (default ceil(log2 N))")
    system_prompt: str | None = Field(
        None, description="replaces the system prompt of compare requests (other VLMs); '@path' reads a file"
    )
    max_rationale: int = Field(600, ge=8, description="longest rationale the structured regex admits")
    max_term: int = Field(80, ge=4, description="longest profile value the structured regex admits")

    @field_validator("system_prompt")
    @classmethod
    def _read_prompt_file(cls, value: str | None) -> str | None:
        if value is None or not value.startswith("@"):
            return value
        path = Path(value[1:]).expanduser()
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise ValueError(f"cannot read the system prompt file {path}: {err}") from None


@dataclass
class Sampling:
    max_tokens: int
    temperature: float
    repetition_penalty: float
    regex: str | None
    seed: int | None
    json_schema: dict[str, Any] | None = None


@dataclass
class Completion:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float = 0.0

    def usage(self) -> Usage:
        return Usage(
            requests=1,
            prompt_tokens=self.prompt_tokens or 0,
            completion_tokens=self.completion_tokens or 0,
            latency_s=self.latency_s,
        )
