"""The quality filter for teacher annotations: what is dropped, and why, counted.

A chain of thought is kept for training only when it is well formed (PreferThinker's
four blocks, strictly), reaches the right answer, has totals that add up and agree with
that answer, and predicts profiles close to the ground truth. Closeness is
`agentpref.agreement.term_overlap`: the share of (side, element) slots where a predicted
term names a ground-truth term after vocabulary normalisation, so "teal blue" matches
"Teal": cheap, and no model needed.

>>> from agentpref.preferthinker.prompts import WORKED_EXAMPLES
>>> from agentpref.preferthinker.layout import format_judgment
>>> good = WORKED_EXAMPLES[0]
>>> why_dropped(format_judgment(good), "Image B", good.profile)
>>> why_dropped(format_judgment(good), "Image A", good.profile)
'wrong_answer'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, Field

from agentpref.agreement import term_overlap
from agentpref.errors import ParseError
from agentpref.preferthinker.parse import format_ok, parse_judgment
from agentpref.profile import UserProfile

REASONS = ("no_text", "format", "wrong_answer", "inconsistent_totals", "profile_far")


class FilterReport(BaseModel):
    """How many annotations were kept, and how many were dropped for each reason."""

    kept: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.kept + sum(self.dropped.values())


def _normal_answer(answer: str) -> str:
    return answer.strip().upper().replace("IMAGE", "").strip()


def why_dropped(
    text: str | None, answer: str, truth: UserProfile, *, min_agreement: float = 0.5
) -> str | None:
    """The first reason (one of `REASONS`) to drop an annotation, or None to keep it."""
    if not text:
        return "no_text"
    if not format_ok(text.strip()):
        return "format"
    try:
        judgment = parse_judgment(text)
    except ParseError:
        return "format"
    if judgment.winner != _normal_answer(answer):
        return "wrong_answer"
    if judgment.issues or judgment.total_a is None or judgment.total_b is None:
        return "inconsistent_totals"  # the parser lists sums that do not add up or disagree with the answer
    if judgment.profile is None or term_overlap(judgment.profile, truth) < min_agreement:
        return "profile_far"
    return None


def filter_annotations(
    items: Iterable[tuple[str | None, str, UserProfile]], *, min_agreement: float = 0.5
) -> tuple[list[bool], FilterReport]:
    """Keep/drop for each (text, answer, truth), and the counts."""
    decisions: list[bool] = []
    reasons: Counter[str] = Counter()
    for text, answer, truth in items:
        reason = why_dropped(text, answer, truth, min_agreement=min_agreement)
        decisions.append(reason is None)
        if reason is not None:
            reasons[reason] += 1
    return decisions, FilterReport(kept=sum(decisions), dropped=dict(reasons))
