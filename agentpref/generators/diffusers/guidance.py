"""Profile guidance in the spirit of ViPer: steer the text conditioning toward a taste.

ViPer conditions the generator on a person's liked and disliked visual attributes. Here
the liked profile and the disliked profile are written as prompts of their own
("palette of teal, muted saturation, watercolor"), encoded by the pipeline's own text
encoders, and blended into the conditioning with a weight w (ViPer used 0.85):

    positive = lerp(E(prompt), E(prompt, liked profile), w)
    negative = lerp(E(negative prompt), E(disliked profile), w)

so w = 0 is the plain prompt and w = 1 the fully profiled one; the subject of the prompt
stays in both ends. Works for pipelines whose `encode_prompt` gives embeddings the call
accepts back (Stable Diffusion 1.x/2.x and SDXL).
"""

from __future__ import annotations

from typing import Any

from agentpref.generators.diffusers.options import Family
from agentpref.profile import UserProfile
from agentpref.prompting import compose_prompt


def profile_prompts(profile: UserProfile) -> tuple[str, str]:
    """The liked and the disliked profile as prompt text (either may be empty)."""
    prompt = compose_prompt("", profile)
    return prompt.positive.strip(" ,"), prompt.negative.strip(" ,")


def encode(pipe: Any, family: Family, prompt: str, negative: str, device: Any) -> dict[str, Any]:
    """The pipeline's conditioning for a prompt pair, as keyword arguments of its call."""
    if family == "sdxl":
        pe, ne, pooled, neg_pooled = pipe.encode_prompt(
            prompt=prompt,
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=True,
            negative_prompt=negative,
        )
        return {
            "prompt_embeds": pe,
            "negative_prompt_embeds": ne,
            "pooled_prompt_embeds": pooled,
            "negative_pooled_prompt_embeds": neg_pooled,
        }
    pe, ne = pipe.encode_prompt(prompt, device, 1, True, negative_prompt=negative)
    return {"prompt_embeds": pe, "negative_prompt_embeds": ne}


def guided_conditioning(
    pipe: Any,
    family: Family,
    prompt: str,
    negative: str | None,
    profile: UserProfile,
    weight: float,
    device: Any,
) -> dict[str, Any]:
    """Conditioning blended toward the profile (see the module docs)."""
    import torch

    liked, disliked = profile_prompts(profile)
    plain = encode(pipe, family, prompt, negative or "", device)
    profiled = encode(
        pipe,
        family,
        f"{prompt}, {liked}" if liked else prompt,
        ", ".join(p for p in (negative, disliked) if p),
        device,
    )
    return {key: torch.lerp(plain[key], profiled[key], weight) for key in plain}
