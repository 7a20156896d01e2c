"""GRPO with PreferThinker's mixed reward: accuracy, format, and the similarity-aware prediction.

TRL's GRPOTrainer on conversational `prompt` + `images` rows that also carry the answer
and both ground-truth profiles (`agentpref train export --grpo`). The three reward
components are separate functions (`agentpref.train.rewards`), so TRL logs each one
(`rewards/accuracy_reward/mean`, ...). Generation runs in the trainer, or in vLLM
(`use_vllm: true`, `vllm_mode: colocate` on the training GPUs or `server` against
`trl vllm-serve`). On a cluster:

    accelerate launch --config_file configs/accelerate_zero3.yaml -m agentpref.train.grpo \\
        --recipe grpo_7b --model ckpt/sft --train-file data/grpo.jsonl --output-dir ckpt/grpo
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentpref.train.recipes import GRPORecipe, recipe_from_command_line
from agentpref.train.sft import common_args, fit


def reward_setup(recipe: GRPORecipe) -> tuple[list[Any], list[float]]:
    """The reward functions and their weights, as the recipe configures them.

    The models behind the prediction reward (SBERT, DreamSim) load before training starts,
    so a missing checkpoint fails at once rather than at the first parsable completion.
    """
    from agentpref.train.rewards import RewardConfig, build_reward_functions, reward_weights

    config = RewardConfig(
        accuracy_weight=recipe.weight_accuracy,
        format_weight=recipe.weight_format,
        prediction_weight=recipe.weight_prediction,
        w_text=recipe.text_weight,
        w_img=recipe.image_weight,
        image_term=recipe.image_reward,
        dreamsim_cache_dir=recipe.dreamsim_cache_dir,
        dreamsim_type=recipe.dreamsim_type,
        generator=recipe.render_generator,
    )
    return build_reward_functions(config, preload=True), reward_weights(config)


def grpo_args(recipe: GRPORecipe, weights: list[float]) -> dict[str, Any]:
    args = {
        **common_args(recipe),
        "num_generations": recipe.num_generations,
        "max_completion_length": recipe.max_completion_length,
        "beta": recipe.beta,
        "epsilon_high": recipe.epsilon_high,
        "temperature": recipe.temperature,
        "reward_weights": weights,
        "use_vllm": recipe.use_vllm,
        "log_completions": False,
    }
    if recipe.use_vllm:
        args["vllm_mode"] = recipe.vllm_mode
        args["vllm_gpu_memory_utilization"] = recipe.vllm_gpu_memory_utilization
        if recipe.vllm_server_base_url:
            args["vllm_server_base_url"] = recipe.vllm_server_base_url
    return args


def train_grpo(recipe: GRPORecipe) -> Path:
    """Run GRPO; the model and processor are saved in `recipe.output_dir`."""
    from trl import GRPOConfig, GRPOTrainer

    reward_funcs, weights = reward_setup(recipe)
    return fit(recipe, GRPOTrainer, GRPOConfig(**grpo_args(recipe, weights)), reward_funcs=reward_funcs)


def main(argv: Sequence[str] | None = None) -> None:
    print(train_grpo(recipe_from_command_line(GRPORecipe, "grpo_7b", "python -m agentpref.train.grpo", argv)))


if __name__ == "__main__":
    main()
