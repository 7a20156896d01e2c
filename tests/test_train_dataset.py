"""train/ dataset: simulated users, the resumable build, PreferThinker JSONL, TRL export."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from agentpref.errors import InputError
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.io import JsonlError
from agentpref.preferthinker.jsonl import compare_files, read_preferthinker, write_preferthinker
from agentpref.preferthinker.parse import parse_judgment
from agentpref.profile import ELEMENTS, Profile
from agentpref.samples import load_samples
from agentpref.train.dataset_build import build_dataset
from agentpref.train.export import export_grpo, export_sft, grpo_row, sft_row, to_hf_dataset
from agentpref.train.users import (
    ID_PROMPTS,
    OD_PROMPTS,
    SimulatedUser,
    prompt_split,
    sample_users,
)

SIZE = (64, 64)
N_USERS = 4
# 5 liked + 5 disliked references and 2 pairs of 2 images per user.
IMAGES_PER_USER = 2 * 5 + 2 * 2


class CountingGenerator:
    """The painter, counting every finished render; optionally fails on render number `fail_at`."""

    name = "painter"

    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.inner = PainterGenerator()
        self.calls: list[tuple[str, int | None]] = []
        self.fail_at, self.delay = fail_at, delay

    def generate(self, prompt: str, negative_prompt: str | None = None, **kw: Any) -> list[Any]:
        if self.fail_at is not None and len(self.calls) + 1 == self.fail_at:
            raise RuntimeError("generator died")
        time.sleep(self.delay)
        out = self.inner.generate(prompt, negative_prompt, **kw)
        self.calls.append((prompt, kw.get("seed")))
        return out


def _users() -> list[SimulatedUser]:
    return sample_users(N_USERS, seed=7, mp_fraction=0.5, unseen_fraction=0.25)


def _build(out: Path, gen: Any, **kw: Any) -> Any:
    return build_dataset(out, _users(), gen, size=SIZE, seed=3, shard_size=4, commit_every=4, **kw)


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a build except transient ones (the pending folder is empty when done)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "pending" not in p.parts
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CountingGenerator, Any]:
    """An uninterrupted 4-user build with the painter at 64 px."""
    root = tmp_path_factory.mktemp("reference")
    gen = CountingGenerator()
    manifest = _build(root, gen)
    return root, gen, manifest


# -- users ----------------------------------------------------------------------------------


def test_users_are_reproducible_and_keep_liked_and_disliked_terms_apart() -> None:
    users = sample_users(40, seed=11, mp_fraction=0.25, unseen_fraction=0.1)
    assert users == sample_users(40, seed=11, mp_fraction=0.25, unseen_fraction=0.1)
    assert users != sample_users(40, seed=12, mp_fraction=0.25, unseen_fraction=0.1)
    assert sum(u.kind == "MP" for u in users) == 10 and sum(not u.seen for u in users) == 4
    assert len({u.user_id for u in users}) == 40
    for u in users:
        multi = [e for e in ELEMENTS if len(u.likes.terms(e)) > 1]
        for e in ELEMENTS:
            assert u.likes.terms(e) and u.dislikes.terms(e)
            assert not set(u.likes.terms(e)) & set(u.dislikes.terms(e))
            assert len(u.likes.terms(e)) <= 3
        assert (len(multi) >= 2) if u.kind == "MP" else (multi == [])
    # A saved user list loads back as the same users.
    assert [SimulatedUser.model_validate_json(u.model_dump_json()) for u in users] == users


def test_a_user_liking_and_disliking_one_term_is_rejected() -> None:
    with pytest.raises(ValueError, match="liked and disliked"):
        SimulatedUser(
            user_id="x",
            kind="SP",
            likes=Profile(art_styles=["Pixel Art"], color=["Teal"], artistic_medium=["Gouache"],
                          saturation=["Muted"], detail=["Fine"]),
            dislikes=Profile(art_styles=["Romanticism"], color=["Teal"], artistic_medium=["Woodcut"],
                             saturation=["Neon"], detail=["Minimal"]),
        )  # fmt: skip


def test_prompt_domains_are_disjoint_subject_lists() -> None:
    assert prompt_split("ID") == ID_PROMPTS and prompt_split("OD") == OD_PROMPTS
    assert len(ID_PROMPTS) >= 40 and len(OD_PROMPTS) >= 40
    assert not set(ID_PROMPTS) & set(OD_PROMPTS)
    with pytest.raises(InputError, match="domain"):
        prompt_split("XX")  # type: ignore[arg-type]


# -- the build ------------------------------------------------------------------------------


def test_build_writes_content_addressed_images_and_complete_samples(reference: Any) -> None:
    root, gen, manifest = reference
    samples = load_samples(root)
    assert manifest.complete and manifest.samples == len(samples) == 2 * N_USERS
    assert len(gen.calls) == N_USERS * IMAGES_PER_USER == manifest.run.rendered
    assert set(manifest.splits) <= {"SP_ID", "SP_OD", "MP_ID", "MP_OD"} and sum(manifest.splits.values()) == 8
    assert {s.split.split("_")[1] for s in samples} == {"ID", "OD"}
    users = {u.user_id: u for u in _users()}
    for s in samples:
        user = users[str(s.user_id)]
        assert s.split.startswith(user.kind) and s.seen == user.seen
        assert s.likes == user.likes and s.dislikes == user.dislikes
        assert len(s.refs_liked) == len(s.refs_disliked) == len(s.reference_prompts) == 5
        assert s.image_a != s.image_b and s.answer in ("Image A", "Image B")
        assert not set(s.refs_liked) & set(s.refs_disliked)
        assert s.prompt not in s.reference_prompts
        assert (s.prompt in ID_PROMPTS) == s.split.endswith("ID")
        for rel in s.image_paths():
            path = root / rel
            sha = path.stem
            assert rel == f"images/{sha[:2]}/{sha}.png"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
            assert Image.open(path).size == SIZE
    assert not (root / "pending").exists()
    assert json.loads((root / "manifest.json").read_text())["samples"] == 8


def test_answers_are_placed_at_a_and_b(tmp_path: Path) -> None:
    users = sample_users(10, seed=1)
    manifest = build_dataset(tmp_path, users, PainterGenerator(), size=(32, 32), refs_per_side=1, seed=1)
    answers = [s.answer for s in load_samples(tmp_path)]
    assert manifest.samples == 20 and 4 <= answers.count("Image A") <= 16
    assert {s.pair_kind for s in load_samples(tmp_path)} == {"near", "contrast"}


class SubjectOnlyPainter:
    """The painter blind to everything but the subject and seed: two profiles render the same pixels."""

    name = "subject-only"

    def generate(self, prompt: str, negative_prompt: str | None = None, **kw: Any) -> list[Any]:
        kw.pop("profile", None)
        return PainterGenerator().generate(prompt.split(",")[0], None, **kw)


def test_pairs_whose_images_render_identical_are_left_out(tmp_path: Path) -> None:
    manifest = build_dataset(tmp_path, _users(), SubjectOnlyPainter(), size=(32, 32), refs_per_side=1, seed=3)
    assert manifest.run.identical_pairs == 2 * N_USERS and manifest.samples == 0 == len(
        load_samples(tmp_path)
    )


def test_a_finished_build_reruns_without_rendering(reference: Any, tmp_path: Path) -> None:
    root, _, _ = reference
    before = _snapshot(root)
    again = CountingGenerator()
    manifest = _build(root, again)
    assert again.calls == [] and manifest.run.shards_skipped == 2
    assert _snapshot(root) == before


def test_other_settings_in_the_same_folder_are_refused(reference: Any) -> None:
    root, _, _ = reference
    with pytest.raises(InputError, match=r"other settings \(size\)"):
        build_dataset(root, _users(), CountingGenerator(), size=(32, 32), seed=3, shard_size=4)


def test_a_build_that_died_resumes_rendering_each_image_once(reference: Any, tmp_path: Path) -> None:
    """Acceptance 3, in-process: the generator dies on render 11 (10 done, 2 of them never committed)."""
    ref_root, ref_gen, _ = reference
    dying = CountingGenerator(fail_at=11)
    with pytest.raises(RuntimeError, match="generator died"):
        _build(tmp_path, dying)
    assert len(dying.calls) == 10 and len(list((tmp_path / "pending").glob("*.png"))) == 2
    progress: list[Any] = []
    resumed = CountingGenerator()
    manifest = _build(tmp_path, resumed, progress=progress.append)
    renders = dying.calls + resumed.calls
    assert len(renders) == len(set(renders)) == len(ref_gen.calls)
    assert sorted(renders) == sorted(ref_gen.calls)
    assert manifest.run.adopted == 2 and manifest.run.reused == 10 and manifest.run.rendered == 46
    assert progress[-1].done == progress[-1].total == 56 and progress[-1].rendered == 46
    assert _snapshot(tmp_path) == _snapshot(ref_root)


@pytest.mark.slow
def test_a_killed_build_process_resumes_without_rendering_twice(reference: Any, tmp_path: Path) -> None:
    """Acceptance 3 for real: SIGKILL a build process midway, rerun, compare with an uninterrupted build."""
    ref_root, ref_gen, _ = reference
    out = tmp_path / "ds"
    script = tmp_path / "build.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_train_dataset import CountingGenerator, _build
        from pathlib import Path
        _build(Path({str(out)!r}), CountingGenerator(delay=0.05))
        """)
    )
    proc = subprocess.Popen([sys.executable, str(script)])

    def finished_renders() -> int:
        ledgers = [json.loads(p.read_text())["images"] for p in (out / "ledger").glob("ledger-*.json")]
        committed = {k for led in ledgers for k in led}
        pending = {p.stem for p in (out / "pending").glob("*.png")} if (out / "pending").exists() else set()
        return len(committed | pending)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "ledger").exists() and finished_renders() >= 14:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = finished_renders()
    assert 14 <= done_before < len(ref_gen.calls)
    resumed = CountingGenerator()
    manifest = _build(out, resumed)
    assert len(resumed.calls) == len(ref_gen.calls) - done_before  # nothing finished is rendered again
    assert manifest.run.rendered == len(resumed.calls) and manifest.complete
    assert _snapshot(out) == _snapshot(ref_root)


def test_shards_built_separately_give_the_same_dataset(reference: Any, tmp_path: Path) -> None:
    ref_root, _, _ = reference
    first = _build(tmp_path, CountingGenerator(), shards=[1])
    assert not first.complete and not (tmp_path / "manifest.json").exists()
    second = _build(tmp_path, CountingGenerator(), shards=[0])
    assert second.complete
    assert _snapshot(tmp_path) == _snapshot(ref_root)
    with pytest.raises(InputError, match="shards"):
        _build(tmp_path, CountingGenerator(), shards=[5])


# -- PreferThinker JSONL --------------------------------------------------------------------


def test_our_samples_export_import_export_byte_identical(reference: Any, tmp_path: Path) -> None:
    root, _, _ = reference
    samples = load_samples(root)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_preferthinker(samples, first) == 8
    imported = read_preferthinker(first)
    write_preferthinker(imported, second)
    assert first.read_bytes() == second.read_bytes()
    record = json.loads(first.read_text().splitlines()[0])
    human, gpt = record["conversations"]
    assert human["from"] == "human" and human["value"].count("<image>") == 12
    assert record["prefered_images"] == samples[0].refs_liked
    assert record["prefer_attributes"]["Color"] == ", ".join(samples[0].likes.color)
    assert f"<answer>{samples[0].answer}</answer>" in gpt["value"]
    assert (
        imported[0].answer == samples[0].answer
        and imported[0].likes.terms(ELEMENTS[1]) == samples[0].likes.color
    )


def _their_record(**changes: Any) -> dict[str, Any]:
    """A record as PreferThinker's GRPO data writes it: "ArtisticMedium", int id, bare answer, own keys."""
    record = {
        "conversations": [
            {"from": "human", "value": "Using the predicted preference profile ..."},
            {"from": "gpt", "value": "<answer>Image B</answer>"},
        ],
        "imageA": "u12/cand_0.png",
        "imageB": "u12/cand_1.png",
        "prefered_images": [f"u12/pref_{i}.png" for i in range(5)],
        "non_prefered_images": [f"u12/nonpref_{i}.png" for i in range(5)],
        "prefer_attributes": {
            "Art Styles": "Mesoamerican Art",
            "Color": "Pink",
            "ArtisticMedium": "Coiling",
            "Saturation": "Muted",
            "Detail": "Realistic",
        },
        "non_prefer_attributes": {
            "Art Styles": "Pixel Art",
            "Color": "Jungle Green, Teal",
            "Artistic Medium": "Digital Painting",
            "Saturation": "Mid-tone",
            "Detail": "Selective",
        },
        "user_id": 12,
        "reference_prompt_list": ["a bowl of fruit", "a koi pond"],
        "accu_reward_method": "all_match",
    }
    record.update(changes)
    return record


def _write_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_their_jsonl_imports_and_exports_to_an_equivalent_file(tmp_path: Path) -> None:
    """Acceptance 4 on PreferThinker's own layout, including its key drift and extra keys."""
    source = _write_lines(
        tmp_path / "theirs.jsonl",
        [
            _their_record(),
            _their_record(
                user_id="u7",
                conversations=[
                    {"from": "human", "value": "<image>\n<image>\nWhich one?"},
                    {"from": "gpt", "value": "<think>\n...\n</think>\n\n<answer>Image A</answer>"},
                ],
                prefer_attributes='"Art Styles": "Romanticism",\n"Color": "Teal"',
            ),
        ],
    )
    samples = read_preferthinker(source)
    assert [s.answer for s in samples] == ["Image B", "Image A"]
    assert samples[0].user_id == 12 and samples[0].likes.artistic_medium == ["Coiling"]
    assert samples[0].dislikes.color == ["Jungle Green", "Teal"]
    assert samples[0].extra == {"accu_reward_method": "all_match"}
    back = tmp_path / "back.jsonl"
    write_preferthinker(samples, back)
    assert compare_files(source, back) == []
    exported = [json.loads(line) for line in back.read_text().splitlines()]
    assert exported[0]["user_id"] == 12 and exported[0]["accu_reward_method"] == "all_match"
    assert exported[0]["conversations"] == _their_record()["conversations"]
    assert "Artistic Medium" in exported[0]["prefer_attributes"]
    # The comparison is not vacuous: a changed answer or term is reported.
    changed = _write_lines(
        tmp_path / "changed.jsonl",
        [_their_record(imageA="other.png"), json.loads(source.read_text().splitlines()[1])],
    )
    assert any("imageA" in d for d in compare_files(source, changed))


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (_their_record(imageA=None), "imageA", "string"),
        ({k: v for k, v in _their_record().items() if k != "user_id"}, "user_id", "required"),
        (_their_record(prefer_attributes={"Mood": "calm"}), "prefer_attributes", "Mood"),
        (_their_record(conversations=[{"from": "human", "value": "x"}, {"from": "gpt", "value": "no idea"}]),
         "conversations[1].value", "no answer"),
        (_their_record(conversations=[{"from": "human", "value": "x"}, {"from": "gpt", "valeu": "A"}]),
         "conversations[1].value", "required"),
        ('{"conversations": [', None, "not JSON"),
    ],
)  # fmt: skip
def test_malformed_jsonl_names_file_line_and_field(
    tmp_path: Path, line: Any, field: str | None, reason: str
) -> None:
    path = _write_lines(tmp_path / "bad.jsonl", [_their_record(), "", line])
    with pytest.raises(JsonlError) as info:
        read_preferthinker(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 3, field)
    assert str(err).startswith(f"{path}:3") and reason in str(err)


def test_a_bad_sample_shard_names_file_line_and_field(reference: Any, tmp_path: Path) -> None:
    root, _, _ = reference
    lines = (root / "samples-00000.jsonl").read_text().splitlines()
    broken = json.loads(lines[1])
    broken["answer"] = "Image C"
    (tmp_path / "samples-00000.jsonl").write_text(lines[0] + "\n" + json.dumps(broken) + "\n")
    with pytest.raises(JsonlError, match=r"samples-00000.jsonl:2: field 'answer'"):
        load_samples(tmp_path)


# -- TRL export -----------------------------------------------------------------------------


def _image_parts(messages: list[dict[str, Any]]) -> int:
    return sum(part["type"] == "image" for m in messages for part in m["content"])


def test_sft_and_grpo_rows_pair_every_image_part_with_an_image(reference: Any) -> None:
    root, _, _ = reference
    sample = load_samples(root)[0]
    annotated = sample.model_copy(
        update={"cot": "<visual preference profile>...</think>\n<answer>Image A</answer>"}
    )
    sft = sft_row(annotated)
    assert [m["role"] for m in sft["messages"]] == ["system", "user", "assistant"]
    assert _image_parts(sft["messages"]) == len(sft["images"]) == 12
    assert sft["images"] == [*sample.refs_liked, *sample.refs_disliked, sample.image_a, sample.image_b]
    assert sft["messages"][2]["content"] == [{"type": "text", "text": annotated.cot}]
    user = sft["messages"][1]["content"]
    a_label = next(i for i, p in enumerate(user) if p.get("text") == "Image A")
    assert user[a_label + 1] == {"type": "image"}  # candidate A's image right after its label
    grpo = grpo_row(sample, max_history=2)
    assert _image_parts(grpo["prompt"]) == len(grpo["images"]) == 6
    assert grpo["answer"] == sample.answer and grpo["prefer_attributes"]["Detail"] == ", ".join(
        sample.likes.detail
    )
    assert set(grpo["non_prefer_attributes"]) == {e.value for e in ELEMENTS}
    # Without a CoT the target is the ground truth in the output layout.
    target = parse_judgment(sft_row(sample)["messages"][2]["content"][0]["text"])
    assert target.winner == sample.winner and target.profile == sample.profile


@pytest.mark.slow  # importing datasets and trl takes seconds
def test_exported_files_load_as_datasets_with_images(reference: Any, tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    root, _, _ = reference
    samples = load_samples(root)
    samples[0] = samples[0].model_copy(update={"cot": "<answer>Image A</answer>"})
    stats = export_sft(samples, tmp_path / "sft.jsonl", image_root=root, require_cot=True)
    assert (stats.rows, stats.skipped_without_cot) == (1, 7)
    assert export_grpo(samples, tmp_path / "grpo.jsonl", image_root=root).rows == 8
    sft = to_hf_dataset(tmp_path / "sft.jsonl")
    grpo = to_hf_dataset(tmp_path / "grpo.jsonl")
    assert len(sft) == 1 and len(grpo) == 8
    row = grpo[3]
    assert len(row["images"]) == 12 and isinstance(row["images"][0], Image.Image)
    assert row["images"][0].size == SIZE and row["answer"] == samples[3].answer
    trl = pytest.importorskip("trl.data_utils")
    filled = trl.prepare_multimodal_messages(row["prompt"], images=row["images"])
    assert sum(1 for part in filled[1]["content"] if part.get("image") is not None) == 12


def test_loading_an_export_with_a_missing_image_names_the_line(reference: Any, tmp_path: Path) -> None:
    root, _, _ = reference
    samples = load_samples(root)[:2]
    path = tmp_path / "grpo.jsonl"
    export_grpo(samples, path, image_root=root)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows[1]["images"][3] = "nowhere.png"
    _write_lines(path, rows)
    with pytest.raises(JsonlError, match=r"grpo.jsonl:2: field 'images\[3\]'"):
        to_hf_dataset(path)
    rows[1]["images"] = rows[1]["images"][:3]
    _write_lines(path, rows)
    with pytest.raises(JsonlError, match="12 image parts but 3 images"):
        to_hf_dataset(path)


def test_their_released_jsonl_becomes_trl_files_through_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agentpref.cli.main import main
    from agentpref.train.export import to_hf_dataset

    images = tmp_path / "their_images"
    record = _their_record()
    for name in [
        record["imageA"],
        record["imageB"],
        *record["prefered_images"],
        *record["non_prefered_images"],
    ]:
        (images / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (28, 28), "teal").save(images / name)
    source = tmp_path / "their.jsonl"
    source.write_text(json.dumps(record) + "\n")
    result = CliRunner().invoke(
        main,
        ["train", "import", str(source), "--images", str(images), "--out", str(tmp_path / "trl"), "--json"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "samples": 1,
        "sft_rows": 1,
        "grpo_rows": 1,
        "out": str(tmp_path / "trl"),
    }
    grpo = to_hf_dataset(tmp_path / "trl" / "grpo.jsonl")
    assert grpo[0]["answer"] == "Image B" and len(grpo[0]["images"]) == 12


def test_a_second_pipeline_into_the_same_folder_is_refused_at_once(tmp_path: Path) -> None:
    from agentpref.io import exclusive_folder
    from agentpref.train.pipeline import PipelineSettings, run_pipeline

    out = tmp_path / "train"
    settings = PipelineSettings(out=out, teacher="random", users=1, stages=("dataset",))
    with (
        exclusive_folder(out, "train"),
        pytest.raises(InputError, match="in use by another agentpref process"),
    ):
        run_pipeline(settings, log=lambda line: None)
    assert not (out / "data").exists()
