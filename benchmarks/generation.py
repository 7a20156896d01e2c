"""What the `diffusers:` generator adds over a bare pipeline call, and painter vs diffusers speed.

On the tiny random SD1 pipeline (`agentpref.testing.tiny_diffusers`), one image at a time:

- a bare `pipe(prompt, num_inference_steps, guidance_scale, width, height, generator)` call;
- `DiffusersGenerator.generate(...)` for the same image (seed handling, parameters,
  notes, RGB conversion): its overhead per image (target: under 10%);
- images per second of the painter and of the tiny SD pipeline at the same size.

Calls alternate and the medians are compared, so machine noise hits both sides alike.

    python benchmarks/generation.py [--size 256] [--steps 4] [--repeats 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from agentpref.generators.diffusers.pipeline import DiffusersGenerator
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.testing.tiny_diffusers import build_tiny_pipeline


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    side, steps = args.size, args.steps

    folder = build_tiny_pipeline("sd")
    generator = DiffusersGenerator(str(folder), steps=steps, guidance=7.5, batch_size=1)
    pipe = generator.pipeline()
    prompt, negative = "a lighthouse at dawn, palette of teal", "crimson"

    def bare(seed: int) -> None:
        with torch.inference_mode():
            pipe(
                prompt=prompt,
                negative_prompt=negative,
                num_inference_steps=steps,
                guidance_scale=7.5,
                width=side,
                height=side,
                generator=[torch.Generator("cpu").manual_seed(seed)],
            )

    def ours(seed: int) -> None:
        generator.generate(prompt, negative, n=1, seed=seed, size=(side, side))

    painter = PainterGenerator()
    bare(0), ours(0)  # warm-up: first calls allocate
    bare_s, ours_s, painter_s = [], [], []
    for i in range(args.repeats):
        bare_s.append(_timed(lambda i=i: bare(i)))
        ours_s.append(_timed(lambda i=i: ours(i)))
        painter_s.append(_timed(lambda i=i: painter.generate(prompt, n=1, seed=i, size=(side, side))))
    bare_med, ours_med, painter_med = (statistics.median(x) for x in (bare_s, ours_s, painter_s))
    figures = {
        "size": side,
        "steps": steps,
        "repeats": args.repeats,
        "bare_pipeline_s": bare_med,
        "agentpref_generate_s": ours_med,
        "overhead": ours_med / bare_med - 1,
        "tiny_sd_images_per_s": 1 / bare_med,
        "painter_images_per_s": 1 / painter_med,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"tiny SD1 pipeline, {side}x{side}, {steps} steps, guidance 7.5, median of {args.repeats}")
    print(f"bare pipeline call:        {bare_med * 1000:8.1f} ms/image")
    print(f"DiffusersGenerator:        {ours_med * 1000:8.1f} ms/image")
    print(f"agentpref overhead:        {figures['overhead']:+8.1%} (target < 10%)")
    print(f"images/s, tiny SD:         {figures['tiny_sd_images_per_s']:8.2f}")
    print(f"images/s, painter:         {figures['painter_images_per_s']:8.2f}")


if __name__ == "__main__":
    main()
