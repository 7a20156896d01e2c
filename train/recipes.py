"""Training recipes: what a run trains, on what, with which hyper-parameters (YAML files).

The defaults are the 7B recipe: Qwen2.5-VL-7B-Instruct, a cold-start SFT on the
CoT data, then GRPO with the mixed reward. The GRPO values follow PreferThinker's
released run script (2 generations per prompt, 2,048 completion tokens, beta 0.04,
clip-higher epsilon 0.28, batch 1 x 2 accumulation per GPU, bf16, gradient
checkpointing, DeepSpeed ZeRO-3). Their SFT settings are not released; ours are the
usual full fine-tune of a 7B VLM (lr 1e-5, 2 epochs, frozen vision tower). Bundled
files live in `agentpref/train/configs/` (`recipe_path("sft_7b")`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agentpref.errors import InputError
from agentpref.images.refs import DEFAULT_MODEL_PIXELS

R = TypeVar("R", bound="Recipe")


class Recipe(BaseModel):
    """What SFT and GRPO runs share."""

    model_config = ConfigDict(extra="forbid")

    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    train_file: Path = Field(description="JSONL written by `agentpref train export`")
    output_dir: Path
    learning_rate: float = Field(1e-5, gt=0)
    num_train_epochs: float = Field(2.0, gt=0)
    max_steps: int = Field(-1, description="stop after this many steps (-1: run the epochs)")
    per_device_train_batch_size: int = Field(1, ge=1)
    gradient_accumulation_steps: int = Field(8, ge=1)
    bf16: bool = True
    gradient_checkpointing: bool = True
    use_cpu: bool = False
    max_pixels: int = Field(DEFAULT_MODEL_PIXELS, ge=28 * 28, description="image pixel cap in the processor")
    freeze_vision: bool = Field(True, description="train the language model only")
    lora: bool = False
    lora_r: int = 64
    lora_alpha: int = 128
    lora_dropout: float = 0.05
    lora_targets: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    logging_steps: int = 1
    save_steps: int = 500
    seed: int = 42
    report_to: str = "none"
    deepspeed: Path | None = Field(None, description="a DeepSpeed JSON config, e.g. configs/zero3.json")


class SFTRecipe(Recipe):
    kind: Literal["sft"] = "sft"


class GRPORecipe(Recipe):
    kind: Literal["grpo"] = "grpo"
    learning_rate: float = Field(1e-6, gt=0)
    gradient_accumulation_steps: int = Field(2, ge=1)
    num_generations: int = Field(2, ge=2)
    max_completion_length: int = Field(2048, ge=16)
    beta: float = 0.04
    epsilon_high: float = 0.28
    temperature: float = 1.0
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float = 0.3
    weight_accuracy: float = 1.0
    weight_format: float = 0.3
    weight_prediction: float = 0.7
    text_weight: float = Field(0.5, ge=0, description="w_text of the prediction reward (SBERT)")
    image_weight: float = Field(0.5, ge=0, description="w_img of the prediction reward (DreamSim)")
    image_reward: bool = True
    dreamsim_cache_dir: Path | None = None
    dreamsim_type: str = "ensemble"
    render_generator: str = Field("painter", description="generator URI that renders profiles for DreamSim")


def resolve_recipe(name: str | Path) -> Path:
    """A YAML path as given, or the bundled recipe of that name."""
    return Path(name) if str(name).endswith((".yaml", ".yml")) else recipe_path(str(name))


def recipe_path(name: str) -> Path:
    """A bundled recipe file by name (`sft_7b`, `grpo_7b`, `sft_cpu`, `grpo_cpu`)."""
    path = Path(str(files("agentpref.train").joinpath("configs", f"{name}.yaml")))
    if not path.is_file():
        raise InputError(f"no bundled recipe {name!r} (looked for {path})")
    return path


def load_recipe(path: str | Path, kind: type[R], **overrides: object) -> R:
    """A recipe from YAML, with keyword overrides (e.g. paths given on the command line)."""
    import yaml

    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"cannot read the recipe {source}: {err}") from None
    if not isinstance(data, dict):
        raise InputError(f"{source}: a recipe is a mapping of settings, got {type(data).__name__}")
    data.update({k: v for k, v in overrides.items() if v is not None})
    return kind.model_validate(data)


def recipe_from_command_line(kind: type[R], default: str, prog: str, argv: Sequence[str] | None = None) -> R:
    """The recipe a training module's command line names, with its path and step overrides."""
    parser = argparse.ArgumentParser(prog=prog, description=f"Train with a {kind.__name__} (YAML).")
    parser.add_argument("--recipe", default=default, help="a bundled recipe name or a YAML file")
    parser.add_argument("--train-file", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--model", help="override the recipe's model (e.g. the SFT checkpoint)")
    parser.add_argument("--max-steps", type=int)
    if "dreamsim_cache_dir" in kind.model_fields:
        parser.add_argument("--dreamsim-cache-dir", type=Path)
    args = vars(parser.parse_args(argv))
    return load_recipe(resolve_recipe(args.pop("recipe")), kind, **args)
