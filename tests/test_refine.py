"""The refine step's strategies in a whole run: a model rewriter that answers is used, one that
answers junk or fails falls back to feedback rewriting and says so; term search varies the
best on its seed; img2img and image prompts reach a generator that takes them, and are refused politely by
one that does not."""

from __future__ import annotations

import json
from typing import Any

import agentpref
from agentpref.generators.base import ImageConditioning
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.runs.record import RefineSettings
from agentpref.testing.fake_openai import serve_fake


def _chat(content: str) -> dict[str, Any]:
    return {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ]
    }


def _run(example_refs, tmp_path, refine: RefineSettings, **kwargs: Any) -> agentpref.PersonalizeResult:
    return agentpref.personalize(
        example_refs, "a harbour", n=2, iterations=2, target=5.0, size=(64, 64), out=tmp_path / "run",
        refine=refine, **kwargs,
    )  # fmt: skip


def test_a_rewriter_that_answers_writes_the_next_round_and_is_recorded_without_its_key(
    example_refs, tmp_path, monkeypatch
):
    answer = {"positive": "a harbour, teal watercolor wash", "negative": "neon", "reason": "cooler palette"}
    monkeypatch.setenv("REWRITER_KEY", "sk-secret-123")
    with serve_fake("ok", answer=_chat(json.dumps(answer))) as server:
        uri = server.uri("vllm", api_key_env="REWRITER_KEY")
        record = _run(example_refs, tmp_path, RefineSettings(rewriter=uri)).record
        sent = json.loads(server.requests[-1])
    second = record.iterations[1]
    assert (second.prompt, second.negative_prompt) == (answer["positive"], answer["negative"])
    assert any(s.startswith("rewriter vllm:") and s.endswith("cooler palette") for s in second.strategies)
    # Term search changes the best in the other slots; the last keeps the rewriter's prompts.
    assert second.variants.keys() == {0}
    assert record.candidate("it02-c01").prompt == answer["positive"]
    # The model was told the subject, the profile and how the round's candidates scored.
    shown = json.loads(sent["messages"][1]["content"])
    assert shown["subject"] == "a harbour" and shown["best"] and shown["worst"]
    assert not any(b"sk-secret-123" in f.read_bytes() for f in (tmp_path / "run").rglob("*") if f.is_file())


def test_a_rewriter_answering_junk_falls_back_to_feedback_and_says_so(example_refs, tmp_path):
    with serve_fake("ok", answer=_chat("Sure! Here is a better prompt: a harbour at dusk")) as server:
        record = _run(example_refs, tmp_path, RefineSettings(rewriter=server.uri("vllm"))).record
    second = record.iterations[1]
    assert second.strategies[0].startswith("feedback: ")
    assert any("failed" in s and "feedback rewriting used" in s for s in second.strategies)
    assert any("round 2: rewriter" in w for w in record.warnings)
    assert second.prompt.startswith("a harbour")  # feedback's prompt, not the junk
    assert record.finished


def test_a_rewriter_that_is_down_does_not_stop_the_run(example_refs, tmp_path):
    with serve_fake("refuse") as server:
        uri = server.uri("vllm", retries=0, timeout=5)
    record = _run(example_refs, tmp_path, RefineSettings(rewriter=uri)).record
    assert record.finished and any("feedback rewriting used" in w for w in record.warnings)


class ConditionedPainter(PainterGenerator):
    """The painter, saying it takes img2img and image prompts, and keeping what it was given."""

    conditioning = frozenset({"img2img", "image_prompts"})

    def __init__(self) -> None:
        super().__init__()
        self.given: list[tuple[int, ImageConditioning | None]] = []

    def generate(self, prompt: str, *args: Any, conditioning: ImageConditioning | None = None, **kwargs: Any):
        images = super().generate(prompt, *args, **kwargs)
        self.given += [(image.seed, conditioning) for image in images]
        return images


def test_img2img_starts_exploited_candidates_from_the_best_and_image_prompts_reach_every_call(
    example_refs, tmp_path
):
    painter = ConditionedPainter()
    refine = RefineSettings(img2img_strength=0.4, image_prompt_scale=0.7)
    record = _run(example_refs, tmp_path, refine, generator=painter).record
    first_best = record.candidate(record.iterations[0].best_candidate)
    second = record.iterations[1]
    # Term search's candidates each start from the candidate they change, on its seed.
    assert second.starts_from and second.starts_from.keys() == second.variants.keys()
    assert second.starts_from[0] == first_best.id and second.seeds[0] == first_best.seed
    for index, parent in second.starts_from.items():
        assert second.seeds[index] == record.candidate(parent).seed
    assert any("strength 0.4" in s for s in second.strategies)
    assert any("image prompts" in s for s in record.iterations[0].strategies)
    likes = len([r for r in record.references if r.liked])
    for _, conditioning in painter.given:
        assert conditioning is not None and len(conditioning.image_prompts) == min(likes, 4)
        assert conditioning.image_prompt_scale == 0.7
    started = [c for seed, c in painter.given if c is not None and c.init_image is not None]
    assert len(started) == len(second.starts_from) and all(c.strength == 0.4 for c in started)
    assert started[0].init_image.size == (64, 64)


def test_a_generator_without_img2img_or_image_prompts_is_told_apart_in_warnings(example_refs, tmp_path):
    record = _run(example_refs, tmp_path, RefineSettings(img2img_strength=0.4, image_prompt_scale=0.5)).record
    assert any("image prompts: the generator painter takes none" in w for w in record.warnings)
    assert any("cannot start from an image; prompts only" in w for w in record.warnings)
    assert not record.iterations[1].starts_from  # term search on seeds and prompts only


def test_without_exploitation_every_round_uses_its_own_seeds(example_refs, tmp_path):
    record = _run(example_refs, tmp_path, RefineSettings(exploit=False)).record
    assert [c.seed for c in record.candidates] == [1000, 1001, 2000, 2001]
    assert not any(s.startswith("term search") for s in record.iterations[1].strategies)
    assert not record.iterations[1].variants
