"""What the loop costs beside the generator and the judge, as a run grows.

1. Wall time per iteration of `agentpref generate -n 4 --iterations 20` on the examples
   (painter + features, 512 px; the target is set out of reach so all 20 rounds run), read
   from the run's events.jsonl: iterations 16-20 should cost within 1.2x of iterations 1-5.
   The bookkeeping (record, checkpoint, report) must not grow with the run.
2. Size of LangGraph's `updates` events in the same kind of run: what a client streaming the
   graph receives per step; the generate step's event, per candidate, should stay under 5 KB
   at iteration 20.

    python benchmarks/loop_overhead.py [--iterations 20] [--json]

Works against any checkout with an `agentpref generate` command (part 1 reads only the run
folder), so the same script measures an older tree for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def iteration_seconds(run: Path) -> list[float]:
    """Seconds per iteration: from the profile (or the previous round's assessment) to this round's."""
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    marks = [e["time"] for e in events if e["event"] == "profile"][:1]
    marks += [e["time"] for e in events if e["event"] == "assessed"]
    return [b - a for a, b in itertools.pairwise(marks)]


def run_cli(iterations: int, n: int, out: Path) -> list[float]:
    entry = shutil.which("agentpref")
    cli = [entry] if entry else [sys.executable, "-m", "agentpref.cli"]
    command = [*cli, "generate", "--refs", str(ROOT / "examples"), "--prompt", "a lighthouse at dawn"]
    command += ["-n", str(n), "--iterations", str(iterations), "--target", "5", "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return iteration_seconds(out)


def _size(value: Any) -> int:
    return len(json.dumps(value, default=lambda o: o.model_dump(mode="json")).encode())


def update_sizes(iterations: int, n: int, out: Path) -> dict[str, Any]:
    """Bytes of each node's update event, by iteration (in-process, small images: sizes only)."""
    import agentpref

    sizes: dict[str, list[int]] = {}

    def on_progress(kind: str, payload: dict[str, Any]) -> None:
        if kind == "node":
            sizes.setdefault(payload["node"], []).append(_size(payload["update"]))

    agentpref.personalize(
        ROOT / "examples", "a lighthouse at dawn", n=n, iterations=iterations, target=5.0, out=out,
        size=(128, 128), on_progress=on_progress,
    )  # fmt: skip
    last = {node: values[-1] for node, values in sizes.items()}
    return {
        "per_node_at_last_iteration": last,
        "generate_per_candidate": round(last["generate"] / n),
        "largest": max(max(v) for v in sizes.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("-n", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-updates", action="store_true", help="skip part 2 (for trees without it)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seconds = run_cli(args.iterations, args.n, Path(tmp) / "cli")
        updates = None if args.no_updates else update_sizes(args.iterations, args.n, Path(tmp) / "sdk")
    first, last = statistics.mean(seconds[:5]), statistics.mean(seconds[-5:])
    result = {
        "iterations": len(seconds),
        "seconds_per_iteration": [round(s, 3) for s in seconds],
        "first_5_mean_s": round(first, 3),
        "last_5_mean_s": round(last, 3),
        "ratio": round(last / first, 3),
        "updates_bytes": updates,
    }
    if args.json:
        print(json.dumps(result))
        return
    verdict = "PASS" if result["ratio"] <= 1.2 else "FAIL"
    print(f"per iteration: first 5 {first:.2f} s, last 5 {last:.2f} s", end=", ")
    print(f"ratio {last / first:.2f} (target <= 1.2): {verdict}")
    if updates:
        per = updates["generate_per_candidate"]
        print(f"updates at iteration {args.iterations}: {updates['per_node_at_last_iteration']} bytes")
        print(f"generate event per candidate {per} B (< 5 KB) {'PASS' if per < 5000 else 'FAIL'}")


if __name__ == "__main__":
    main()
