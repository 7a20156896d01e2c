"""Position-bias control: one judgment from two passes, A shown first and B shown first.

Pairwise VLM judges favour a position. Asking twice with the candidates exchanged and
averaging cancels that bias, and whether the two passes agree says how much to trust
the answer.
"""

from __future__ import annotations

from agentpref.judgment import DimensionScore, Judgment, Usage


def combine_swapped(first: Judgment, second: Judgment) -> Judgment:
    """One judgment from a pass with A first and a pass with B first (`second` has them exchanged).

    Scores are averaged per element and side; the winner is the higher averaged total (the
    first pass's answer on a tie); `swap_agreement` says whether both passes picked the
    same image. If one pass failed the other stands alone, noted in `issues`.
    """
    usage = (first.usage or Usage()) + (second.usage or Usage())
    if first.failed and second.failed:
        return first.model_copy(update={"usage": usage})
    if first.failed or second.failed:
        kept = _mirror(second) if first.failed else first.model_copy()
        kept.issues = [*kept.issues, "one of the two passes (A first, B first) was unreadable"]
        kept.usage = usage
        return kept
    mirrored = _mirror(second)
    scores = []
    for s in first.scores:
        t = mirrored.score(s.element)
        if t is None:
            scores.append(s)
            continue
        scores.append(
            DimensionScore(
                element=s.element,
                score_a=(s.score_a + t.score_a) / 2,
                score_b=(s.score_b + t.score_b) / 2,
                rationale_a=s.rationale_a,
                rationale_b=s.rationale_b,
            )
        )

    def mean(x: float | None, y: float | None) -> float | None:
        return (x + y) / 2 if x is not None and y is not None else (x if x is not None else y)

    total_a, total_b = mean(first.total_a, mirrored.total_a), mean(first.total_b, mirrored.total_b)
    winner = first.winner
    if total_a is not None and total_b is not None and total_a != total_b:
        winner = "A" if total_a > total_b else "B"
    agree = first.winner == mirrored.winner
    issues = [*first.issues, *(f"swapped pass: {i}" for i in mirrored.issues)]
    if not agree:
        issues.append(
            f"position bias: Image {first.winner} won as shown, but Image {mirrored.winner} "
            "won when A and B were shown the other way round"
        )
    return first.model_copy(
        update={
            "scores": scores,
            "total_a": total_a,
            "total_b": total_b,
            "winner": winner,
            "issues": issues,
            "swap_agreement": agree,
            "raw_text": f"{first.raw_text}\n\n--- second pass, A and B exchanged ---\n\n{second.raw_text}",
            "usage": usage,
        }
    )


def _mirror(judgment: Judgment) -> Judgment:
    """The same judgment with A and B exchanged (a second pass read back in first-pass order)."""
    return judgment.model_copy(
        update={
            "a": judgment.b,
            "b": judgment.a,
            "scores": [
                s.model_copy(
                    update={
                        "score_a": s.score_b,
                        "score_b": s.score_a,
                        "rationale_a": s.rationale_b,
                        "rationale_b": s.rationale_a,
                    }
                )
                for s in judgment.scores
            ],
            "total_a": judgment.total_b,
            "total_b": judgment.total_a,
            "winner": None if judgment.winner is None else ("B" if judgment.winner == "A" else "A"),
        }
    )
