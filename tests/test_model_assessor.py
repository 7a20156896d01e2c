"""The logic every model-backed assessor shares (modes, retries, swap, tournament, caching).

The model here is a scripted judge that answers in PreferThinker's layout from a hidden
quality per image: a test double for a trained model, whose answers a random tiny model
cannot give. The real transports run against the real vLLM server in test_vllm_server.py
and in-process transformers in test_hf_assessor.py.
"""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image

from agentpref.assessors.position_bias import combine_swapped
from agentpref.assessors.vlm.base import RankInterrupted, ReasoningAssessor
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling
from agentpref.errors import BackendError, ParseError
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.judgment import DimensionScore, Judgment
from agentpref.preferthinker.json_schema import JSON_INSTRUCTION, judgment_to_json
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.parse import parse_judgment
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.preferthinker.requests import ImagePart, Request
from agentpref.profile import ELEMENTS


def _image(i: int) -> ImageRef:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (i * 20 % 256, 90, 200 - i * 7 % 200)).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=f"img{i}.png")


class ScriptedJudge(ReasoningAssessor):
    """Answers like a trained PreferThinker whose taste is `quality[sha256]` (0-5 per element)."""

    name = "scripted"

    def __init__(self, quality: dict[str, int], *, garbage: int = 0, bias_a: int = 0, **options):
        super().__init__(ModelOptions(**options))
        self.quality = quality
        self.garbage = garbage  # answer nonsense this many times first
        self.bias_a = bias_a  # extra points for whatever is shown as Image A
        self.requests: list[Request] = []
        self.samplings: list[Sampling] = []
        self.in_flight = self.most_in_flight = 0
        self.fail_after: int | None = None

    async def _complete(self, request: Request, sampling: Sampling) -> Completion:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            if self.fail_after is not None and len(self.requests) >= self.fail_after:
                raise BackendError("http://judge/v1/chat/completions failed after 4 attempt(s): ConnectError")
            self.requests.append(request)
            self.samplings.append(sampling)
            if self.garbage:
                self.garbage -= 1
                return Completion("I think both are nice.", prompt_tokens=100, completion_tokens=5)
            roles = {p.role: p.ref for p in request.parts if isinstance(p, ImagePart)}
            if "A" not in roles:  # a profile request
                return Completion(
                    WORKED_EXAMPLES[0].profile.to_tag_text(), prompt_tokens=50, completion_tokens=9
                )
            qa = min(self.quality[roles["A"].sha256] + self.bias_a, 5)
            qb = self.quality[roles["B"].sha256]
            scores = [
                DimensionScore(element=e, score_a=qa, score_b=qb, rationale_a="a", rationale_b="b")
                for e in ELEMENTS
            ]
            winner = "A" if qa >= qb else "B"
            text = format_judgment(
                Judgment(
                    scores=scores,
                    total_a=5 * qa,
                    total_b=5 * qb,
                    winner=winner,
                    profile=WORKED_EXAMPLES[0].profile,
                )
            )
            if sampling.json_schema is not None:  # a server enforcing the schema
                judgment = parse_judgment(text)
                text = json.dumps(judgment_to_json(judgment))
            return Completion(text, prompt_tokens=len(roles) * 100, completion_tokens=40)
        finally:
            self.in_flight -= 1


@pytest.fixture
def refs() -> References:
    return References(
        likes=[_image(i) for i in range(1, 6)], dislikes=[_image(i) for i in range(6, 11)], skipped=[]
    )


def _candidates(n: int) -> list[ImageRef]:
    return [_image(20 + i) for i in range(n)]


def test_joint_compare_sends_the_trained_layout_and_reads_the_answer(refs):
    a, b = _candidates(2)
    judge = ScriptedJudge({a.sha256: 2, b.sha256: 4})
    judgment = judge.compare(refs, a, b)
    assert judgment.winner == "B" and (judgment.total_a, judgment.total_b) == (10, 20)
    assert judgment.a == a.label and judgment.usage.requests == 1 and judgment.usage.prompt_tokens == 1200
    [request] = judge.requests
    roles = request.roles
    assert roles == [*(f"liked {i}" for i in range(1, 6)), *(f"disliked {i}" for i in range(1, 6)), "A", "B"]
    assert judge.samplings[0].temperature == 0 and judge.samplings[0].repetition_penalty == 1.15
    assert judge.samplings[0].regex is None  # structured outputs off unless asked


def test_a_malformed_answer_is_asked_again_with_sampling_then_becomes_a_failed_judgment(refs):
    a, b = _candidates(2)
    judge = ScriptedJudge({a.sha256: 2, b.sha256: 4}, garbage=1, parse_retries=1)
    assert judge.compare(refs, a, b).winner == "B"
    assert [s.temperature for s in judge.samplings] == [0, 0.7]  # greedy would repeat the garbage

    stubborn = ScriptedJudge({a.sha256: 2, b.sha256: 4}, garbage=5, parse_retries=2)
    failed = stubborn.compare(refs, a, b)
    assert failed.failed and failed.raw_text == "I think both are nice." and "3 attempt(s)" in failed.error
    assert failed.usage.requests == 3 and len(stubborn.requests) == 3


def test_cached_profile_mode_predicts_once_and_sends_only_the_candidates(refs):
    cands = _candidates(4)
    judge = ScriptedJudge({c.sha256: i for i, c in enumerate(cands)}, mode="cached-profile")
    judge.compare(refs, cands[0], cands[1])
    judge.compare(refs, cands[2], cands[3])
    profile_requests = [r for r in judge.requests if "A" not in r.roles]
    assert len(profile_requests) == 1 and len(profile_requests[0].images) == 10
    compares = [r for r in judge.requests if "A" in r.roles]
    assert [r.roles for r in compares] == [["A", "B"], ["A", "B"]]
    assert "<visual preference profile>" in compares[0].parts[0].text


def test_profile_parse_failure_raises_with_the_raw_text(refs):
    judge = ScriptedJudge({}, garbage=9, parse_retries=0)
    with pytest.raises(ParseError) as err:
        judge.profile(refs.likes, refs.dislikes)
    assert err.value.raw_text == "I think both are nice."


def test_cached_profile_falls_back_to_joint_when_the_profile_is_unreadable(refs):
    a, b = _candidates(2)
    judge = ScriptedJudge({a.sha256: 1, b.sha256: 3}, garbage=1, parse_retries=0, mode="cached-profile")
    assert judge.compare(refs, a, b).winner == "B"
    assert len(judge.requests[-1].images) == 12  # references and candidates, the trained layout


def test_swapped_pass_reports_agreement_and_position_bias(refs):
    a, b = _candidates(2)
    fair = ScriptedJudge({a.sha256: 2, b.sha256: 4}, swap=True)
    j = fair.compare(refs, a, b)
    assert j.swap_agreement is True and j.winner == "B" and j.usage.requests == 2
    assert [r.roles[-2:] for r in fair.requests] == [["A", "B"], ["A", "B"]]
    assert {r.images[-2].sha256 for r in fair.requests} == {a.sha256, b.sha256}

    biased = ScriptedJudge({a.sha256: 3, b.sha256: 3}, bias_a=2, swap=True)
    j = biased.compare(refs, a, b)
    assert j.swap_agreement is False and any("position bias" in i for i in j.issues)
    assert j.total_a == j.total_b == 20  # (25 + 15) / 2 each: the bias cancels out


def test_combine_swapped_keeps_the_readable_pass():
    ok = WORKED_EXAMPLES[0].model_copy()  # winner B
    failed = Judgment.failure("unreadable", "garbage")
    kept = combine_swapped(failed, ok)  # the readable pass had A and B exchanged
    assert kept.winner == "A" and kept.total_a == ok.total_b and kept.issues[-1].startswith("one of the two")


def test_rank_is_a_swiss_tournament_with_fewer_comparisons_that_finds_the_best(refs):
    cands = _candidates(8)
    quality = {c.sha256: q for c, q in zip(cands, [1, 4, 0, 2, 5, 3, 1, 2], strict=True)}
    judge = ScriptedJudge(quality, concurrency=3)
    ranking = judge.rank(refs, cands)
    assert len(judge.requests) == 12  # 3 rounds x 4 games, against 28 for all pairs
    assert ranking.best.label == cands[4].label and ranking.best.wins == 3
    assert ranking.candidates[-1].label == cands[2].label
    assert len(ranking.judgments) == 12 and ranking.max_score == 25
    assert judge.most_in_flight == 3  # each round's games run concurrently, within the bound

    everyone = ScriptedJudge(quality, ranking="all-pairs")
    full = everyone.rank(refs, cands)
    assert len(everyone.requests) == 28 and full.best.label == cands[4].label


def test_comparisons_are_cached_so_a_repeated_rank_asks_nothing(refs):
    cands = _candidates(4)
    judge = ScriptedJudge({c.sha256: i for i, c in enumerate(cands)})
    judge.rank(refs, cands)
    asked = len(judge.requests)
    judge.rank(refs, cands)
    judge.compare(refs, cands[0], cands[2])  # met in round 1, same order
    assert len(judge.requests) == asked


def test_a_backend_failure_mid_rank_keeps_the_finished_comparisons(refs):
    cands = _candidates(8)
    judge = ScriptedJudge({c.sha256: i % 5 for i, c in enumerate(cands)}, concurrency=1)
    judge.fail_after = 5
    with pytest.raises(RankInterrupted) as err:
        judge.rank(refs, cands)
    assert len(err.value.judgments) == 5 and "5 comparison(s) finished and kept" in str(err.value)
    judge.fail_after = None
    judge.rank(refs, cands)
    assert len(judge.requests) == 12  # the 5 finished comparisons were not asked again


def test_a_custom_system_prompt_reaches_every_compare_request(refs, tmp_path):
    (tmp_path / "prompt.txt").write_text("You judge pictures for one person.")
    a, b = _candidates(2)
    for mode in ("joint", "cached-profile"):
        judge = ScriptedJudge(
            {a.sha256: 1, b.sha256: 2}, mode=mode, system_prompt=f"@{tmp_path / 'prompt.txt'}"
        )
        judge.compare(refs, a, b)
        assert judge.requests[-1].system == "You judge pictures for one person."
    with pytest.raises(ValueError, match="cannot read the system prompt file"):
        ModelOptions(system_prompt="@/nonexistent/prompt.txt")


def test_options_are_validated_with_the_field_named():
    with pytest.raises(ValueError, match="mode"):
        ModelOptions(mode="fast")
    with pytest.raises(ValueError, match="concurrency"):
        ModelOptions(concurrency=0)


def test_json_structured_outputs_ask_for_the_schema_and_keep_the_model_json_as_raw_text(refs):
    a, b = _candidates(2)
    judge = ScriptedJudge({a.sha256: 1, b.sha256: 4}, structured="json", max_rationale=50)
    judgment = judge.compare(refs, a, b)
    assert judgment.winner == "B" and (judgment.total_a, judgment.total_b) == (5, 20)
    assert json.loads(judgment.raw_text)["answer"] == "Image B"
    schema = judge.samplings[0].json_schema
    assert (
        schema["properties"]["answer"]["enum"] == ["Image A", "Image B"] and judge.samplings[0].regex is None
    )
    assert (
        schema["properties"]["scores"]["properties"]["Color"]["properties"]["rationale_a"]["maxLength"] == 50
    )
    assert judge.requests[0].parts[-1].text == JSON_INSTRUCTION

    broken = ScriptedJudge({}, garbage=3, structured="json", parse_retries=1)
    failed = broken.compare(refs, a, b)
    assert failed.failed and "not valid JSON" not in failed.raw_text and "no JSON object" in failed.error


def test_the_random_baseline_is_a_reproducible_fair_coin(refs):
    from agentpref.backends import load_assessor

    judge = load_assessor("random:?seed=7")
    pairs = [(_image(30 + i), _image(60 + i)) for i in range(200)]
    winners = [judge.compare(refs, a, b).winner for a, b in pairs]
    assert winners == [load_assessor("random:?seed=7").compare(refs, a, b).winner for a, b in pairs]
    assert 70 <= winners.count("A") <= 130  # a fair coin: 100 +- 4 sigma
    swapped = [judge.compare(refs, b, a).winner for a, b in pairs]
    agree = sum((w == "A") == (s == "B") for w, s in zip(winners, swapped, strict=True))
    assert 70 <= agree <= 130  # no taste, so no consistency beyond chance
    ranking = judge.rank(refs, _candidates(5))
    assert sorted(c.label for c in ranking.candidates) == sorted(c.label for c in _candidates(5))
