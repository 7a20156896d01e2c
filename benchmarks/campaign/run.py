"""Run the campaign of bad inputs against agentpref and print what each did, by area.

    python benchmarks/campaign/run.py                         # every case, one at a time
    python benchmarks/campaign/run.py --only images --jobs 2  # one area, two at once
    python benchmarks/campaign/run.py --json > campaign.json  # every case's record too

Columns: clear (the expected outcome: a message naming the culprit, or the right result),
unclear (exit 2/3 without naming it, or refused where it should succeed), traceback,
hang, silent wrong (exit 0 where it must fail, or a wrong result), escaped (a file read
outside its root, code run from data, a secret printed, written or sent).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import CLASSES, Case, run_case

AREAS = ("images", "metadata", "bench", "uris", "cli", "sdk", "remote", "runs")


def all_cases() -> list[Case]:
    cases = [c for area in AREAS for c in importlib.import_module(f"cases_{area}").CASES]
    ids = Counter(c.id for c in cases)
    if dup := [i for i, n in ids.items() if n > 1]:
        raise SystemExit(f"duplicate case ids: {', '.join(dup)}")
    return cases


def table(records: list[dict[str, Any]]) -> str:
    columns = [*CLASSES, *sorted({r["class"] for r in records} - set(CLASSES))]
    rows = []
    for area in [*AREAS, "total"]:
        mine = [r for r in records if area == "total" or r["area"] == area]
        if not mine:
            continue
        counts = Counter(r["class"] for r in mine)
        clear = 100 * counts["clear"] / len(mine)
        rows.append([area, str(len(mine)), *(str(counts[c]) for c in columns), f"{clear:.0f}%"])
    header = ["area", "cases", *columns, "% clear"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    rule = "  ".join("-" * w for w in widths)
    head = "  ".join(
        v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(header, widths, strict=True))
    )
    return "\n".join([head, rule, *lines[:-1], rule, lines[-1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=AREAS, metavar="AREA", help=f"areas: {', '.join(AREAS)}")
    parser.add_argument("--case", nargs="+", metavar="ID", help="only these case ids (or id prefixes)")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    parser.add_argument(
        "--timeout", type=float, help="wall-clock seconds per case (default: each case's, 20 s)"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print every case's record as JSON on stdout (the table goes to stderr)",
    )
    parser.add_argument(
        "--source", metavar="DIR", help="measure the agentpref package in DIR instead of the installed one"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args()

    cases = [c for c in all_cases() if not args.only or c.area in args.only]
    if args.case:
        cases = [c for c in cases if any(c.id.startswith(p) for p in args.case)]
    if args.timeout is not None:
        from dataclasses import replace

        cases = [replace(c, timeout=args.timeout) for c in cases]
    if args.list:
        for c in cases:
            print(f"{c.id}\t{c.area}\t{c.description}")
        return

    if args.source:
        harness.SOURCE.append(str(Path(args.source).resolve()))
    # A broken install would classify every case as a traceback: refuse to measure it.
    probe = subprocess.run([harness.AGENTPREF, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SystemExit(f"agentpref does not start here, nothing measured:\n{probe.stderr[-500:]}")
    start = time.monotonic()
    records: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="agentpref-campaign-") as tmp,
        concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool,
    ):
        futures = {pool.submit(run_case, c, Path(tmp)): c for c in cases}
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            record = future.result()
            records.append(record)
            mark = "" if record["class"] == "clear" else f"  <- {record['class']}: {record['why'][:120]}"
            print(f"[{done}/{len(cases)}] {record['id']} {record['seconds']:.1f}s{mark}", file=sys.stderr)
    elapsed = time.monotonic() - start
    order = {c.id: i for i, c in enumerate(cases)}
    records.sort(key=lambda r: order[r["id"]])

    # With --json, stdout is the JSON alone (redirect it to a file) and the table goes to stderr.
    report = sys.stderr if args.json else sys.stdout
    print(table(records), file=report)
    print(f"\n{len(records)} cases in {elapsed:.0f} s with --jobs {args.jobs}", file=report)
    others = [r for r in records if r["class"] != "clear"]
    if others:
        print("\nnot clear:", file=report)
        for r in others:
            print(f"  {r['class']:<13} {r['id']}: {r['why'][:150]}", file=report)
    if args.json:
        print(json.dumps({"seconds": round(elapsed, 1), "jobs": args.jobs, "cases": records}, indent=1))


if __name__ == "__main__":
    main()
