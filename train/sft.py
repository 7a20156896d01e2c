"""Cold-start SFT: teach a VLM PreferThinker's predict-then-assess format from CoT data.

TRL's SFTTrainer on `messages` + `images` rows (`agentpref train export --sft`), full
fine-tuning or LoRA, the vision tower frozen by default. On a cluster:

    accelerate launch --config_file configs/accelerate_zero3.yaml -m agentpref.train.sft \\
        --recipe sft_7b --train-file data/sft.jsonl --output-dir ckpt/sft

On the CPU the same code trains the tiny test model for a few steps (`sft_cpu`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentpref.train.export import to_hf_dataset
from agentpref.train.recipes import Recipe, SFTRecipe, recipe_from_command_line


def load_model(recipe: Recipe) -> tuple[Any, Any]:
    """The model and processor, the vision tower frozen when the recipe says so."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(recipe.model, max_pixels=recipe.max_pixels)
    dtype = torch.bfloat16 if recipe.bf16 else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(recipe.model, dtype=dtype)
    if recipe.freeze_vision:
        for name, parameter in model.named_parameters():
            if ".visual." in f".{name}" or name.startswith("visual."):
                parameter.requires_grad = False
    return model, processor


def peft_config(recipe: Recipe) -> Any:
    if not recipe.lora:
        return None
    from peft import LoraConfig

    targets: list[str] | str = recipe.lora_targets
    if recipe.freeze_vision:  # the vision tower has gate/up/down_proj too: keep adapters out of it
        targets = rf"^(?!.*visual).*\.({'|'.join(recipe.lora_targets)})$"
    return LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def common_args(recipe: Recipe) -> dict[str, Any]:
    """TrainingArguments both trainers take from a recipe."""
    return {
        "output_dir": str(recipe.output_dir),
        "learning_rate": recipe.learning_rate,
        "num_train_epochs": recipe.num_train_epochs,
        "max_steps": recipe.max_steps,
        "per_device_train_batch_size": recipe.per_device_train_batch_size,
        "gradient_accumulation_steps": recipe.gradient_accumulation_steps,
        "bf16": recipe.bf16,
        "gradient_checkpointing": recipe.gradient_checkpointing,
        "use_cpu": recipe.use_cpu,
        "logging_steps": recipe.logging_steps,
        "save_steps": recipe.save_steps,
        "seed": recipe.seed,
        "report_to": recipe.report_to,
        "deepspeed": str(recipe.deepspeed) if recipe.deepspeed else None,
    }


def fit(recipe: Recipe, trainer_class: Any, config: Any, **trainer_kwargs: Any) -> Path:
    """Train with a TRL trainer on the recipe's model and data; save model and processor."""
    model, processor = load_model(recipe)
    trainer = trainer_class(
        model=model,
        args=config,
        train_dataset=to_hf_dataset(recipe.train_file),
        processing_class=processor,
        peft_config=peft_config(recipe),
        **trainer_kwargs,
    )
    trainer.train()
    trainer.save_model(str(recipe.output_dir))
    processor.save_pretrained(str(recipe.output_dir))
    return recipe.output_dir


def train_sft(recipe: SFTRecipe) -> Path:
    """Run SFT; the model and processor are saved in `recipe.output_dir`."""
    from trl import SFTConfig, SFTTrainer

    # max_length=None: truncating would cut image tokens out of the prompt.
    return fit(recipe, SFTTrainer, SFTConfig(**common_args(recipe), max_length=None))


def main(argv: Sequence[str] | None = None) -> None:
    print(train_sft(recipe_from_command_line(SFTRecipe, "sft_7b", "python -m agentpref.train.sft", argv)))


if __name__ == "__main__":
    main()
