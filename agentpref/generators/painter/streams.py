"""Random streams, one per painting decision, that a variation re-draws element by element.

Every decision (which colours, where they go, which marks, which composition) draws from
its own stream, a child of the image's seed. A seed therefore keeps what it decided about
one element when the prompt changes another, and a *variation* (`{Element.ART_STYLES: 2}`)
re-draws only the streams of the elements it names: the same picture with, say, a new
composition. Variation 0 is the seed's own draw.

>>> from agentpref.profile import Element
>>> a = decision_streams(np.random.default_rng(7), [Element.COLOR, Element.DETAIL], {})
>>> b = decision_streams(np.random.default_rng(7), [Element.COLOR, Element.DETAIL], {Element.DETAIL: 1})
>>> a[0].random() == b[0].random(), a[1].random() == b[1].random()
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from agentpref.profile import Element

Variation = Mapping[Element, int]


def decision_streams(
    rng: np.random.Generator, owners: Sequence[Element], variation: Variation
) -> list[np.random.Generator]:
    """One stream per decision; `owners[k]` is the element decision k shapes. Without a
    variation these are `rng.spawn(len(owners))`; a varied element's streams are other
    children of the same seed."""
    seq = rng.bit_generator.seed_seq
    assert isinstance(seq, np.random.SeedSequence)
    plain = rng.spawn(len(owners))
    return [
        np.random.default_rng(np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, k, v)))
        if (v := variation.get(owner, 0))
        else plain[k]
        for k, owner in enumerate(owners)
    ]
