"""The `hf:` assessor with real transformers, on a tiny random Qwen2.5-VL built offline.

The model's answers are random text, so these tests check what is sent (layout, images,
chat template, pixel budget), how requests are batched, what is counted, and that an
unreadable answer still comes back as a failed judgment with its raw text. Reading good
answers is tested with a scripted judge in test_model_assessor.py. The `tiny_qwen`
fixture (conftest.py) builds the model once per cache (`agentpref.testing.tiny_qwen`).
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("torch")
pytest.importorskip("transformers")

from agentpref.assessors.tournament import RankingFailed
from agentpref.assessors.vlm import hf
from agentpref.assessors.vlm.hf import HFAssessor, MicroBatcher, split_model_uri
from agentpref.assessors.vlm.options import Completion, Sampling
from agentpref.backends import load_assessor
from agentpref.errors import BackendError, InputError
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.judgment import Judgment
from agentpref.preferthinker.prompts import SYSTEM_PROMPT
from agentpref.preferthinker.requests import Request
from agentpref.profile import NON_PREFERENCE_TAG, PREFERENCE_TAG
from agentpref.testing.tiny_qwen import build_tiny_qwen

VISION = "<|vision_start|><|image_pad|><|vision_end|>"


def _color(i: int) -> tuple[int, int, int]:
    return (i * 19 % 256, (90 + i * 37) % 256, (200 - i * 11) % 256)


def _image(i: int, size: tuple[int, int] = (64, 64)) -> ImageRef:
    buffer = io.BytesIO()
    Image.new("RGB", size, _color(i)).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=f"img{i}.png")


@pytest.fixture
def refs() -> References:
    return References(
        likes=[_image(i) for i in range(1, 6)], dislikes=[_image(i) for i in range(6, 11)], skipped=[]
    )


class Recorder:
    """Wraps the processor's `apply_chat_template` and the assessor's images, keeping what went in."""

    def __init__(self, assessor: HFAssessor, monkeypatch: pytest.MonkeyPatch) -> None:
        _, processor = assessor.load()
        self.messages: list[list[dict]] = []
        self.prompts: list[str] = []
        self.images: list[list[Image.Image]] = []
        render, pictures = processor.apply_chat_template, assessor.chat_messages

        def apply_chat_template(messages, **kwargs):
            assert kwargs.get("add_vision_id") is True and kwargs.get("add_generation_prompt") is True
            self.messages.append(messages)
            self.prompts.append(render(messages, **kwargs))
            return self.prompts[-1]

        def chat_messages(request):
            messages, images = pictures(request)
            self.images.append(images)
            return messages, images

        monkeypatch.setattr(processor, "apply_chat_template", apply_chat_template)
        monkeypatch.setattr(assessor, "chat_messages", chat_messages)


@pytest.mark.slow
def test_compare_sends_preferthinker_layout_within_the_pixel_budget(tiny_qwen, refs, monkeypatch):
    judge = HFAssessor(str(tiny_qwen), max_tokens=16, parse_retries=0, max_pixels=48 * 48)
    recorder = Recorder(judge, monkeypatch)
    big_a, big_b = _image(20, (300, 200)), _image(21, (120, 260))
    judge.compare(refs, big_a, big_b)

    [messages] = recorder.messages
    system, user = messages
    assert system["role"] == "system" and system["content"] == [{"type": "text", "text": SYSTEM_PROMPT}]
    kinds = ["image" if part["type"] == "image" else part["text"] for part in user["content"]]
    texts = [part["text"] for part in user["content"] if part["type"] == "text"]
    assert kinds[1:6] == ["image"] * 5 and kinds[7:12] == ["image"] * 5
    assert kinds[13:] == ["Image A", "image", "Image B", "image", texts[-1]]
    assert f"<{PREFERENCE_TAG}>" in kinds[0] and f"<{NON_PREFERENCE_TAG}>" in kinds[6]
    assert all(tag in texts[-1] for tag in ("<think>", "<answer>Image A</answer>", f"<{PREFERENCE_TAG}>"))

    [images] = recorder.images  # liked 1-5, disliked 1-5, A, B, each within max_pixels
    assert [im.getpixel((0, 0)) for im in images] == [_color(i) for i in [*range(1, 11), 20, 21]]
    assert all(im.width * im.height <= 48 * 48 for im in images)
    assert images[-2].size[0] > images[-2].size[1] and images[-1].size[0] < images[-1].size[1]  # aspect kept

    [prompt] = recorder.prompts
    assert prompt.startswith("<|im_start|>system\n" + SYSTEM_PROMPT + "<|im_end|>\n<|im_start|>user\n")
    assert prompt.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert prompt.count(VISION) == 12
    assert [f"Picture {n}: {VISION}" in prompt for n in range(1, 13)] == [True] * 12
    assert "Picture 13:" not in prompt
    user_turn = prompt.split("<|im_start|>user\n", 1)[1]
    assert f"Image APicture 11: {VISION}Image BPicture 12: {VISION}" in user_turn


@pytest.mark.slow
def test_concurrent_requests_share_one_generate_call_with_the_same_greedy_text(tiny_qwen, refs):
    pairs = [
        (_image(20), _image(21, (90, 60))),
        (_image(22, (120, 80)), _image(23)),
        (_image(24), _image(25, (40, 100))),
    ]  # different sizes, so the batch's prompts differ in length and are padded
    batched = HFAssessor(str(tiny_qwen), max_tokens=24, parse_retries=0)

    async def together() -> list[Judgment]:
        return await asyncio.gather(*(batched.acompare(refs, a, b) for a, b in pairs))

    judgments = asyncio.run(together())
    assert batched.batch_sizes == [3]

    alone = HFAssessor(str(tiny_qwen), max_tokens=24, parse_retries=0, batch_size=1)
    singles = [alone.compare(refs, a, b) for a, b in pairs]
    assert alone.batch_sizes == [1, 1, 1]
    assert [j.raw_text for j in judgments] == [j.raw_text for j in singles]
    assert all(j.raw_text.strip() for j in judgments)
    for j, s in zip(judgments, singles, strict=True):
        assert j.usage.prompt_tokens == s.usage.prompt_tokens > 12 * 4  # at least 4 tokens per image
        assert 0 < j.usage.completion_tokens == s.usage.completion_tokens <= 24
    assert len({j.usage.prompt_tokens for j in judgments}) > 1


@pytest.mark.slow
def test_end_to_end_compare_and_rank_through_the_uri(tiny_qwen, refs):
    judge = load_assessor(f"hf:{tiny_qwen}?max_tokens=16&batch_size=2", parse_retries=1)
    assert judge.name == f"hf:{tiny_qwen}" and judge.batch_size == 2 and judge.options.max_tokens == 16
    a, b = _image(30), _image(31)
    judgment = judge.compare(refs, a, b)
    assert isinstance(judgment, Judgment) and (judgment.a, judgment.b) == (a.label, b.label)
    assert judgment.raw_text  # random weights rarely write the layout: kept for inspection
    if judgment.failed:
        assert judgment.usage.requests == 2 and "2 attempt(s)" in judgment.error
    assert judgment.usage.completion_tokens <= 16 * judgment.usage.requests

    candidates = [_image(40), _image(41), _image(42)]
    try:
        ranking = judge.rank(refs, candidates)
    except RankingFailed as err:  # random weights may write no readable comparison at all
        judgments = err.judgments
    else:
        assert sorted(c.label for c in ranking.candidates) == sorted(c.label for c in candidates)
        judgments = ranking.judgments
    assert judgments and sum(judge.batch_sizes) >= len(judgments) + 1


def test_the_batcher_groups_by_sampling_and_isolates_a_failing_request():
    calls: list[tuple[int, float]] = []

    def run(requests: list[Request], sampling: Sampling) -> list[Completion]:
        calls.append((len(requests), sampling.temperature))
        if any(r.system == "bad" for r in requests):
            raise BackendError("hf:x: generation failed")
        return [Completion(r.system) for r in requests]

    greedy, hot = Sampling(16, 0.0, 1.15, None, None), Sampling(16, 0.7, 1.15, None, 1)

    async def go() -> list[Completion | BaseException]:
        batcher = MicroBatcher(run, size=4)
        asks = [("a", greedy), ("b", hot), ("bad", greedy), ("c", greedy)]
        return await asyncio.gather(*(batcher.submit(Request(s), g) for s, g in asks), return_exceptions=True)

    results = asyncio.run(go())
    assert [r.text if isinstance(r, Completion) else type(r).__name__ for r in results] == [
        "a",
        "b",
        "BackendError",
        "c",
    ]
    # one generate for the three greedy requests; it failed, so each ran alone; then the sampled one
    assert calls == [(3, 0.0), (1, 0.0), (1, 0.0), (1, 0.0), (1, 0.7)]


def test_a_missing_or_foreign_model_path_gives_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(BackendError, match="no such model folder") as err:
        load_assessor(f"hf:{missing}")
    assert str(missing) in str(err.value)
    with pytest.raises(BackendError, match=r"no config\.json"):
        HFAssessor(str(tmp_path))
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(BackendError, match="is a file"):
        HFAssessor(str(tmp_path / "weights.bin"))
    with pytest.raises(InputError, match="needs a model id"):
        load_assessor("hf:")


@pytest.mark.slow
def test_a_text_only_model_folder_is_refused_on_first_use(tmp_path, tiny_qwen):
    folder = tmp_path / "text-only"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1}))
    judge = HFAssessor(str(folder))
    with pytest.raises(BackendError) as err:
        judge.load()
    assert str(folder) in str(err.value)


def test_structured_outputs_point_to_vllm_and_missing_libraries_to_the_extra(tiny_qwen, monkeypatch):
    with pytest.raises(BackendError, match="vllm://"):
        HFAssessor(str(tiny_qwen), structured="regex")
    real = hf.importlib.util.find_spec
    monkeypatch.setattr(hf.importlib.util, "find_spec", lambda n: None if n == "transformers" else real(n))
    with pytest.raises(InputError, match=r"pip install 'agentpref\[hf\]'"):
        HFAssessor(str(tiny_qwen))


def test_uri_options_and_device_defaults(tiny_qwen):
    assert split_model_uri("org/model?device=cpu") == ("org/model", {"device": "cpu"})
    judge = HFAssessor(f"{tiny_qwen}?device=cpu&dtype=bf16&max_pixels=50176&swap=1")
    assert (judge.device, judge.dtype, judge.options.max_pixels, judge.options.swap) == (
        "cpu",
        "bf16",
        50176,
        True,
    )
    assert not judge.loaded  # nothing heavy happens until the first request
    with pytest.raises(InputError, match="dtype"):
        HFAssessor(str(tiny_qwen), dtype="int3")
    # Settings from a URI are named with their value, never a pydantic traceback.
    with pytest.raises(InputError, match="batch_size='many'"):
        HFAssessor(f"{tiny_qwen}?batch_size=many")
    with pytest.raises(InputError, match="max_tokens"):
        HFAssessor(f"{tiny_qwen}?max_tokens=lots")
    with pytest.raises(InputError, match="unknown setting 'bogus'"):
        HFAssessor(str(tiny_qwen), bogus=1)
    import torch

    assert hf.pick_dtype(torch, "cpu") is torch.float32 and hf.pick_dtype(torch, "mps") is torch.float16


def test_an_interrupted_fixture_build_leaves_nothing_behind(tmp_path, monkeypatch):
    from agentpref.testing import tiny_qwen

    def killed(folder: Path) -> None:
        (folder / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(tiny_qwen, "_write", killed)
    with pytest.raises(KeyboardInterrupt):
        build_tiny_qwen(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_tiny_model_is_deterministic_and_tokenizes_our_prompts_realistically(tmp_path, tiny_qwen):
    from transformers import AutoProcessor

    again = build_tiny_qwen(tmp_path / "again")
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert (again / name).read_bytes() == (tiny_qwen / name).read_bytes(), name
    assert build_tiny_qwen(again) == again  # an existing folder is returned as is

    tokenizer = AutoProcessor.from_pretrained(again).tokenizer
    chars_per_token = len(SYSTEM_PROMPT) / len(tokenizer(SYSTEM_PROMPT)["input_ids"])
    assert 3.0 <= chars_per_token <= 4.5
    assert tokenizer.decode(tokenizer(SYSTEM_PROMPT)["input_ids"]) == SYSTEM_PROMPT
