"""How fast are the embedded backends? (painter render, features compare with a cold cache)

- painter: one 512x512 image from a full profile, median over varied profiles and seeds
  (target < 0.3 s);
- features: compare two 1024x1024 candidates against 8 liked + 8 disliked references with
  a cold measurement cache (a fresh assessor each run; images already decoded, as they
  are when loaded once and judged), median over runs (target < 1 s); plus the same
  compare with a warm cache.

    python benchmarks/embedded_speed.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.profile import Element, Profile, UserProfile
from agentpref.vocabulary import load_vocabulary

SEED = 20_000_000


def _random_profile(rng: random.Random) -> Profile:
    vocab = load_vocabulary()

    def pick(e: Element, k: int = 1) -> list[str]:
        return [t.name for t in rng.sample(vocab.terms(e), k)]

    return Profile(
        color=pick(Element.COLOR, 2),
        saturation=pick(Element.SATURATION),
        detail=pick(Element.DETAIL),
        artistic_medium=pick(Element.ARTISTIC_MEDIUM),
        art_styles=pick(Element.ART_STYLES),
    )


def painter_times(runs: int) -> list[float]:
    painter = PainterGenerator()
    rng = random.Random(SEED)
    times = []
    for i in range(runs):
        profile = UserProfile(likes=_random_profile(rng))
        t = time.perf_counter()
        painter.generate("", seed=SEED + i, size=(512, 512), profile=profile)
        times.append(time.perf_counter() - t)
    return times


def compare_times(runs: int) -> tuple[list[float], float]:
    painter = PainterGenerator()
    rng = random.Random(SEED + 1)
    liked, disliked = _random_profile(rng), _random_profile(rng)

    def paint(p: Profile, seed: int, side: int) -> ImageRef:
        img = painter.generate("", seed=seed, size=(side, side), profile=UserProfile(likes=p))[0].image
        ref = ImageRef.from_pil(img, name=f"{seed}.png")
        ref.image()  # decoded once, as a loaded reference is
        return ref

    refs = References(
        likes=[paint(liked, SEED + 100 + i, 512) for i in range(8)],
        dislikes=[paint(disliked, SEED + 200 + i, 512) for i in range(8)],
    )
    a, b = paint(liked, SEED + 300, 1024), paint(disliked, SEED + 301, 1024)
    cold = []
    for _ in range(runs):
        judge = FeaturesAssessor()
        t = time.perf_counter()
        judge.compare(refs, a, b)
        cold.append(time.perf_counter() - t)
    t = time.perf_counter()
    judge.compare(refs, a, b)
    warm = time.perf_counter() - t
    return cold, warm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    paint = painter_times(max(args.runs, 3) * 3)
    cold, warm = compare_times(args.runs)
    result: dict[str, Any] = {
        "painter_512_median_s": round(statistics.median(paint), 4),
        "painter_512_p90_s": round(sorted(paint)[int(0.9 * len(paint))], 4),
        "painter_512_max_s": round(max(paint), 4),
        "painter_renders": len(paint),
        "compare_1024_cold_median_s": round(statistics.median(cold), 4),
        "compare_warm_s": round(warm, 4),
        "compare_runs": len(cold),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"painter 512x512        : median {result['painter_512_median_s']:.3f} s, "
        f"p90 {result['painter_512_p90_s']:.3f} s, max {result['painter_512_max_s']:.3f} s "
        f"over {len(paint)} profiles (target < 0.3 s)"
    )
    print(
        f"features compare 1024px: median {result['compare_1024_cold_median_s']:.3f} s cold cache, "
        f"8+8 refs, {len(cold)} runs (target < 1 s); warm cache {warm:.3f} s"
    )


if __name__ == "__main__":
    main()
