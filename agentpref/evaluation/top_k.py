"""Top-k groups: one liked image against k disliked ones (learn-user-pref's setting), from pairwise data.

A pairwise benchmark says, per user, which image of each pair won (liked) and which lost
(disliked). learn-user-pref asks a harder question: shown one liked and k disliked images
of the same user, does the judge put the liked one first? A pairwise judge puts it first
when it prefers it to each of the k disliked images, so a group is k pairs: the anchor
pair itself (rank 0) and k - 1 more that put the anchor's winner against losers of the
same user's other pairs (ranks 1 .. k - 1). Groups of k = 2 and k = 4 share their first
pairs, so asking for both costs only the larger group.

>>> pairs = [PairSample(sample_id=f"u-{i}", split="SP_ID", user_id="u", refs_liked=["l.png"],
...                     refs_disliked=[], image_a=f"win{i}.png", image_b=f"lose{i}.png", answer="Image A")
...          for i in range(3)]
>>> plan = with_top_k(pairs, k_max=4)
>>> [(s.k_group, s.k_rank, s.winner) for s in plan]
[('u-0', 0, 'A'), (None, 0, 'A'), (None, 0, 'A'), ('u-0', 1, 'B'), ('u-0', 2, 'A')]
>>> [(s.image_a, s.image_b) for s in plan[3:]]  # the liked image alternates sides
[('lose1.png', 'win0.png'), ('win0.png', 'lose2.png')]
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from agentpref.samples import PairSample

GROUP_SEPARATOR = "~vs~"


def _winner(s: PairSample) -> str:
    return s.image_a if s.winner == "A" else s.image_b


def _loser(s: PairSample) -> str:
    return s.image_b if s.winner == "A" else s.image_a


def _pair(anchor: PairSample, disliked: str, rank: int) -> PairSample:
    # The id names the disliked image, not its rank, so a rerun on changed data (another
    # --limit) never reads a stored judgment of a different pair; the liked image takes
    # side B on odd ranks so a judge's position bias does not decide the group.
    liked_first = rank % 2 == 0
    digest = hashlib.sha256(disliked.encode()).hexdigest()[:12]
    return anchor.model_copy(
        update={
            "sample_id": f"{anchor.sample_id}{GROUP_SEPARATOR}{digest}",
            "image_a": _winner(anchor) if liked_first else disliked,
            "image_b": disliked if liked_first else _winner(anchor),
            "answer": "Image A" if liked_first else "Image B",
            "prompt": "",  # the two images come from different prompts
            "k_group": anchor.sample_id,
            "k_rank": rank,
        }
    )


def with_top_k(samples: Sequence[PairSample], k_max: int, per_user: int = 1) -> list[PairSample]:
    """`samples` with up to `per_user` anchors per user marked, then the groups' extra pairs.

    A user's disliked pool is the losers of their pairs that never won one of them (an image
    that won elsewhere is not plainly disliked), in load order. An anchor is one of the
    user's first pairs whose loser is in the pool; its group takes the next pool images
    after that loser, wrapping round, up to `k_max` in all. A user with a single usable
    pair gets no group, and a smaller pool gives a smaller group (it then counts only
    towards the k it reaches). A group may span splits (a user's in- and out-of-domain
    pairs); it counts in its anchor's split. Deterministic: the same data gives the same groups.
    """
    if k_max < 2 or per_user < 1:
        return list(samples)
    by_user: dict[str | int, list[PairSample]] = defaultdict(list)
    for s in samples:
        by_user[s.user_id].append(s)
    anchors: dict[str, PairSample] = {}
    extra: list[PairSample] = []
    for pairs in by_user.values():
        winners = {_winner(s) for s in pairs}
        pool = list(dict.fromkeys(_loser(s) for s in pairs if _loser(s) not in winners))
        if len(pool) < 2:
            continue
        for anchor in [s for s in pairs if _loser(s) in pool][:per_user]:
            start = pool.index(_loser(anchor))
            others = [pool[(start + i) % len(pool)] for i in range(1, len(pool))]
            marked = anchor.model_copy(update={"k_group": anchor.sample_id, "k_rank": 0})
            anchors[anchor.sample_id] = marked
            extra += [_pair(marked, d, rank) for rank, d in enumerate(others[: k_max - 1], start=1)]
    return [anchors.get(s.sample_id, s) for s in samples] + extra
