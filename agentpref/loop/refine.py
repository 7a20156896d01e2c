"""The refine step: from a judged round to the next round's prompts, seeds and starting images.

Strategies combine (`RefineSettings`), and each round records, in words, which shaped it:

- *feedback rewriting* (always): the elements the best candidate scored weakly on are
  stressed and moved next to the subject; what the judge named in the worst candidates'
  reasons for their weak elements, and the person does not like, joins the negative prompt
  (kept for later rounds);
- *a language-model rewriter* (PIGReward): the profile, subject, prompts and the best and
  worst candidates' reasons go to a model, which writes the next prompts; when it fails, the
  round uses feedback rewriting and says why;
- *exploitation* (term search, `agentpref.loop.search`): the round's candidates keep the
  seeds of the best candidates so far and each changes one element the judge found weak (a
  neighbouring term in the direction the measurement missed, another medium or style, more
  stress, or that element's randomness drawn again); with img2img, each starts from the
  image it changes, at the set strength. With a rewriter, one candidate keeps its prompts.

Image prompts (IP-Adapter) are no round-to-round change: every round sends the liked
references, at the set scale, to a generator that takes them (`conditioning_for`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from agentpref.errors import BackendError, ParseError
from agentpref.generators.base import ImageConditioning
from agentpref.images.refs import ImageRef
from agentpref.loop.search import Measured, plan_variants
from agentpref.profile import ELEMENTS, Element
from agentpref.prompting import refine_prompt, terms_to_avoid
from agentpref.rewriters import CandidateFeedback, Rewriter, RewriteRequest
from agentpref.runs.record import Assessment, IterationRecord, RefineSettings, RunRecord

PARENTS = 2
"""Candidates term search changes: the best so far, then the second best when the best has
nothing left to change."""
MAX_AVOIDED = 8
"""Most terms feedback keeps in the negative prompt (the oldest give way)."""
MAX_IMAGE_PROMPTS = 4
"""Most liked references sent as image prompts: each adds tokens to every cross-attention, and
the image encoder runs on each in every call."""


def _ranked(record: RunRecord, iteration: int | None = None) -> list[Assessment]:
    """Assessments best first (of one round, or of the whole run); ties by candidate id."""
    chosen = [a for a in record.assessments if iteration is None or a.iteration == iteration]
    return sorted(chosen, key=lambda a: (-a.score / a.max_score, a.candidate_id))


def _feedback(record: RunRecord, assessment: Assessment) -> CandidateFeedback:
    candidate = record.candidate(assessment.candidate_id)
    return CandidateFeedback(
        prompt=candidate.prompt,
        score=assessment.score,
        max_score=assessment.max_score,
        element_scores=assessment.element_scores,
        rationale=assessment.rationale,
    )


def rewrite_request(record: RunRecord) -> RewriteRequest:
    """What a rewriter is told about the last round: best and worst candidates, best first/worst first."""
    assert record.profile is not None
    last = record.iterations[-1]
    ranked = _ranked(record, last.iteration)
    half = max(1, len(ranked) // 2)
    return RewriteRequest(
        subject=record.subject,
        profile=record.profile,
        prompt=last.prompt,
        negative_prompt=last.negative_prompt,
        best=[_feedback(record, a) for a in ranked[:half]],
        worst=[_feedback(record, a) for a in reversed(ranked[-half:])],
    )


def _emphasis_words(emphasis: dict[Element, int]) -> str:
    return ", ".join(f"{e.value} +{level}" for e in ELEMENTS if (level := emphasis.get(e, 0)))


def plan_next_round(
    record: RunRecord,
    settings: RefineSettings,
    rewriter: Rewriter | None = None,
    can: frozenset[str] = frozenset(),
    measured: Measured = lambda candidate, element: None,
) -> tuple[IterationRecord, list[str]]:
    """The next round, and warnings for the run (a rewriter that failed, a strategy the
    generator cannot do). `can` is what the generator takes besides a prompt ("img2img",
    "variation"); `measured(candidate, element)` is its picture's measured Detail or Saturation
    (None: unknown), which tells term search in which direction the element missed."""
    assert record.profile is not None
    last = record.iterations[-1]
    best = record.assessment(record.best) if record.best else None
    scores = best.element_scores if best else {e: 0.0 for e in ELEMENTS}
    worst = _ranked(record, last.iteration)[::-1][: max(1, record.n // 2)]
    avoid = terms_to_avoid([a.rationale for a in worst], [a.element_scores for a in worst], record.profile)
    avoided = list(dict.fromkeys([*last.negative_terms, *avoid]))[-MAX_AVOIDED:]
    prompt = refine_prompt(record.subject, record.profile, last.emphasis, scores, avoid=avoided)
    strategies = [
        f"feedback: stressed {_emphasis_words(prompt.emphasis) or 'nothing (no weak element)'}"
        + (f"; avoiding {', '.join(t.lower() for t in avoided)}" if avoided else "")
    ]
    positive, negative, warnings = prompt.positive, prompt.negative, []
    if rewriter is not None:
        try:
            rewrite = rewriter.rewrite(rewrite_request(record))
        except (
            BackendError,
            ParseError,
            ValidationError,
        ) as err:  # ValidationError: a subject no model can keep
            note = (
                f"rewriter {rewriter.name} failed ({str(err).splitlines()[0][:300]}); feedback rewriting used"
            )
            strategies.append(note)
            warnings.append(f"round {last.iteration + 1}: {note}")
        else:
            positive, negative = rewrite.positive, rewrite.negative
            strategies.append(f"rewriter {rewriter.name}: {rewrite.reason or 'rewrote the prompts'}")
    following = IterationRecord(
        iteration=last.iteration + 1,
        prompt=positive,
        negative_prompt=negative,
        emphasis=prompt.emphasis,
        negative_terms=avoided,
    )
    # With a rewriter, its prompts keep one candidate of the round (on a new seed).
    slots = record.n - (1 if rewriter is not None and positive != prompt.positive else 0)
    searched, notes = _search(record, settings, can, slots, avoided, measured)
    strategies += notes
    warnings += [f"round {following.iteration}: {n}" for n in notes if "cannot" in n]
    return following.model_copy(update={**searched, "strategies": strategies}), warnings


def _search(
    record: RunRecord,
    settings: RefineSettings,
    can: frozenset[str],
    slots: int,
    avoid: list[str],
    measured: Measured,
) -> tuple[dict[str, Any], list[str]]:
    """The first candidates of the next round as one-element changes of the two best so far
    (`agentpref.loop.search`); with img2img, each starts from the candidate it changes."""
    if not settings.exploit or slots < 1:
        return {}, []
    img2img = settings.img2img_strength is not None and "img2img" in can
    notes = []
    if settings.img2img_strength is not None and not img2img:
        notes.append(f"img2img: the generator {record.generator} cannot start from an image; prompts only")
    parents = [(record.candidate(a.candidate_id), a.element_scores) for a in _ranked(record)[:PARENTS]]
    planned = plan_variants(record, parents, slots, avoid, "variation" in can, measured)
    if not planned:
        return {}, [*notes, "term search: nothing left to change; new seeds instead"]
    variants = dict(enumerate(planned))
    seeds = {i: record.candidate(v.parent).seed for i, v in variants.items()}
    starts = {i: variant.parent for i, variant in variants.items()} if img2img else {}
    changes = "; ".join(f"{v.parent} with {v.change}" for v in variants.values())
    start_note = f", each starting from it at strength {settings.img2img_strength:g}" if starts else ""
    notes.append(
        f"term search: {len(planned)} candidate(s) change one element of the best{start_note}: {changes}"
    )
    return {"seeds": seeds, "variants": variants, "starts_from": starts}, notes


def conditioning_for(
    settings: RefineSettings,
    likes: Sequence[ImageRef],
    start: ImageRef | None,
    can: frozenset[str],
    variation: Mapping[Element, int] | None = None,
) -> ImageConditioning | None:
    """What a candidate is given besides its prompt, if anything: the image its img2img starts
    from, the first `MAX_IMAGE_PROMPTS` liked references as image prompts (when the generator
    `can` take them), and the draws of its elements' randomness term search changed."""
    image_prompts = settings.image_prompt_scale is not None and "image_prompts" in can and likes
    variation = {e: v for e, v in (variation or {}).items() if v} if "variation" in can else {}
    if start is None and not image_prompts and not variation:
        return None
    return ImageConditioning(
        variation=variation,
        init_image=start.image() if start is not None else None,
        strength=settings.img2img_strength or 0.5,
        image_prompts=tuple(r.image() for r in likes[:MAX_IMAGE_PROMPTS]) if image_prompts else (),
        image_prompt_scale=settings.image_prompt_scale or 0.0,
    )
