"""Teacher annotation and the quality filter (train/annotate.py, train/quality.py).

The teacher here is a scripted assessor backend (a trained teacher cannot run here);
the real path, the tiny model behind the vLLM CPU server with structured outputs,
runs in the end-to-end training test.
"""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from agentpref.agreement import term_overlap
from agentpref.assessors.vlm.base import ReasoningAssessor
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling
from agentpref.errors import BackendError
from agentpref.images.refs import ImageRef
from agentpref.judgment import Judgment
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.preferthinker.requests import ImagePart, Request, TextPart
from agentpref.profile import Profile, UserProfile
from agentpref.train.annotate import TEACHER_HINT, TeacherJob, annotate, teacher_request
from agentpref.train.quality import filter_annotations, why_dropped

GOOD = WORKED_EXAMPLES[0]  # answer Image B, totals 11 vs 22
TRUTH = GOOD.profile


def _image(i: int) -> ImageRef:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (i * 30 % 256, 60, 90)).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=f"i{i}.png")


def _job(key: str, answer: str = "Image B") -> TeacherJob:
    return TeacherJob(key, [_image(1), _image(2)], [_image(3)], _image(4), _image(5), TRUTH, answer)


class ScriptedTeacher(ReasoningAssessor):
    """Writes the worked example's reasoning; fails for requests about a chosen image."""

    def __init__(self, fail_label: str | None = None, **options):
        super().__init__(ModelOptions(**options))
        self.fail_label = fail_label
        self.requests: list[Request] = []
        self.in_flight = self.most = 0

    async def _complete(self, request: Request, sampling: Sampling) -> Completion:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            self.requests.append(request)
            labels = [p.ref.label for p in request.parts if isinstance(p, ImagePart)]
            if self.fail_label in labels:
                raise BackendError("http://teacher/v1/chat/completions failed after 4 attempt(s): HTTP 503")
            return Completion(format_judgment(GOOD), prompt_tokens=1000, completion_tokens=300)
        finally:
            self.in_flight -= 1


def test_the_teacher_sees_the_truth_just_before_the_final_instruction():
    request = teacher_request(_job("k"))
    hint, instruction = request.parts[-2], request.parts[-1]
    assert isinstance(hint, TextPart) and "<visual preference profile>" in hint.text
    assert "the user prefers Image B" in hint.text and hint.text.startswith(TEACHER_HINT.split("{")[0])
    assert isinstance(instruction, TextPart) and "<answer>" in instruction.text
    assert request.roles == ["liked 1", "liked 2", "disliked 1", "A", "B"]


def test_annotation_runs_concurrently_keeps_failures_and_counts_tokens():
    teacher = ScriptedTeacher(fail_label=None, concurrency=2)
    jobs = [_job(f"k{i}") for i in range(5)]
    broken = TeacherJob("bad", [_image(9)], [], _image(4), _image(5), TRUTH, "Image B")
    teacher.fail_label = "i9.png"
    done = []
    annotations, cost = asyncio.run(annotate(teacher, [*jobs, broken], on_done=done.append))
    assert [a.key for a in annotations] == ["k0", "k1", "k2", "k3", "k4", "bad"]
    assert annotations[-1].text is None and "HTTP 503" in annotations[-1].error
    assert all(a.text == format_judgment(GOOD) for a in annotations[:5])
    assert (
        cost.requests == 6
        and cost.failed == 1
        and cost.prompt_tokens == 5000
        and cost.completion_tokens == 1500
    )
    assert teacher.most == 2 and len(done) == 6
    priced = cost.model_copy(update={"price_prompt": 2.5, "price_completion": 10.0})
    assert priced.cost == (5000 * 2.5 + 1500 * 10) / 1e6


def _with(**update) -> str:
    return format_judgment(GOOD.model_copy(update=update))


def test_each_reason_to_drop_is_found_and_counted():
    good = format_judgment(GOOD)
    far = UserProfile(likes=Profile(color=["Charcoal Gray"]), dislikes=Profile(color=["Pink"]))
    cases = [
        (good, "Image B", TRUTH),  # kept
        (None, "Image B", TRUTH),  # no_text
        ("I like B. <answer>Image B</answer>", "Image B", TRUTH),  # format
        (good, "Image A", TRUTH),  # wrong_answer
        (_with(total_a=19.0), "Image B", TRUTH),  # 2+1+2+3+3 stated as 19: inconsistent_totals
        (good, "image b", far),  # profile_far
    ]
    decisions, report = filter_annotations(cases)
    assert decisions == [True, False, False, False, False, False]
    assert report.kept == 1 and report.total == 6
    assert report.dropped == {
        "no_text": 1,
        "format": 1,
        "wrong_answer": 1,
        "inconsistent_totals": 1,
        "profile_far": 1,
    }


def test_profile_agreement_normalises_terms_through_the_vocabulary():
    assert term_overlap(TRUTH, TRUTH) == 1.0
    near = TRUTH.model_copy(update={"likes": TRUTH.likes.model_copy(update={"color": ["pink tones"]})})
    assert term_overlap(near, TRUTH) == 1.0
    half = UserProfile(likes=TRUTH.likes, dislikes=Profile())
    assert term_overlap(half, TRUTH) == 0.5
    assert why_dropped(format_judgment(Judgment.model_validate(GOOD.model_dump())), "B", TRUTH) is None
