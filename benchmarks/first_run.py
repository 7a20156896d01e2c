"""Wall time of the README's main job on the bundled examples (target: under 60 s).

Runs `agentpref generate` exactly as README command 1 does (after install), into a
temporary folder, and checks that the run folder holds what the README promises.

    python benchmarks/first_run.py [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ("report.html", "profile.json", "judgments.jsonl", "summary.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    entry = shutil.which("agentpref")
    cli = [entry] if entry else [sys.executable, "-m", "agentpref.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "first"
        likes, dislikes = str(ROOT / "examples/likes"), str(ROOT / "examples/dislikes")
        cmd = [*cli, "generate", "--refs", likes, "--dislikes", dislikes, "--prompt", "a lighthouse at dawn"]
        cmd += ["--out", str(out)]
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        missing = [name for name in EXPECTED if not (out / name).is_file()]
        images = len(list((out / "images").glob("*.png")))
    result = {"wall_s": round(seconds, 2), "target_s": 60, "images": images, "missing": missing}
    if args.json:
        print(json.dumps(result))
        return
    verdict = "PASS" if seconds < 60 and not missing else "FAIL"
    print(
        f"README command 1: {seconds:.1f} s wall, {images} images, missing: {missing or 'none'} -> {verdict}"
    )


if __name__ == "__main__":
    main()
