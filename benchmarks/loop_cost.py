"""What the loop itself costs per image, beside the generator and the judge (issue 13, point 5).

1. Loop overhead per image at 512 px: a run of `personalize()` whose generator returns
   ready-made photo-like pictures (their PNG encoding costs what a diffusion model's output
   costs) and whose judge is the embedded `features` assessor with those pictures already
   measured (as with a GPU generator and a GPU judge, the CPU is the loop's: a judge
   measuring on the CPU meanwhile would make the loop's threads and the judge slow each
   other, and the subtraction below could not tell whose time was whose); the generator's
   and the judge's calls are timed, and what is left of the run's wall time, divided by the
   images made, is the loop's own cost: encoding and saving candidates, hashing, records,
   checkpoints, report thumbnails, the refine step. Per image is the slope between a run and one twice as
   long, the median over several such pairs; what a run costs once (graph, checkpointer,
   references) is printed beside it.
   Target: at most 10 ms per image at the default PNG level.
2. Batched against one-per-call generation on the tiny random Stable Diffusion pipeline
   (CPU): four candidates in one call against four calls of one, same seeds.

    python benchmarks/loop_cost.py [--iterations 3] [-n 4] [--size 512] [--levels 1,0,6] [--repeats 5]
                                   [--breakdown] [--no-tiny] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def photo_like(seed: int, size: tuple[int, int]) -> Image.Image:
    """Smooth random structure plus sensor-like noise: compresses like a photograph, not a flat render."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((24, 24, 3)) * 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC
    )
    noisy = np.asarray(coarse, dtype=np.float32) + rng.normal(0.0, 5.0, (size[1], size[0], 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


class Timed:
    """Adds up the seconds spent inside the wrapped object's listed methods."""

    def __init__(self, inner: Any, methods: Sequence[str]) -> None:
        self.inner, self.seconds, self.calls = inner, 0.0, 0
        for method in methods:
            setattr(self, method, self._timed(getattr(inner, method)))

    def _timed(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class ReadyImages:
    """A generator whose pictures are made before the run (so its own time is near zero)."""

    name = "ready-images"

    def __init__(self, pool: list[Image.Image]) -> None:
        self.pool = pool

    def generate(
        self, prompt: str, negative_prompt: str | None = None, n: int = 1, seed: int | None = None, **_: Any
    ) -> list[Any]:
        from agentpref.generators.base import GeneratedImage

        first = seed or 0
        return [
            GeneratedImage(
                self.pool[(first + i) % len(self.pool)], first + i, prompt, negative_prompt, self.name
            )
            for i in range(n)
        ]


def loop_seconds(iterations: int, n: int, side: int, level: int, out: Path) -> tuple[float, dict[str, float]]:
    """(the loop's own seconds, the parts' seconds) of one run."""
    import agentpref
    from agentpref.assessors.features.assessor import FeaturesAssessor
    from agentpref.images.png import encode_png
    from agentpref.images.refs import ImageRef

    pool = [photo_like(seed, (side, side)) for seed in range(iterations * n + 3)]
    generator = Timed(ReadyImages(pool), ["generate"])
    judge = FeaturesAssessor()
    for picture in pool:  # measured already, as the loop will save it: the judge's work is its own
        judge.measure(ImageRef.from_encoded(encode_png(picture, level), picture))
    assessor = Timed(judge, ["profile", "rank", "compare", "score"])
    start = time.perf_counter()
    agentpref.personalize(
        ROOT / "examples", "a lighthouse at dawn", n=n, iterations=iterations, target=5.0,
        out=out, size=(side, side), generator=generator, assessor=assessor, png_compression=level,
    )  # fmt: skip
    wall = time.perf_counter() - start
    shutil.rmtree(out)  # a long benchmark would otherwise fill the disk with candidates
    parts = {"wall": wall, "generator": generator.seconds, "judge": assessor.seconds}
    return wall - generator.seconds - assessor.seconds, parts


def loop_overhead(iterations: int, n: int, side: int, level: int, repeats: int, out: Path) -> dict[str, Any]:
    """Per image: the slope between a run of `iterations` rounds and one of twice as many (what
    each further image costs), the median of `repeats` such pairs (one pair swings by several ms
    per image on a shared machine); fixed: what is left (graph, checkpointer, references)."""
    slopes, fixed, runs = [], [], []
    for r in range(repeats):
        short, parts = loop_seconds(iterations, n, side, level, out / f"short-{r}")
        long, _ = loop_seconds(2 * iterations, n, side, level, out / f"long-{r}")
        per_image = (long - short) / (iterations * n)
        slopes.append(per_image)
        fixed.append(short - per_image * iterations * n)
        runs.append(parts)
    middle = sorted(range(repeats), key=lambda i: slopes[i])[repeats // 2]
    return {
        "png_compression": level,
        "side": side,
        "ms_per_image": round(slopes[middle] * 1000, 1),
        "ms_per_image_each": sorted(round(s * 1000, 1) for s in slopes),
        "fixed_ms_per_run": round(fixed[middle] * 1000, 1),
        "short_run": {k: round(v, 3) for k, v in runs[middle].items()} | {"images": iterations * n},
    }


# What `--breakdown` times: (part, module, attribute where the loop looks it up).
PARTS = [
    ("PNG encoding", "agentpref.generators.base", "encode_png"),
    ("sha256", "agentpref.images.refs", "content_hash"),
    ("report thumbnails", "agentpref.images.store", "ImageStore.thumbnail"),
    ("candidate files (synced)", "agentpref.runs.folder", "RunFolder.save_candidate"),
    ("events log", "agentpref.runs.folder", "RunFolder.log"),
    ("report rendering", "agentpref.loop.nodes", "render_report"),
    ("record files (background, synced)", "agentpref.runs.folder", "RunFolder.write_record"),
    ("checkpoints", "langgraph.checkpoint.sqlite", "SqliteSaver.put"),
    ("checkpoints' pending writes", "langgraph.checkpoint.sqlite", "SqliteSaver.put_writes"),
    ("refine node", "agentpref.loop.nodes", "refine"),
]


def breakdown(iterations: int, n: int, side: int, level: int, out: Path) -> dict[str, float]:
    """Milliseconds per image spent in each of `PARTS` during one run, summed over threads."""
    import functools
    import importlib
    import threading

    spent = dict.fromkeys([part for part, _, _ in PARTS], 0.0)
    lock = threading.Lock()
    restore = []
    for part, module, attribute in PARTS:
        owner: Any = importlib.import_module(module)
        *path, name = attribute.split(".")
        for step in path:
            owner = getattr(owner, step)
        real = getattr(owner, name)

        def timed(*args: Any, _real: Any = real, _part: str = part, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                with lock:
                    spent[_part] += time.perf_counter() - start

        setattr(owner, name, functools.wraps(real)(timed))
        restore.append((owner, name, real))
    try:
        loop_seconds(iterations, n, side, level, out)
    finally:
        for owner, name, real in restore:
            setattr(owner, name, real)
    return {part: round(seconds * 1000 / (iterations * n), 2) for part, seconds in spent.items()}


def batched_vs_single(n: int, repeats: int) -> dict[str, Any]:
    from agentpref.generators.diffusers.pipeline import DiffusersGenerator
    from agentpref.testing.tiny_diffusers import build_tiny_pipeline

    generator = DiffusersGenerator(str(build_tiny_pipeline("sd")), steps=4)
    generator.generate("warm up", n=1, seed=0, size=(64, 64))

    def one_call() -> float:
        start = time.perf_counter()
        generator.generate("a lighthouse", n=n, seed=10, size=(64, 64))
        return time.perf_counter() - start

    def single_calls() -> float:
        start = time.perf_counter()
        for i in range(n):
            generator.generate("a lighthouse", n=1, seed=10 + i, size=(64, 64))
        return time.perf_counter() - start

    batched, single = [], []
    for _ in range(repeats):  # interleaved: a noisy machine slows both alike
        batched.append(one_call())
        single.append(single_calls())
    b, s = statistics.median(batched), statistics.median(single)
    return {"n": n, "one_call_s": round(b, 3), "single_calls_s": round(s, 3), "speedup": round(s / b, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--iterations", type=int, default=3, help="rounds of the shorter run (the other has twice)"
    )
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--levels", default="1,0,6", help="PNG compression levels to measure; the first is the target's"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="pairs of runs per level, and tiny-pipeline timings (medians)"
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="then time the loop's parts in a run at the first level"
    )
    parser.add_argument("--no-tiny", action="store_true", help="skip part 2 (needs the diffusers extra)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    overheads = []
    with tempfile.TemporaryDirectory() as tmp:
        loop_seconds(1, args.n, args.size, 1, Path(tmp) / "warm-up")  # imports and first-use costs
        for level in [int(x) for x in args.levels.split(",")]:
            print(f"part 1: runs of ready-made photo-like images, PNG level {level} ...", file=sys.stderr)
            overheads.append(
                loop_overhead(args.iterations, args.n, args.size, level, args.repeats, Path(tmp) / str(level))
            )
        level = int(args.levels.split(",")[0])
        parts = (
            breakdown(2 * args.iterations, args.n, args.size, level, Path(tmp) / "parts")
            if args.breakdown
            else None
        )
    tiny = None
    if not args.no_tiny:
        print("part 2: the tiny Stable Diffusion pipeline, batched and one per call ...", file=sys.stderr)
        tiny = batched_vs_single(args.n, args.repeats)
    if args.json:
        print(json.dumps({"loop": overheads, "parts_ms_per_image": parts, "tiny_pipeline": tiny}))
        return
    for i, o in enumerate(overheads):
        verdict = f" (target <= 10: {'PASS' if o['ms_per_image'] <= 10 else 'FAIL'})" if i == 0 else ""
        short = o["short_run"]
        print(
            f"loop overhead at {o['side']}px, PNG level {o['png_compression']}: {o['ms_per_image']} ms per "
            f"image{verdict} (median of {o['ms_per_image_each']}), {o['fixed_ms_per_run']} ms per run; "
            f"a run of {short['images']} images took "
            f"{short['wall']} s: generator {short['generator']} s, judge {short['judge']} s, the rest loop"
        )
    if parts:
        print(
            f"where it goes at PNG level {level}, ms per image summed over threads (parts run in parallel "
            "and beside the judge, so they do not add up to the figure above):"
        )
        for part, ms in parts.items():
            print(f"  {part:36s} {ms:6.2f}")
    if tiny:
        print(
            f"tiny pipeline, {tiny['n']} images: one call {tiny['one_call_s']} s, {tiny['n']} calls of one "
            f"{tiny['single_calls_s']} s ({tiny['speedup']}x)"
        )


if __name__ == "__main__":
    main()
