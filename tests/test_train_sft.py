"""Cold-start SFT through TRL on the tiny random Qwen2.5-VL (two steps on the CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("trl")

from agentpref.errors import InputError
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.preferthinker.requests import build_compare_request
from agentpref.train.recipes import SFTRecipe, load_recipe, recipe_path
from agentpref.train.sft import train_sft


def _sft_file(folder: Path, rows: int = 2) -> Path:
    """SFT rows in the export layout: typed messages + image paths relative to the file."""
    from agentpref.images.refs import ImageRef

    (folder / "images").mkdir(parents=True)
    lines = []
    for r in range(rows):
        paths = []
        for i in range(4):
            p = folder / "images" / f"{r}-{i}.png"
            Image.new("RGB", (56, 56), (40 * i, 90, 30 * r)).save(p)
            paths.append(p)
        refs = [ImageRef.from_path(p) for p in paths]
        request = build_compare_request(refs[:1], refs[1:2], refs[2], refs[3])
        user = [
            {"type": "image"} if hasattr(part, "ref") else {"type": "text", "text": part.text}
            for part in request.parts
        ]
        lines.append(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": [{"type": "text", "text": "Judge images."}]},
                        {"role": "user", "content": user},
                        {
                            "role": "assistant",
                            "content": [{"type": "text", "text": format_judgment(WORKED_EXAMPLES[0])}],
                        },
                    ],
                    "images": [f"images/{p.name}" for p in paths],
                }
            )
        )
    path = folder / "sft.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _cpu_recipe(tiny_qwen: Path, tmp_path: Path, **overrides: object) -> SFTRecipe:
    """The bundled CPU smoke recipe on the tiny model and a fresh two-row dataset."""
    return load_recipe(
        recipe_path("sft_cpu"),
        SFTRecipe,
        model=str(tiny_qwen),
        train_file=_sft_file(tmp_path / "data"),
        output_dir=tmp_path / "out",
        **overrides,
    )


@pytest.mark.slow
def test_two_sft_steps_train_the_tiny_model_and_save_it(tiny_qwen, tmp_path):
    recipe = _cpu_recipe(tiny_qwen, tmp_path)
    out = train_sft(recipe)
    assert (out / "config.json").is_file() and (out / "model.safetensors").is_file()
    from transformers import AutoModelForImageTextToText

    trained = AutoModelForImageTextToText.from_pretrained(out)
    original = AutoModelForImageTextToText.from_pretrained(tiny_qwen)
    changed = [
        name
        for (name, a), (_, b) in zip(trained.named_parameters(), original.named_parameters(), strict=True)
        if not (a == b).all()
    ]
    assert changed and not any(name.startswith("model.visual") or ".visual." in name for name in changed)


def test_recipes_are_validated_with_the_field_named(tmp_path):
    with pytest.raises(ValueError, match="learning_rate"):
        SFTRecipe(train_file=tmp_path / "x.jsonl", output_dir=tmp_path, learning_rate=0)
    (tmp_path / "bad.yaml").write_text("- a list\n")
    with pytest.raises(InputError, match=r"bad.yaml: a recipe is a mapping"):
        load_recipe(tmp_path / "bad.yaml", SFTRecipe)


@pytest.mark.slow
def test_lora_sft_trains_and_saves_only_an_adapter(tiny_qwen, tmp_path):
    recipe = _cpu_recipe(tiny_qwen, tmp_path, lora=True, lora_r=4, lora_alpha=8)
    out = train_sft(recipe)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and "q_proj" in config["target_modules"]
    assert (out / "adapter_model.safetensors").is_file() and not (out / "model.safetensors").exists()
    from safetensors import safe_open

    with safe_open(out / "adapter_model.safetensors", "pt") as weights:
        names = list(weights.keys())
    assert any("language_model" in n for n in names) and not any("visual" in n for n in names)
