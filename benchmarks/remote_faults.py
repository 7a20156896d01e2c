"""How `agentpref compare` ends against a hostile assessor server: time to a clear exit and memory.

For each fault of `agentpref.testing.fake_openai` (trickle: one byte every 2 s; endless:
a chunked body that never ends; huge: a 50 MB answer; hang: no answer at all) the CLI runs
in a child process with `timeout=T&retries=0`. Printed: the exit code, seconds from the
server receiving the request to the child's exit against the deadline T (target: under
T + 1 s), and the child's peak RSS above the same command against a closed port (target:
under 100 MB).

    python benchmarks/remote_faults.py [--timeout 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from agentpref.testing.fake_openai import run_measured, serve_fake

LIKES = Path(__file__).resolve().parent.parent / "examples" / "likes"
FAULTS = ("trickle", "endless", "huge", "hang")


@dataclass
class Row:
    exit_code: int
    seconds_after_request: float | None
    peak_rss_mb: float
    rss_growth_mb: float = 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0, help="the assessor's deadline per attempt (s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "A.png", Path(tmp) / "B.png"
        Image.new("RGB", (64, 48), "red").save(a)
        Image.new("RGB", (64, 48), "blue").save(b)
        command = [sys.executable, "-m", "agentpref.cli", "compare", "--refs", str(LIKES), str(a), str(b)]
        rows: dict[str, Row] = {}
        for mode in ("refuse", *FAULTS):
            with serve_fake(mode) as server:
                uri = server.uri(timeout=args.timeout, retries=0)
                # A client without bounds is killed (exit -9) at 2 GB or after a minute.
                limits = {"kill_after": args.timeout + 60, "kill_above_mb": 2048}
                ended = run_measured([*command, "--assessor", uri, "--json"], **limits)
            took = None if server.first_request_at is None else ended.ended_at - server.first_request_at
            rows[mode] = Row(ended.code, took, ended.peak_rss_mb)
    baseline = rows["refuse"].peak_rss_mb
    for row in rows.values():
        row.rss_growth_mb = row.peak_rss_mb - baseline
    if args.json:
        print(json.dumps({"deadline_s": args.timeout, "faults": {m: asdict(r) for m, r in rows.items()}}))
        return
    print(f"deadline {args.timeout:g} s, retries 0; baseline (closed port) peak RSS {baseline:.0f} MB")
    print(f"{'fault':<10} {'exit':>4} {'s after request':>16} {'RSS growth MB':>14}  verdict")
    for mode in FAULTS:
        row = rows[mode]
        took = row.seconds_after_request
        ok = row.exit_code == 3 and took is not None and took < args.timeout + 1 and row.rss_growth_mb < 100
        shown = "-" if took is None else f"{took:.2f}"
        verdict = "PASS" if ok else "FAIL"
        print(f"{mode:<10} {row.exit_code:>4} {shown:>16} {row.rss_growth_mb:>14.1f}  {verdict}")


if __name__ == "__main__":
    main()
