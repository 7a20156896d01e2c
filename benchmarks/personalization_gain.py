"""Does the loop personalise? The loop against best-of-B at the same image budget (issue 13, point 4).

For each user, three ways to spend the same budget of B images with the same generator (the
painter) and the same judge (the embedded features assessor):

  (a) the loop: `personalize()`, n images per round for B/n rounds, refining in between;
  (b) best-of-B: one round of B images from the plain personalised prompt, no refinement;
  (c) the subject alone: B images of the bare subject, no profile.

Each is graded twice: by the judge's score of its best image (what the loop optimises) and by
an independent measure the loop never sees: how much nearer the best image is to the user's
nearest liked reference than to the nearest disliked one, in measured features (palette,
saturation and lightness, detail, texture, layout; `distances.distance`, mean over elements,
in units a person notices).

Two kinds of user:
  - painter users: simulated tastes (`agentpref.train.users.sample_users`), their references
    painted with seeds 20,000,000+ (tests use small seeds, calibration 5,000,000+);
  - real-photo users: photographs bundled with scikit-image, liked and disliked after
    controlled transforms (`agentpref.testing.photo_users`).

    python benchmarks/personalization_gain.py [--users 40] [-n 4] [--rounds 3] [--size 128] [--json]

Prints, per kind of user: the mean best score after each round with a 95% CI (bootstrap over
users), the paired gains (a)-(b) and (b)-(c) on both measures with their 95% CIs, the share of
loop runs that improve after round 1, and the share of runs of each way that reach the target.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = "a harbour at dawn"
REFERENCE_SEED = 20_000_000
TARGET = 4.5


@dataclass
class User:
    kind: str
    name: str
    likes: list[Any]
    dislikes: list[Any]
    seed: int


def painter_users(count: int, size: int, seed: int, n_refs: int = 4) -> list[User]:
    from agentpref.generators.painter.generator import PainterGenerator
    from agentpref.images.refs import ImageRef
    from agentpref.profile import UserProfile
    from agentpref.train.users import sample_users

    painter = PainterGenerator()

    def paint(profile: Any, s: int) -> ImageRef:
        image = painter.generate("", seed=s, size=(size, size), profile=UserProfile(likes=profile))[0]
        return ImageRef.from_pil(image.image, name=f"ref-{s}.png")

    users = []
    for i, u in enumerate(sample_users(count, seed=seed, mp_fraction=0.3)):
        base = REFERENCE_SEED + (seed * 10_000 + i) * 100
        likes = [paint(u.likes, base + j) for j in range(n_refs)]
        dislikes = [paint(u.dislikes, base + 50 + j) for j in range(n_refs)]
        users.append(User("painter", u.user_id, likes, dislikes, seed=base))
    return users


def real_photo_users(count: int, seed: int) -> list[User]:
    from agentpref.testing.photo_users import photo_users

    return [
        User("real-photo", u.name, list(u.likes), list(u.dislikes), seed=REFERENCE_SEED + 9_000_000 + i * 100)
        for i, u in enumerate(photo_users(count, seed=seed))
    ]


def independent(judge: Any, image: Any, user: User) -> float:
    """Mean over elements of (distance to the nearest disliked reference - to the nearest liked one)."""
    from agentpref.assessors.features.distances import distance
    from agentpref.profile import ELEMENTS

    m = judge.measure(image)
    likes = [judge.measure(r) for r in user.likes]
    dislikes = [judge.measure(r) for r in user.dislikes]
    gaps = [
        min(distance(e, m, d) for d in dislikes) - min(distance(e, m, x) for x in likes) for e in ELEMENTS
    ]
    return float(np.mean(gaps))


def run_user(
    user: User, n: int, rounds: int, size: int, judge: Any, painter: Any, tmp: Path
) -> dict[str, Any]:
    import agentpref
    from agentpref.images.references import References
    from agentpref.images.refs import ImageRef

    refs = References(likes=user.likes, dislikes=user.dislikes)
    budget = n * rounds
    common = {"target": 5.0, "size": (size, size), "seed": user.seed, "assessor": judge, "generator": painter}
    loop = agentpref.personalize(refs, SUBJECT, n=n, iterations=rounds, out=tmp / "loop", **common).record
    best_of = agentpref.personalize(
        refs, SUBJECT, n=budget, iterations=1, out=tmp / "best-of", **common
    ).record
    plain = painter.generate(SUBJECT, n=budget, seed=user.seed + 1000, size=(size, size))
    plain_refs = [ImageRef.from_pil(g.image, name=f"plain-{i}.png") for i, g in enumerate(plain)]
    plain_rank = judge.rank(refs, plain_refs)

    def image(run: Path, record: Any) -> ImageRef:
        assert record.best is not None
        return ImageRef.from_path(run / record.candidate(record.best).file)

    per_round, best = [], 0.0
    for it in loop.iterations:
        best = max(best, it.best_score or 0.0)
        per_round.append(best)
    plain_best = next(r for r in plain_refs if r.label == plain_rank.best.label)
    return {
        "kind": user.kind,
        "user": user.name,
        "loop_rounds": per_round,
        "loop": per_round[-1],
        "best_of": best_of.iterations[0].best_score,
        "subject": plain_rank.best.score,
        "loop_independent": independent(judge, image(tmp / "loop", loop), user),
        "best_of_independent": independent(judge, image(tmp / "best-of", best_of), user),
        "subject_independent": independent(judge, plain_best, user),
    }


def mean_ci(values: list[float], seed: int = 0, resamples: int = 10_000) -> tuple[float, float, float]:
    """Mean and its 95% bootstrap percentile interval (fixed seed: the same figures every run)."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), (resamples, len(x)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def summarise(rows: list[dict[str, Any]], rounds: int, max_score: float = 25.0) -> dict[str, Any]:
    reached = TARGET / 5.0 * max_score

    def ci(values: list[float]) -> list[float]:
        return [round(v, 3) for v in mean_ci(values)]

    return {
        "users": len(rows),
        "loop_by_round": [ci([r["loop_rounds"][k] for r in rows]) for k in range(rounds)],
        "best_of": ci([r["best_of"] for r in rows]),
        "subject": ci([r["subject"] for r in rows]),
        "gain_loop_over_best_of": ci([r["loop"] - r["best_of"] for r in rows]),
        "gain_best_of_over_subject": ci([r["best_of"] - r["subject"] for r in rows]),
        "independent": {
            way: ci([r[f"{way}_independent"] for r in rows]) for way in ("loop", "best_of", "subject")
        },
        "independent_gain_loop_over_best_of": ci(
            [r["loop_independent"] - r["best_of_independent"] for r in rows]
        ),
        "independent_gain_best_of_over_subject": ci(
            [r["best_of_independent"] - r["subject_independent"] for r in rows]
        ),
        "loop_improves_after_round_1": round(
            float(np.mean([r["loop_rounds"][-1] > r["loop_rounds"][0] for r in rows])), 3
        ),
        "reach_target": {
            way: round(float(np.mean([r[way] >= reached - 1e-9 for r in rows])), 3)
            for way in ("loop", "best_of", "subject")
        },
    }


def _fmt(ci: list[float]) -> str:
    return f"{ci[0]:6.2f} [{ci[1]:.2f}, {ci[2]:.2f}]"


def _signed(ci: list[float]) -> str:
    verdict = "CI excludes 0" if ci[1] > 0 or ci[2] < 0 else "CI includes 0"
    return f"{ci[0]:+.3f} [{ci[1]:+.3f}, {ci[2]:+.3f}] ({verdict})"


def print_table(kind: str, s: dict[str, Any], n: int, rounds: int) -> None:
    budget = n * rounds
    print(
        f"\n{kind} users: {s['users']}; budget {budget} images ({n} x {rounds} rounds); "
        "judge score of the best /25"
    )
    print("  " + " " * 18 + "".join(f"after round {k + 1:<12}" for k in range(rounds)))
    print("  loop              " + "".join(f"{_fmt(c):<24}" for c in s["loop_by_round"]))
    print(f"  best-of-{budget:<10}{' ' * 24 * (rounds - 1)}{_fmt(s['best_of'])}")
    print(f"  subject alone     {' ' * 24 * (rounds - 1)}{_fmt(s['subject'])}")
    print(f"  gain loop - best-of-{budget}:      judge {_signed(s['gain_loop_over_best_of'])}")
    print(f"  {'':27}independent {_signed(s['independent_gain_loop_over_best_of'])}")
    print(f"  gain best-of-{budget} - subject:   judge {_signed(s['gain_best_of_over_subject'])}")
    print(f"  {'':27}independent {_signed(s['independent_gain_best_of_over_subject'])}")
    ind = s["independent"]
    print(
        "  independent measure (nearest disliked - nearest liked, units): "
        f"loop {_fmt(ind['loop'])}, best-of {_fmt(ind['best_of'])}, subject {_fmt(ind['subject'])}"
    )
    reach = s["reach_target"]
    print(
        f"  loop runs improving after round 1: {s['loop_improves_after_round_1']:.0%} (target >= 80%); "
        f"reaching {TARGET}/element: loop {reach['loop']:.0%}, best-of {reach['best_of']:.0%}, "
        f"subject {reach['subject']:.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40, help="users of each kind")
    parser.add_argument("--kinds", default="painter,real-photo")
    parser.add_argument("-n", type=int, default=4, help="images per round of the loop")
    parser.add_argument("--rounds", type=int, default=3, help="the loop's rounds; the budget is n x rounds")
    parser.add_argument("--size", type=int, default=128, help="image side (px)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from agentpref.assessors.features.assessor import FeaturesAssessor
    from agentpref.generators.painter.generator import PainterGenerator

    judge, painter = FeaturesAssessor(cache_size=4096), PainterGenerator()
    results: dict[str, Any] = {}
    for kind in args.kinds.split(","):
        start = time.perf_counter()
        print(f"{kind} users: building {args.users} ...", file=sys.stderr)
        users = (
            painter_users(args.users, args.size, args.seed)
            if kind == "painter"
            else real_photo_users(args.users, args.seed)
        )
        rows = []
        for i, user in enumerate(users):
            with tempfile.TemporaryDirectory() as tmp:
                rows.append(run_user(user, args.n, args.rounds, args.size, judge, painter, Path(tmp)))
            if (i + 1) % 5 == 0:
                print(
                    f"  {kind}: {i + 1}/{len(users)} users, {time.perf_counter() - start:.0f} s",
                    file=sys.stderr,
                )
        results[kind] = {"summary": summarise(rows, args.rounds), "rows": rows}
    if args.json:
        print(json.dumps({"settings": vars(args), "results": results}))
        return
    for kind, result in results.items():
        print_table(kind, result["summary"], args.n, args.rounds)


if __name__ == "__main__":
    main()
