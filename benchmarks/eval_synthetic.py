"""`agentpref eval` on a synthetic set of about 800 pairs built by train/ with the painter.

200 simulated users (30% multi-preference, 20% unseen), 5+5 references and 4 pairs each
(2 in-domain, 2 out-of-domain), 64 px; then `features` and `random` side by side:
per-split accuracy with 95% CIs, position consistency, accuracy against 1, 2, 4 and 5
references, top-k accuracy (1 liked vs 2 and 4 disliked, one group per user) and the
plots. `random` should land within its CI of 50%, and near 1/4 and 1/16 for top-2 and
top-4 (a coin has to win every pair of the group; with ~200 groups one seed can miss).

    python benchmarks/eval_synthetic.py [--out runs/eval800] [--users 200] [--pairs 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from agentpref.backends import load_generator
from agentpref.train.dataset_build import build_dataset
from agentpref.train.users import sample_users


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/eval800"))
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=4, help="pairs per user (top-k needs k of them)")
    args = parser.parse_args()
    start = time.perf_counter()
    users = sample_users(args.users, seed=11, mp_fraction=0.3, unseen_fraction=0.2)
    manifest = build_dataset(args.out / "data", users, load_generator("painter"), refs_per_side=5,
                             pairs_per_user=args.pairs, size=(64, 64), seed=11)  # fmt: skip
    print(f"dataset: {manifest.samples} pairs ({manifest.run.identical_pairs} left out as identical) "
          f"in {time.perf_counter() - start:.0f} s", file=sys.stderr)  # fmt: skip
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "agentpref.cli", "eval", str(args.out / "data"), "--assessor", "features",
         "--assessor", "random", "--out", str(args.out / "eval")],
        check=True,
    )  # fmt: skip
    print(f"eval: {time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
