"""agentpref in one page: learn a taste from the example folders, judge, personalise.

Runs on any CPU with the embedded backends (`features` assessor, `painter` generator);
no model weights, no network. Paths resolve relative to this file, so it runs from any
working directory:

    python examples/sdk_quickstart.py

Each run writes a new folder under examples/runs/ with the candidates and an HTML report.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import agentpref

HERE = Path(__file__).resolve().parent
PROMPT = "a lighthouse at dawn"


def main(out: Path | None = None) -> Path:
    """Run the tour; `out` is the run folder (default: a new one under examples/runs/)."""
    out = out or HERE / "runs" / time.strftime("quickstart-%Y%m%d-%H%M%S")
    # 1. Predict the person's visual preference profile from what they liked and disliked.
    judge = agentpref.load_assessor("features")
    refs = agentpref.load_references(HERE / "likes", HERE / "dislikes")
    profile = judge.profile(refs.likes, refs.dislikes)
    print("== profile (PreferThinker tag text)")
    print(profile.to_tag_text())

    # 2. Generate two candidates steered by that profile, then judge them per element.
    gen = agentpref.load_generator("painter")
    a, b = gen.generate(PROMPT, n=2, seed=7, size=(384, 384), profile=profile)
    judgment = judge.compare(profile, a.image, b.image)
    print("\n== A vs B, per element (score A, score B, why B)")
    for s in judgment.scores:
        print(f"{s.element.value:16} {s.score_a:4.1f} {s.score_b:4.1f}  {s.rationale_b}")
    print(f"winner: {judgment.winner}  (totals {judgment.total_a} vs {judgment.total_b})")

    # 3. The whole loop: profile -> prompt -> generate -> assess -> refine, with a report.
    result = agentpref.personalize(refs, PROMPT, n=3, iterations=2, out=out)
    print("\n== personalise")
    print(f"best candidate: {result.best.path}")
    print(f"report:         {result.report_path}")
    return result.report_path


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
