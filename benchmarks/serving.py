"""What the vllm:// assessor costs a real server: ranking 8 candidates for one person.

Starts the vLLM CPU server (cached venv) with the tiny Qwen2.5-VL, then ranks 8 painter
candidates against 5 liked + 5 disliked references, several ways, each with a fresh
assessor and its own `cache_salt` (so every run starts with a cold prefix cache):

- joint vs cached-profile mode: requests, prompt and completion tokens (server `usage`);
- Swiss tournament vs all pairs: comparisons;
- the server's prefix-cache hit rate over the joint run (`/metrics`);
- wall time with 4 requests in flight vs one at a time.

Targets: cached-profile <= 40% of joint's prompt tokens; tournament <= 60% of all-pairs
comparisons; prefix-cache hit rate >= 50% in joint mode. Token counts depend on image
size: references and candidates are 1024x1024 (typical SD/Flux output) at the default
1024x1024 pixel budget; use --side and --max-pixels to see other sizes.

    python benchmarks/serving.py [--side 1024] [--max-pixels 1048576] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import time
import urllib.request
import uuid
from pathlib import Path

from PIL import Image

from agentpref.assessors.vlm.openai import OpenAIAssessor
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.references import References, load_references
from agentpref.images.refs import ImageRef
from agentpref.testing.tiny_qwen import build_tiny_qwen
from agentpref.testing.vllm_cpu import start_server

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
N_CANDIDATES = 8


def _resized(ref: ImageRef, side: int) -> ImageRef:
    buffer = io.BytesIO()
    ref.image().resize((side, side), Image.Resampling.LANCZOS).save(buffer, format="PNG")
    return ImageRef.from_bytes(buffer.getvalue(), name=ref.label)


def _prefix_cache(metrics_url: str) -> tuple[float, float]:
    """(queries, hits) in tokens, summed over engines, from the server's Prometheus text."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    totals = {"queries": 0.0, "hits": 0.0}
    for kind, value in re.findall(
        r"^vllm:prefix_cache_(queries|hits)(?:_total)?(?:\{[^}]*\})? (\S+)$", text, re.M
    ):
        totals[kind] += float(value)
    return totals["queries"], totals["hits"]


def _rank(server_uri: str, refs: References, cands: list[ImageRef], max_pixels: int, **options) -> dict:
    judge = OpenAIAssessor(
        server_uri,
        "tiny",
        vllm=True,
        cache_salt=uuid.uuid4().hex,  # a cold prefix cache for every run
        max_pixels=max_pixels,
        structured="regex",
        max_rationale=40,
        max_term=24,
        max_tokens=1500,
        **options,
    )
    start = time.perf_counter()
    ranking = judge.rank(refs, cands)
    return {
        "wall_s": time.perf_counter() - start,
        "requests": judge.usage.requests,
        "comparisons": len(ranking.judgments),
        "failed": sum(j.failed for j in ranking.judgments),
        "prompt_tokens": judge.usage.prompt_tokens,
        "completion_tokens": judge.usage.completion_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1024, help="pixel side of references and candidates")
    parser.add_argument("--max-pixels", type=int, default=1024 * 1024, help="the assessor's pixel budget")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    loaded = load_references(EXAMPLES / "likes", EXAMPLES / "dislikes")
    refs = References(
        likes=[_resized(r, args.side) for r in loaded.likes[:5]],
        dislikes=[_resized(r, args.side) for r in loaded.dislikes[:5]],
        skipped=[],
    )
    painter = PainterGenerator()
    images = painter.generate("a harbour", n=N_CANDIDATES, seed=7, size=(args.side, args.side))
    cands = [ImageRef.from_bytes(g.png_bytes(), name=f"cand{i}.png") for i, g in enumerate(images)]

    with start_server(build_tiny_qwen(), served_name="tiny") as server:
        base = f"{server.base_url}/v1"
        metrics = f"{server.base_url}/metrics"
        q0, h0 = _prefix_cache(metrics)
        joint = _rank(base, refs, cands, args.max_pixels, concurrency=4)
        q1, h1 = _prefix_cache(metrics)
        cached = _rank(base, refs, cands, args.max_pixels, concurrency=4, mode="cached-profile")
        pairs = _rank(base, refs, cands, args.max_pixels, concurrency=4, ranking="all-pairs")
        serial = _rank(base, refs, cands, args.max_pixels, concurrency=1)

    hit_rate = (h1 - h0) / (q1 - q0) if q1 > q0 else 0.0
    figures = {
        "images": f"{len(refs.likes)}+{len(refs.dislikes)} references, {N_CANDIDATES} candidates, "
        f"{args.side}px, budget {args.max_pixels} px",
        "joint": joint,
        "cached_profile": cached,
        "all_pairs": pairs,
        "one_at_a_time": serial,
        "cached_vs_joint_prompt_tokens": cached["prompt_tokens"] / joint["prompt_tokens"],
        "tournament_vs_all_pairs_comparisons": joint["comparisons"] / pairs["comparisons"],
        "prefix_cache_hit_rate_joint": hit_rate,
        "concurrency_speedup": serial["wall_s"] / joint["wall_s"],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"ranking {N_CANDIDATES} candidates; {figures['images']}")
    columns = ("requests", "comparisons", "failed", "prompt tok", "compl tok", "wall s")
    print(f"{'run':<16}" + "".join(f"{c:>12}" for c in columns))
    for name in ("joint", "cached_profile", "all_pairs", "one_at_a_time"):
        r = figures[name]
        values = (r["requests"], r["comparisons"], r["failed"], r["prompt_tokens"], r["completion_tokens"])
        print(f"{name:<16}" + "".join(f"{v:>12}" for v in values) + f"{r['wall_s']:>12.1f}")
    token_share = figures["cached_vs_joint_prompt_tokens"]
    comparison_share = figures["tournament_vs_all_pairs_comparisons"]
    print(f"cached-profile / joint prompt tokens: {token_share:.0%} (target <= 40%)")
    print(f"tournament / all-pairs comparisons:   {comparison_share:.0%} (target <= 60%)")
    print(f"prefix-cache hit rate, joint mode:    {hit_rate:.0%} (target >= 50%)")
    print(f"wall time, 1 vs 4 in flight:          {figures['concurrency_speedup']:.2f}x faster with 4")


if __name__ == "__main__":
    main()
