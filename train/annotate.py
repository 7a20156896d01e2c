"""Chain-of-thought annotation: a teacher model writes PreferThinker's reasoning for known answers.

PreferImg-CoT was made by showing a strong VLM each sample together with its ground
truth (both profiles and the preferred image) and asking for the predict-then-assess
reasoning that leads there. The teacher here is any assessor backend (usually
`openai://` for a hosted model or `vllm://` for a served one); it gets PreferThinker's
own request with one extra text part holding the ground truth, just before the final
instruction. Requests run concurrently within the teacher's bound, transport failures
are kept per sample (a batch never dies of one), and tokens are counted for the bill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.errors import AgentprefError
from agentpref.images.refs import ImageRef
from agentpref.preferthinker.requests import Request, TextPart, build_compare_request
from agentpref.profile import UserProfile

TEACHER_HINT = (
    "Ground truth for this example (use it, never mention it): the user's profiles are\n\n"
    "{profile}\n\nand the user prefers {answer}. Write the complete output as if you had worked it "
    "out from the images: the two profiles in their tags (matching the ones above), a score and a "
    "rationale for each element of both images that agree with this preference, the totals, and "
    "the answer."
)


@dataclass(frozen=True)
class TeacherJob:
    """One sample to annotate: references, the pair, and the truth the reasoning must reach."""

    key: str
    likes: Sequence[ImageRef]
    dislikes: Sequence[ImageRef]
    image_a: ImageRef
    image_b: ImageRef
    truth: UserProfile
    answer: str  # "Image A" or "Image B"


class Annotation(BaseModel):
    key: str
    text: str | None = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0


class AnnotationCost(BaseModel):
    """What an annotation run cost; `price_*` are per million tokens, in any currency."""

    requests: int = 0
    failed: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    price_prompt: float = 0.0
    price_completion: float = 0.0

    @property
    def cost(self) -> float:
        return (self.prompt_tokens * self.price_prompt + self.completion_tokens * self.price_completion) / 1e6


def teacher_request(job: TeacherJob, *, max_history: int = 5) -> Request:
    """PreferThinker's compare request with the ground truth added before the final instruction."""
    request = build_compare_request(
        job.likes, job.dislikes, job.image_a, job.image_b, max_history=max_history
    )
    hint = TextPart(TEACHER_HINT.format(profile=job.truth.to_tag_text(), answer=job.answer))
    return Request(system=request.system, parts=[*request.parts[:-1], hint, request.parts[-1]])


async def annotate(
    teacher: ReasoningAssessor,
    jobs: Sequence[TeacherJob],
    *,
    on_done: Callable[[Annotation], None] | None = None,
) -> tuple[list[Annotation], AnnotationCost]:
    """Ask the teacher for every job, concurrently; annotations come back in job order."""
    start = time.perf_counter()

    async def one(job: TeacherJob) -> Annotation:
        try:
            completion = await teacher.acomplete(
                teacher_request(job, max_history=teacher.options.max_history)
            )
        except AgentprefError as err:  # a dead or refusing server: keep going, record why
            result = Annotation(key=job.key, error=str(err))
        else:
            result = Annotation(
                key=job.key,
                text=completion.text,
                prompt_tokens=completion.prompt_tokens or 0,
                completion_tokens=completion.completion_tokens or 0,
                latency_s=completion.latency_s,
            )
        if on_done is not None:
            on_done(result)
        return result

    async with teacher.session():  # one connection pool and one bound for the whole run
        results = list(await asyncio.gather(*(one(job) for job in jobs)))
    cost = AnnotationCost(
        requests=len(results),
        failed=sum(r.error is not None for r in results),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        seconds=time.perf_counter() - start,
    )
    return results, cost
