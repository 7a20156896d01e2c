"""Do our painter and our features judge agree on our vocabulary? (issue 13)

For every treatment (Artistic Medium) and composition family (Art Style) the painter
draws, renders with that term and every other element drawn at random are measured by the
features judge. Per class and size it prints the share of renders whose most likely
treatment/family is the painted one (top-1), the judge's most common wrong answer, and the
mean element score (0-5) of a profile that names only the painted term. 512 px is what
the prototypes are calibrated at; 128 px is what the loop benchmark paints.

Seeds 8,000,000+ (the test uses 7,000,000+, calibration 5,000,000+).

    python benchmarks/painter_agreement.py [--renders 10] [--sizes 512 128] [--json]

Targets: top-1 >= 70% for every class at every size, mean score >= 3.5.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from PIL import Image

from agentpref.assessors.features.assessor import FeaturesAssessor
from agentpref.assessors.features.distances import family_probabilities, treatment_probabilities
from agentpref.generators.painter.generator import PainterGenerator
from agentpref.images.measure import Measurements
from agentpref.profile import Element, Profile, UserProfile
from agentpref.vocabulary import Term, load_vocabulary

SEED = 8_000_000
ELEMENTS = (Element.ARTISTIC_MEDIUM, Element.ART_STYLES)
HINT = {Element.ARTISTIC_MEDIUM: "treatment", Element.ART_STYLES: "family"}
RECOGNISE: dict[Element, Callable[[Measurements], dict[str, float]]] = {
    Element.ARTISTIC_MEDIUM: treatment_probabilities,
    Element.ART_STYLES: family_probabilities,
}


def classes(element: Element) -> dict[str, list[Term]]:
    """The element's vocabulary terms grouped by the painter hint they carry."""
    out: dict[str, list[Term]] = {}
    for t in load_vocabulary().terms(element):
        out.setdefault(str(getattr(t, HINT[element])), []).append(t)
    return dict(sorted(out.items()))


def renders(
    element: Element, name: str, seed: int, count: int, size: int
) -> Iterator[tuple[Term, Image.Image]]:
    """`count` paintings of class `name` (its terms in turn), every other element random."""
    vocab, painter = load_vocabulary(), PainterGenerator()
    other = ELEMENTS[1] if element is ELEMENTS[0] else ELEMENTS[0]
    own, others = classes(element)[name], classes(other)
    rng = random.Random(seed)
    for i in range(count):
        term = own[i % len(own)]
        likes = Profile(
            color=[t.name for t in rng.sample(vocab.terms(Element.COLOR), 2)],
            saturation=[rng.choice(vocab.terms(Element.SATURATION)).name],
            detail=[rng.choice(vocab.terms(Element.DETAIL)).name],
        ).with_terms(element, [term.name])
        likes = likes.with_terms(other, [rng.choice(others[rng.choice(sorted(others))]).name])
        image = painter.generate("", seed=seed + i, size=(size, size), profile=UserProfile(likes=likes))
        yield term, image[0].image


def agreement(element: Element, name: str, seed: int, count: int, size: int) -> dict[str, Any]:
    judge = FeaturesAssessor()
    guesses: list[str] = []
    scores: list[float] = []
    for term, image in renders(element, name, seed, count, size):
        p = RECOGNISE[element](judge.measure(image))
        guesses.append(max(p, key=p.__getitem__))
        naming = UserProfile(likes=Profile().with_terms(element, [term.name]))
        scores.append(judge.score(naming, image)[1][element])
    wrong = Counter(g for g in guesses if g != name).most_common(1)
    return {
        "top1": sum(g == name for g in guesses) / count,
        "score": round(float(np.mean(scores)), 3),
        "confused_with": wrong[0][0] if wrong else None,
    }


def run(count: int, sizes: list[int]) -> dict[str, Any]:
    t0 = time.perf_counter()
    rows = []
    for e_index, element in enumerate(ELEMENTS):
        for c_index, name in enumerate(classes(element)):
            seed = SEED + 1_000_000 * e_index + 10_000 * c_index
            row: dict[str, Any] = {"element": element.value, "class": name}
            for size in sizes:
                row[str(size)] = agreement(element, name, seed + size, count, size)
            rows.append(row)
            print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return {"renders": count, "sizes": sizes, "rows": rows, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--renders", type=int, default=10, help="renders per class and size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 128], help="canvas sides, px")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()
    r = run(args.renders, args.sizes)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"painter vs features judge: {r['renders']} renders per class and size, {r['seconds']} s")
    head = "".join(f" | top-1@{s:<4} score@{s:<4} confused with" for s in r["sizes"])
    print(f"{'element':16s} {'class':14s}{head}")
    for row in r["rows"]:
        cells = "".join(
            f" | {c['top1']:>7.0%} {c['score']:>10.2f} {c['confused_with'] or '-':13s}"
            for c in (row[str(s)] for s in r["sizes"])
        )
        print(f"{row['element']:16s} {row['class']:14s}{cells}")
    worst = min(row[str(s)]["top1"] for row in r["rows"] for s in r["sizes"])
    print(f"lowest top-1: {worst:.0%} (target >= 70%)")


if __name__ == "__main__":
    main()
