"""PreferThinker's output as JSON, for servers that constrain answers with a JSON schema.

vLLM (`structured_outputs={"json": schema}`) and hosted OpenAI-compatible APIs
(`response_format={"type": "json_schema", ...}`) can force an answer to follow a JSON
schema. The schema here carries exactly what the tag layout carries: both profiles,
0-5 scores with a rationale per element for A and B, and the answer. A JSON answer is
turned back into the tag layout, so one parser reads every answer and the layout's
consistency checks (totals against the answer) still apply.

>>> from agentpref.preferthinker.prompts import WORKED_EXAMPLES
>>> text = json.dumps(judgment_to_json(WORKED_EXAMPLES[0]))
>>> from agentpref.preferthinker.parse import parse_judgment
>>> parse_judgment(json_to_layout(text)).winner
'B'
"""

from __future__ import annotations

import json
from typing import Any

from agentpref.errors import ParseError
from agentpref.judgment import DimensionScore, Judgment
from agentpref.preferthinker.parse import MAX_ANSWER_CHARS
from agentpref.profile import ELEMENTS, Profile, UserProfile

JSON_INSTRUCTION = (
    "Write the whole answer as one JSON object following the given schema: the preference and "
    "non-preference profiles (five elements each), for every element the score of Image A and of "
    'Image B from 0 to 5 with a rationale each, and the answer, "Image A" or "Image B".'
)

_SIDES = ("preference_profile", "non_preference_profile")


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    # Every property required and nothing else allowed: what strict JSON-schema modes demand.
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _string(max_length: int | None) -> dict[str, Any]:
    return {"type": "string"} if max_length is None else {"type": "string", "maxLength": max_length}


def _profile_schema(max_term: int | None) -> dict[str, Any]:
    return _object({e.value: _string(max_term) for e in ELEMENTS})


def profile_schema(*, max_term: int | None = None) -> dict[str, Any]:
    """JSON schema of a profile-only answer (`max_term` bounds each value's length)."""
    return _object({side: _profile_schema(max_term) for side in _SIDES})


def judgment_schema(*, max_rationale: int | None = None, max_term: int | None = None) -> dict[str, Any]:
    """JSON schema of a whole predict-then-assess answer.

    Length bounds keep a constrained model from writing one string forever; leave them
    out for APIs whose strict mode rejects `maxLength`.
    """
    score = {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]}
    why = _string(max_rationale)
    element = _object({"score_a": score, "rationale_a": why, "score_b": score, "rationale_b": why})
    return _object(
        {
            **{side: _profile_schema(max_term) for side in _SIDES},
            "scores": _object({e.value: element for e in ELEMENTS}),
            "answer": {"type": "string", "enum": ["Image A", "Image B"]},
        }
    )


def judgment_to_json(judgment: Judgment) -> dict[str, Any]:
    """A judgment as the schema's JSON (the inverse of `json_to_layout`, for examples and tests)."""
    profile = judgment.profile or UserProfile()
    return {
        "preference_profile": {e.value: ", ".join(profile.likes.terms(e)) for e in ELEMENTS},
        "non_preference_profile": {e.value: ", ".join(profile.dislikes.terms(e)) for e in ELEMENTS},
        "scores": {
            s.element.value: {
                "score_a": s.score_a,
                "rationale_a": s.rationale_a,
                "score_b": s.score_b,
                "rationale_b": s.rationale_b,
            }
            for s in judgment.scores
        },
        "answer": f"Image {judgment.winner}",
    }


def _load(text: str) -> dict[str, Any]:
    if len(text) > MAX_ANSWER_CHARS:  # cut JSON is no JSON: say why instead of where it broke
        raise ParseError(
            f"the JSON answer is {len(text):,} characters, more than the {MAX_ANSWER_CHARS:,} read",
            text[:MAX_ANSWER_CHARS],
        )
    start, end = text.find("{"), text.rfind("}")
    try:
        # strict=False: models put raw control characters (tabs, newlines) inside strings.
        data = json.loads(text[start : end + 1], strict=False) if start >= 0 else None
    except (ValueError, RecursionError) as err:  # also numbers over 4,300 digits, and deep nesting
        raise ParseError(
            f"the answer is not valid JSON ({type(err).__name__}: {str(err)[:200]})", text
        ) from None
    if not isinstance(data, dict):
        raise ParseError("the answer holds no JSON object", text)
    return data


def _profile(data: dict[str, Any], text: str) -> UserProfile:
    sides = []
    for side in _SIDES:
        block = data.get(side)
        if not isinstance(block, dict):
            raise ParseError(f"the JSON answer has no {side!r} object", text)
        body = "\n".join(f'"{k}": "{str(v).replace(chr(34), chr(39))}"' for k, v in block.items())
        try:
            sides.append(Profile.from_tag_body(body))
        except ValueError as err:
            raise ParseError(
                f"the JSON answer's {side!r} names no profile element ({str(err)[:200]})", text
            ) from None
    return UserProfile(likes=sides[0], dislikes=sides[1])


def json_to_layout(text: str, *, profile_only: bool = False) -> str:
    """A JSON answer rewritten in the tag layout (`parse_judgment`/`parse_profile` read it).

    Raises ParseError (carrying the JSON text) when the JSON is malformed, longer than
    MAX_ANSWER_CHARS, or misses a part; nothing else.
    """
    from agentpref.preferthinker.layout import format_judgment

    data = _load(text)
    profile = _profile(data, text)
    if profile_only:
        return profile.to_tag_text()
    scores = data.get("scores")
    if not isinstance(scores, dict):
        raise ParseError("the JSON answer has no 'scores' object", text)
    rows = []
    for element in ELEMENTS:
        row = scores.get(element.value)
        if not isinstance(row, dict):
            continue  # reported by the parser as a missing element
        try:
            rows.append(
                DimensionScore(
                    element=element,
                    score_a=float(row["score_a"]),
                    score_b=float(row["score_b"]),
                    rationale_a=str(row.get("rationale_a", "")),
                    rationale_b=str(row.get("rationale_b", "")),
                )
            )
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise ParseError(f"the JSON scores of {element.value!r} are unusable ({err})", text) from None
    answer = str(data.get("answer", "")).strip().upper().replace("IMAGE", "").strip()
    winner = answer if answer in ("A", "B") else None
    return format_judgment(Judgment(scores=rows, winner=winner, profile=profile))  # type: ignore[arg-type]
