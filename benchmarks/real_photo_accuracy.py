"""Does the embedded judge read real photographs right? (issue 13, point 3)

Users are made of scikit-image's bundled photographs changed by controlled transforms
(`agentpref.testing.photo_users`): the transforms are the ground truth for lightness,
saturation, colour (warm or cool cast) and detail. For each user the features judge predicts
a profile from the liked and disliked photos, and `profile_agreement` says per element
whether the profile reads the truth right (its docstring gives the rule).

Then two consistency checks on candidate photos (other transformed photos):
- `compare(references, a, b)` and `compare(profile predicted from them, a, b)` should pick
  the same winner (`--pairs` pairs, spread over the users, A/B drawn by a seeded generator);
- comparing an image with itself should tie, by references and by profile. A tie is a
  judgment whose winner is neither "A" nor "B" (and which did not fail).

    python benchmarks/real_photo_accuracy.py [--users 40] [--seed 0] [--pairs 200] [--json] [--misses]

Targets (issue 13): >= 90% agreement per element; same winner on 100% of pairs; every
self-compare a tie. Results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.judgment import Judgment
from agentpref.profile import Element, Profile
from agentpref.testing.photo_users import (
    ELEMENT_NAMES,
    candidate_photos,
    one_sided,
    photo_users,
    profile_agreement,
)

CANDIDATES = 40


def is_tie(j: Judgment) -> bool:
    return not j.failed and j.winner not in ("A", "B")


def _percent(hits: int, total: int) -> float | None:
    return round(100.0 * hits / total, 1) if total else None


def run(n_users: int, seed: int, n_pairs: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    judge = FeaturesAssessor()
    print(f"building {n_users} photo users (seed {seed})", file=sys.stderr)
    users = photo_users(n_users, seed)
    counts = {e: {"constrained": 0, "agree": 0, "one_sided": 0} for e in ELEMENT_NAMES}
    per_user: list[dict[str, Any]] = []
    profiles = []
    fully_right = 0
    for i, user in enumerate(users):
        profile = judge.profile(user.likes, user.dislikes)
        profiles.append(profile)
        agreement = profile_agreement(profile, user.truth)
        fully_right += all(ok is not False for ok in agreement.values())
        for e, ok in agreement.items():
            if ok is None:
                continue
            counts[e]["constrained"] += 1
            counts[e]["agree"] += int(ok)
            counts[e]["one_sided"] += int(one_sided(profile, e))
        per_user.append(
            {
                "name": user.name,
                "truth": user.truth.model_dump(),
                "agreement": agreement,
                "likes": _terms(profile.likes),
                "dislikes": _terms(profile.dislikes),
            }
        )
        if (i + 1) % 10 == 0:
            print(f"  profiles: {i + 1}/{n_users}, {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    print(f"comparing {n_pairs} pairs of {CANDIDATES} candidate photos", file=sys.stderr)
    candidates = candidate_photos(CANDIDATES, seed)
    rng = np.random.default_rng([seed, 7])
    same = 0
    for k in range(n_pairs):
        u = k % n_users
        ia, ib = (int(x) for x in rng.choice(CANDIDATES, size=2, replace=False))
        a, b = candidates[ia], candidates[ib]
        by_refs = judge.compare(users[u].references(), a, b)
        by_profile = judge.compare(profiles[u], a, b)
        same += int(by_refs.winner == by_profile.winner)
        if (k + 1) % 50 == 0:
            print(f"  pairs: {k + 1}/{n_pairs}, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    ties_refs = ties_profile = 0
    for u, user in enumerate(users):
        image = candidates[u % CANDIDATES]
        ties_refs += int(is_tie(judge.compare(user.references(), image, image)))
        ties_profile += int(is_tie(judge.compare(profiles[u], image, image)))

    agree = sum(c["agree"] for c in counts.values())
    constrained = sum(c["constrained"] for c in counts.values())
    return {
        "users": n_users,
        "seed": seed,
        "agreement": {e: {**c, "percent": _percent(c["agree"], c["constrained"])} for e, c in counts.items()},
        "overall": {"constrained": constrained, "agree": agree, "percent": _percent(agree, constrained)},
        "users_fully_right_percent": _percent(fully_right, n_users),
        "refs_vs_profile_same_winner": {"pairs": n_pairs, "percent": _percent(same, n_pairs)},
        "self_compare_ties": {
            "images": n_users,
            "by_references_percent": _percent(ties_refs, n_users),
            "by_profile_percent": _percent(ties_profile, n_users),
        },
        "seconds": round(time.perf_counter() - t0, 1),
        "per_user": per_user,
    }


def _terms(side: Profile) -> dict[str, list[str]]:
    """The side's terms for the four elements read; an element it marks uncertain gets a "?"."""
    return {
        **{
            e.field + ("?" if side.is_uncertain(e) else ""): side.terms(e)
            for e in (Element.SATURATION, Element.DETAIL, Element.COLOR)
        },
        "keywords": side.keywords,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=40, help="photo users (default 40)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the users and candidates")
    ap.add_argument("--pairs", type=int, default=200, help="pairs for refs-vs-profile (default 200)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON (with every user)")
    ap.add_argument(
        "--misses", action="store_true", help='also list every element a profile got wrong ("?": uncertain)'
    )
    args = ap.parse_args()
    if args.users < 1 or args.pairs < 0:
        ap.error("--users must be at least 1 and --pairs at least 0")
    r = run(args.users, args.seed, args.pairs)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"real-photo users: {r['users']} (seed {r['seed']}), {r['seconds']} s")
    print(f"{'element':12s} {'agree':>7s} {'of':>4s} {'one-sided':>10s}   (target >= 90%)")
    for e, c in r["agreement"].items():
        pct = "n/a" if c["percent"] is None else f"{c['percent']:.1f}%"
        print(f"{e:12s} {pct:>7s} {c['constrained']:>4d} {c['one_sided']:>10d}")
    o = r["overall"]
    print(f"{'overall':12s} {o['percent']:.1f}% {o['constrained']:>4d}")
    print(f"users with every element right: {r['users_fully_right_percent']:.1f}%")
    s = r["refs_vs_profile_same_winner"]
    if s["pairs"]:
        print(
            "compare(refs) and compare(profile) pick the same winner: "
            f"{s['percent']:.1f}% of {s['pairs']} pairs"
        )
    t = r["self_compare_ties"]
    print(
        f"an image compared with itself ties: {t['by_references_percent']:.1f}% by references, "
        f"{t['by_profile_percent']:.1f}% by profile ({t['images']} images)"
    )
    if args.misses:
        for p in r["per_user"]:
            wrong = [e for e, ok in p["agreement"].items() if ok is False]
            if wrong:
                print(f"  {p['name']}: wrong on {', '.join(wrong)}")
                print(f"    likes {p['likes']}\n    dislikes {p['dislikes']}")


if __name__ == "__main__":
    main()
