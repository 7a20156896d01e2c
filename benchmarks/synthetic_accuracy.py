"""Does the features assessor recover tastes the painter paints? (synthetic users)

Each synthetic user gets a liked and a disliked profile sampled from the vocabulary, with
disjoint, measurably different terms per element (colours >= 25 CIELAB apart, Saturation
and Detail ranges that do not overlap, different medium treatments and style families).
References (4 liked + 4 disliked by default) and candidates are painted by the painter with
seeds >= 10,000,000 (tests use small seeds; the assessor's prototypes were calibrated on
seeds 5,000,000+), each image with its own seed, so no candidate repeats a reference.

Two kinds of pairs, A/B position randomised:
- liked vs disliked: a liked-profile candidate against a disliked-profile candidate;
- liked vs one-off: against a candidate that differs from the liked profile in exactly one
  measurable element (color, saturation, detail or medium, cycling), which takes the
  disliked term.

    python benchmarks/synthetic_accuracy.py [--users 200] [--size 512] [--json]
    python benchmarks/synthetic_accuracy.py --calibrate   # print treatment/family prototypes

Targets: >= 90% on liked vs disliked, >= 75% on liked vs one-off.

Calibration groups each treatment's renders by detail tier (`DETAIL_TIERS`), one prototype
component per tier with at least 3 renders; families get one component each.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any

import numpy as np

from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.assessors.features.distances import DETAIL_TIERS
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.composition import LAYOUT_FEATURES
from agentpref.images.measure import TEXTURE_FEATURES, measure
from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.profile import Element, Profile, UserProfile
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, srgb_to_lab

SEED_BASE = 10_000_000
CALIBRATION_SEED = 5_000_000
ONE_OFF = (Element.COLOR, Element.SATURATION, Element.DETAIL, Element.ARTISTIC_MEDIUM)


def _lab(t: Term) -> np.ndarray:
    return srgb_to_lab(np.array(t.rgb, dtype=np.float64))


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def sample_user(vocab: Vocabulary, rng: random.Random) -> tuple[Profile, Profile]:
    """A liked and a disliked profile with disjoint, measurably different terms per element."""
    colors = vocab.terms(Element.COLOR)
    liked_c = rng.sample(colors, 2)
    far = [t for t in colors if all(np.linalg.norm(_lab(t) - _lab(x)) >= 25 for x in liked_c)]
    disliked_c = rng.sample(far, 2)
    sats = vocab.terms(Element.SATURATION)
    ls = rng.choice(sats)
    ds = rng.choice([t for t in sats if not _overlap(t.saturation_range, ls.saturation_range)])  # type: ignore[arg-type]
    dets = vocab.terms(Element.DETAIL)
    ld = rng.choice(dets)
    dd = rng.choice([t for t in dets if not _overlap(t.detail_range, ld.detail_range)])  # type: ignore[arg-type]
    meds = vocab.terms(Element.ARTISTIC_MEDIUM)
    lm = rng.choice(meds)
    dm = rng.choice([t for t in meds if t.treatment != lm.treatment])
    styles = vocab.terms(Element.ART_STYLES)
    la = rng.choice(styles)
    da = rng.choice([t for t in styles if t.family != la.family])
    liked = Profile(
        color=[t.name for t in liked_c],
        saturation=[ls.name],
        detail=[ld.name],
        artistic_medium=[lm.name],
        art_styles=[la.name],
    )
    disliked = Profile(
        color=[t.name for t in disliked_c],
        saturation=[ds.name],
        detail=[dd.name],
        artistic_medium=[dm.name],
        art_styles=[da.name],
    )
    return liked, disliked


def _paint(painter: PainterGenerator, profile: Profile, seed: int, size: int) -> ImageRef:
    img = painter.generate("", seed=seed, size=(size, size), profile=UserProfile(likes=profile))[0]
    return ImageRef.from_pil(img.image, name=f"seed-{seed}")


def run(users: int, size: int, n_refs: int) -> dict[str, Any]:
    vocab = load_vocabulary()
    painter = PainterGenerator()
    judge = FeaturesAssessor()
    results: dict[str, list[bool]] = {"liked_vs_disliked": [], **{f"one_off_{e.field}": [] for e in ONE_OFF}}
    t0 = time.perf_counter()
    for u in range(users):
        rng = random.Random(SEED_BASE + u)
        liked, disliked = sample_user(vocab, rng)
        seed = SEED_BASE + u * 100
        refs = References(
            likes=[_paint(painter, liked, seed + i, size) for i in range(n_refs)],
            dislikes=[_paint(painter, disliked, seed + 20 + i, size) for i in range(n_refs)],
        )
        good = _paint(painter, liked, seed + 50, size)
        bad = _paint(painter, disliked, seed + 51, size)
        element = ONE_OFF[u % len(ONE_OFF)]
        off = _paint(painter, liked.with_terms(element, disliked.terms(element)), seed + 52, size)
        for key, other in (("liked_vs_disliked", bad), (f"one_off_{element.field}", off)):
            liked_is_a = rng.random() < 0.5
            a, b = (good, other) if liked_is_a else (other, good)
            j = judge.compare(refs, a, b)
            results[key].append(j.winner == ("A" if liked_is_a else "B"))
        if (u + 1) % 20 == 0:
            print(f"  {u + 1}/{users} users, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    one_off = [x for k, v in results.items() if k.startswith("one_off") for x in v]
    return {
        "users": users,
        "size": size,
        "references_per_side": n_refs,
        "liked_vs_disliked": {
            "pairs": len(results["liked_vs_disliked"]),
            "accuracy": float(np.mean(results["liked_vs_disliked"])),
        },
        "liked_vs_one_off": {"pairs": len(one_off), "accuracy": float(np.mean(one_off))},
        "one_off_by_element": {
            k.removeprefix("one_off_"): {"pairs": len(v), "accuracy": float(np.mean(v)) if v else None}
            for k, v in results.items()
            if k.startswith("one_off")
        },
        "seconds": round(time.perf_counter() - t0, 1),
    }


def calibrate(per_class: int, size: int) -> str:
    """Render painter images per treatment and family (seeds 5,000,000+) and print prototypes."""
    vocab = load_vocabulary()
    painter = PainterGenerator()
    rng = random.Random(CALIBRATION_SEED)
    by_t: dict[str, list[Term]] = {}
    by_f: dict[str, list[Term]] = {}
    for t in vocab.terms(Element.ARTISTIC_MEDIUM):
        by_t.setdefault(t.treatment or "", []).append(t)
    for t in vocab.terms(Element.ART_STYLES):
        by_f.setdefault(t.family or "", []).append(t)
    families = sorted(by_f)
    tex: dict[str, list[list[float]]] = {}
    tiers: dict[str, list[int]] = {}
    lay: dict[str, list[list[float]]] = {}
    seed = CALIBRATION_SEED
    for treatment in sorted(by_t):
        for j in range(per_class):
            family = families[j % len(families)]
            liked, _ = sample_user(vocab, rng)
            profile = liked.model_copy(
                update={
                    "artistic_medium": [rng.choice(by_t[treatment]).name],
                    "art_styles": [rng.choice(by_f[family]).name],
                }
            )
            seed += 1
            img = painter.generate("", seed=seed, size=(size, size), profile=UserProfile(likes=profile))[
                0
            ].image
            m = measure(img)
            tex.setdefault(treatment, []).append([m.texture[k] for k in TEXTURE_FEATURES])
            tiers.setdefault(treatment, []).append(int(np.searchsorted(DETAIL_TIERS, m.edge_density)))
            lay.setdefault(family, []).append([m.layout[k] for k in LAYOUT_FEATURES])

    def component(x: np.ndarray, whole: np.ndarray) -> str:
        mean = tuple(round(float(v), 4) for v in x.mean(0))
        # A tier with few renders borrows half its class's spread (no overconfident component).
        spread = tuple(round(max(float(v), 1e-3), 4) for v in np.maximum(x.std(0), 0.5 * whole.std(0)))
        return f"        (\n            {mean},\n            {spread},\n        ),"

    def table(name: str, rows: dict[str, list[list[float]]], groups: dict[str, list[int]]) -> str:
        lines = [f"{name}: dict[str, tuple[Component, ...]] = {{"]
        for key, xs in rows.items():
            x, g = np.array(xs), np.array(groups.get(key, [0] * len(xs)))
            lines.append(f'    "{key}": (')
            lines += [component(x[g == k], x) for k in sorted(set(g.tolist())) if (g == k).sum() >= 3]
            lines.append("    ),")
        return "\n".join([*lines, "}"])

    return table("TREATMENT_PROTOTYPES", tex, tiers) + "\n" + table("FAMILY_PROTOTYPES", lay, {})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=200, help="synthetic users (one pair of each kind per user)")
    ap.add_argument("--size", type=int, default=512, help="side of every painted image, px")
    ap.add_argument("--refs", type=int, default=4, help="liked and disliked references per user")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--calibrate", action="store_true", help="print treatment/family prototypes instead")
    ap.add_argument("--per-class", type=int, default=30, help="renders per treatment when calibrating")
    args = ap.parse_args()
    if args.calibrate:
        print(calibrate(args.per_class, args.size))
        return
    r = run(args.users, args.size, args.refs)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(
        f"synthetic users: {r['users']}, {r['references_per_side']}+{r['references_per_side']} references, "
        f"{r['size']}px, {r['seconds']} s"
    )
    ld, oo = r["liked_vs_disliked"], r["liked_vs_one_off"]
    print(f"liked vs disliked : {ld['accuracy']:.1%} of {ld['pairs']} pairs (target >= 90%)")
    print(f"liked vs one-off  : {oo['accuracy']:.1%} of {oo['pairs']} pairs (target >= 75%)")
    for name, v in r["one_off_by_element"].items():
        acc = "n/a" if v["accuracy"] is None else f"{v['accuracy']:.1%}"
        print(f"  differs in {name:16s}: {acc} of {v['pairs']}")


if __name__ == "__main__":
    main()
