"""How much `import agentpref` and `agentpref --help` cost over a bare interpreter.

Target: `agentpref --help` under 0.5 s more than `python -c pass`. Each command is run
several times, interleaved, in this one run (the machine is noisy); medians printed.

    python benchmarks/startup.py [--runs 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    entry = shutil.which("agentpref")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import agentpref": [sys.executable, "-c", "import agentpref"],
        "agentpref --help": [entry, "--help"] if entry else [sys.executable, "-m", "agentpref.cli", "-h"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(_time(cmd))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    overhead = medians["agentpref --help"] - medians["python -c pass"]
    if args.json:
        print(json.dumps({"median_s": medians, "help_overhead_s": overhead, "target_s": 0.5}))
        return
    for name, value in medians.items():
        print(f"{name:<20} {value * 1000:7.0f} ms (median of {args.runs})")
    verdict = "PASS" if overhead < 0.5 else "FAIL"
    print(f"{'--help overhead':<20} {overhead * 1000:7.0f} ms  target < 500 ms: {verdict}")


if __name__ == "__main__":
    main()
