"""A tiny, randomly initialised Qwen2.5-VL model folder, built offline.

Every VLM code path (the `hf:` assessor, the vLLM server, SFT/GRPO training) is tested on
this folder: it has the real architecture, processor and chat template of Qwen2.5-VL
(the base of PreferThinker-7B) at a few MB, so tests exercise the real libraries without
downloading anything. Its tokenizer is a byte-level BPE trained on agentpref's own prompts,
so prompts tokenize at a realistic ~3-4 characters per token and image/text budgets in
tests look like production ones. Its outputs are random text.

    python -m agentpref.testing.tiny_qwen [DIR]   # build (or find) the folder, print its path
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from agentpref.io import cache_dir
from agentpref.testing.folders import build_atomically

SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
VOCAB_SIZE = 1024  # ~3.5-4 characters per token on our prompts (2048: ~4.5-5)
SEED = 0
# The image processor's range. The client (an assessor) sizes images; the processor must
# not shrink them further, so its cap is as large as any client budget.
MIN_PIXELS = 28 * 28 * 4
MAX_PIXELS = 1024 * 1024
DEFAULT_SYSTEM = "You are a helpful assistant."

# Qwen2.5-VL's chat layout, written for agentpref: a system turn (a default one when the
# conversation has none), content as a string or a list of typed parts, each image as
# <|vision_start|><|image_pad|><|vision_end|> ("Picture N: " first with add_vision_id),
# and the assistant header with add_generation_prompt. Jinja reads '\n' in a string
# literal as a newline. Parts are tested for their type and for their keys, because
# transformers passes {"type": "image"} and vLLM may pass {"image_url": ...}.
CHAT_TEMPLATE = (
    "{%- set counts = namespace(images=0, videos=0) -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\n" + DEFAULT_SYSTEM + "<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] in ('image', 'image_url') or 'image' in part or 'image_url' in part -%}"
    "{%- set counts.images = counts.images + 1 -%}"
    "{%- if add_vision_id -%}{{- 'Picture ' ~ counts.images ~ ': ' -}}{%- endif -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif part['type'] == 'video' or 'video' in part -%}"
    "{%- set counts.videos = counts.videos + 1 -%}"
    "{%- if add_vision_id -%}{{- 'Video ' ~ counts.videos ~ ': ' -}}{%- endif -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in part -%}"
    "{{- part['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# The model: Qwen2.5-VL's shape at toy sizes. head_dim = 128 / 4 = 32 (vLLM's CPU attention
# needs >= 32); mrope_section covers head_dim / 2 = 16 rotary pairs (t, h, w), in the real
# model's 1:1.5:1.5 proportion; the vision tower's output feeds the text width directly.
TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [4, 6, 6]},
}
VISION_CONFIG: dict[str, Any] = {
    "depth": 2,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_heads": 2,
    "out_hidden_size": 128,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [1],
    "tokens_per_second": 2,
}


def recipe_key() -> str:
    """16 hex digits of sha256 over this module's source and transformers' major.minor."""
    major_minor = ".".join(version("transformers").split(".")[:2])
    digest = hashlib.sha256(Path(__file__).read_bytes() + major_minor.encode())
    return digest.hexdigest()[:16]


def default_path() -> Path:
    return cache_dir() / "models" / f"tiny-qwen2.5-vl-{recipe_key()}"


def is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def training_corpus() -> list[str]:
    """Texts the tokenizer learns from: every prompt agentpref sends, worked outputs, term names."""
    from agentpref.preferthinker import prompts
    from agentpref.preferthinker.layout import format_judgment
    from agentpref.preferthinker.prompts import PROFILE_SYSTEM_PROMPT, SYSTEM_PROMPT
    from agentpref.vocabulary import load_vocabulary

    texts = [SYSTEM_PROMPT, PROFILE_SYSTEM_PROMPT]
    constants = [v for k, v in sorted(vars(prompts).items()) if k.isupper() and isinstance(v, str)]
    texts += [v for v in constants if v not in texts]  # the same corpus, whichever module holds a prompt
    texts += [format_judgment(j) for j in prompts.WORKED_EXAMPLES]
    texts += [term.name for term in load_vocabulary()]
    return texts


def build_tokenizer() -> Any:
    """A Qwen2 tokenizer: byte-level BPE with Qwen2's pre-tokenizer, trained on `training_corpus()`."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    # Qwen2's own split pattern (transformers.models.qwen2.tokenization_qwen2.PRETOKENIZE_REGEX).
    split = (
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
        r"|\s*[\r\n]+|\s+(?!\S)|\s+"
    )
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_corpus(), trainer=trainer)
    return Qwen2TokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        bos_token=None,
        model_max_length=TEXT_CONFIG["max_position_embeddings"],
        padding_side="left",  # decoder-only batched generation pads on the left
        chat_template=CHAT_TEMPLATE,
    )


def build_processor(tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS),
        video_processor=Qwen2VLVideoProcessor(),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    eos, pad = ids["<|im_end|>"], ids["<|endoftext|>"]
    config = Qwen2_5_VLConfig(
        text_config={
            **TEXT_CONFIG,
            "vocab_size": len(tokenizer),
            "bos_token_id": pad,
            "eos_token_id": eos,
            "pad_token_id": pad,
        },
        vision_config=dict(VISION_CONFIG),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(SEED)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.bos_token_id = pad
    model.generation_config.eos_token_id = [eos, pad]
    model.generation_config.pad_token_id = pad
    return model


def _write(folder: Path) -> None:
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tokenizer)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    # Readers differ in where they look for the template (processor vs tokenizer, file vs
    # config key, by version): write it everywhere any of them looks.
    (folder / "chat_template.jinja").write_text(CHAT_TEMPLATE)
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": CHAT_TEMPLATE}, indent=2) + "\n")
    tok_config_path = folder / "tokenizer_config.json"
    tok_config = json.loads(tok_config_path.read_text())
    tok_config["chat_template"] = CHAT_TEMPLATE
    tok_config_path.write_text(json.dumps(tok_config, indent=2) + "\n")


def build_tiny_qwen(path: Path | None = None) -> Path:
    """The folder of a tiny random Qwen2.5-VL (model, processor, chat template), built once.

    With no `path`, the folder lives in the agentpref cache under a key of this recipe, so
    a changed recipe or transformers version builds a new one. The model is written to a
    temporary folder beside the target and renamed into place, so a killed build leaves
    nothing half-made, and concurrent builders agree on the result. An existing complete
    folder is returned as is.
    """
    target = Path(path) if path is not None else default_path()
    return build_atomically(target, _write, is_model_folder, "model folder")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m agentpref.testing.tiny_qwen",
        description="Build the tiny random Qwen2.5-VL (cached) and print its folder.",
    )
    parser.add_argument("folder", nargs="?", type=Path, help="build here instead of the cache")
    args = parser.parse_args(argv)
    print(build_tiny_qwen(args.folder))


if __name__ == "__main__":
    main()
