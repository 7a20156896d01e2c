"""Simulated users for a PreferImg-CoT-style dataset, and the prompts their images are made from.

A simulated user has a liked and a disliked `Profile` sampled from the vocabulary, with
no term on both sides of any element. A single-preference (SP) user likes one term per
element; a multi-preference (MP) user likes 2-3 terms on at least two elements. Users are
seen (their pairs may be trained on) or unseen (held out), and pairs use in-domain (ID)
or out-of-domain (OD) subjects: the SP/MP x ID/OD splits of PreferImg-Bench.

>>> users = sample_users(8, seed=1, mp_fraction=0.5, unseen_fraction=0.25)
>>> [u.kind for u in users].count("MP"), [u.seen for u in users].count(False)
(4, 2)
>>> users == sample_users(8, seed=1, mp_fraction=0.5, unseen_fraction=0.25)
True
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from agentpref.errors import InputError
from agentpref.profile import ELEMENTS, Element, Profile
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary

Kind = Literal["SP", "MP"]
Domain = Literal["ID", "OD"]
SPLITS: tuple[str, ...] = ("SP_ID", "SP_OD", "MP_ID", "MP_OD")

# In-domain subjects: nature, animals, plants and still life (the families reference images use).
ID_PROMPTS: tuple[str, ...] = (
    "a lighthouse on a rocky coast", "a mountain lake at dawn", "a fox in a snowy forest",
    "a field of sunflowers", "a waterfall in a jungle", "an owl on a branch", "a desert with dunes",
    "a bowl of fruit on a table", "a vase of tulips", "a river through a valley", "a deer in a meadow",
    "a stormy sea", "a cherry tree in bloom", "a cat sleeping on a windowsill", "an autumn forest path",
    "a hummingbird at a flower", "a wheat field under clouds", "a koi pond", "a horse on a hill",
    "a pine forest in fog", "a seashell on the sand", "a butterfly on a leaf", "a glacier",
    "a tropical beach with palms", "a teapot and cups", "a bear by a stream", "a lavender field",
    "a starry night over hills", "a cactus in a pot", "a flock of birds over a marsh",
    "a snowy mountain peak", "a basket of apples", "a whale breaching", "a garden with roses",
    "a rainbow over a valley", "a frog on a lily pad", "a wolf howling at the moon", "a bamboo grove",
    "an orchard in spring", "a coral reef with fish",
)  # fmt: skip

# Out-of-domain subjects: cities and buildings, machines, food, people and fantasy.
OD_PROMPTS: tuple[str, ...] = (
    "a busy city street at night", "a gothic cathedral", "a steam locomotive", "a vintage sports car",
    "a bowl of ramen", "a stack of pancakes", "a robot in a workshop", "a dragon over a castle",
    "a chess player deep in thought", "a jazz band on stage", "a space station orbiting a planet",
    "a lighthouse keeper's kitchen", "a market stall with spices", "a skyscraper skyline",
    "a submarine in the deep sea", "a wizard reading a book", "a bicycle leaning on a wall",
    "a chef plating a dessert", "a medieval knight", "a hot air balloon festival", "a subway platform",
    "a birthday cake with candles", "an astronaut on the moon", "a samurai under a bridge",
    "a carousel at a fair", "a sailing ship in a storm", "a library with tall shelves", "a neon diner",
    "a ballet dancer mid-leap", "a vintage typewriter", "a futuristic city", "a pizza fresh from the oven",
    "a fisherman mending nets", "a windmill in a village", "a steampunk airship", "a jazz saxophone",
    "a train station clock", "a tea ceremony", "a mechanic fixing an engine", "a fairy-tale cottage",
)  # fmt: skip


def prompt_split(domain: Domain) -> tuple[str, ...]:
    """The subjects of one domain: "ID" (what references use) or "OD" (other subject families)."""
    if domain == "ID":
        return ID_PROMPTS
    if domain == "OD":
        return OD_PROMPTS
    raise InputError(f"domain: expected 'ID' or 'OD', got {domain!r}")


def split_name(kind: Kind, domain: Domain) -> str:
    """PreferImg-Bench's split name, e.g. `split_name("MP", "OD") == "MP_OD"`."""
    return f"{kind}_{domain}"


class SimulatedUser(BaseModel):
    """One simulated person: what they like, what they don't, and whether training may see them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str
    kind: Kind
    likes: Profile
    dislikes: Profile
    seen: bool = True

    @model_validator(mode="after")
    def _check(self) -> SimulatedUser:
        multi = 0
        for e in ELEMENTS:
            liked, disliked = self.likes.terms(e), self.dislikes.terms(e)
            if not liked or not disliked:
                raise ValueError(f"user {self.user_id}: {e.value} needs liked and disliked terms")
            if both := set(liked) & set(disliked):
                raise ValueError(
                    f"user {self.user_id}: {e.value} terms {sorted(both)} are liked and disliked"
                )
            if len(liked) > 1:
                multi += 1
            if len(liked) > 3:
                raise ValueError(f"user {self.user_id}: {e.value} has {len(liked)} liked terms (at most 3)")
        if self.kind == "SP" and multi:
            raise ValueError(f"user {self.user_id}: a single-preference user likes one term per element")
        if self.kind == "MP" and multi < 2:
            raise ValueError(f"user {self.user_id}: a multi-preference user likes 2-3 terms on >= 2 elements")
        return self


# Terms closer than this cannot both be told apart in an image, so one is never liked and the
# other disliked: the pair would have no visible answer.
MIN_COLOR_DELTA_E = 25.0
MIN_RANGE_GAP = 0.0  # saturation / detail ranges of liked and disliked terms must not overlap


def _apart(vocab: Vocabulary, element: Element, a: Term, b: Term) -> bool:
    if a.name == b.name:
        return False
    if element == Element.COLOR and a.rgb is not None and b.rgb is not None:
        return float(np.linalg.norm(vocab.color_lab(a) - vocab.color_lab(b))) >= MIN_COLOR_DELTA_E
    for ra, rb in ((a.saturation_range, b.saturation_range), (a.detail_range, b.detail_range)):
        if ra is not None and rb is not None:
            return ra[1] + MIN_RANGE_GAP < rb[0] or rb[1] + MIN_RANGE_GAP < ra[0]
    return True


def _pick(
    rng: np.random.Generator, pool: list[Term], k: int, avoid: list[Term], vocab: Vocabulary, e: Element
) -> list[Term]:
    """k distinct terms from pool, each visibly apart from every term in `avoid` (relaxed when impossible)."""
    order = [pool[i] for i in rng.permutation(len(pool))]
    chosen: list[Term] = []
    for t in order:  # lazily: most draws succeed at once
        if all(_apart(vocab, e, t, a) for a in avoid):
            chosen.append(t)
            if len(chosen) == k:
                return chosen
    names = {t.name for t in chosen} | {a.name for a in avoid}
    chosen += [t for t in order if t.name not in names][: k - len(chosen)]
    if len(chosen) < k:
        raise InputError(f"vocabulary: {e.value} has too few terms for {k} distinct choices")
    return chosen


def _sample_user(
    user_id: str, kind: Kind, seen: bool, rng: np.random.Generator, vocab: Vocabulary
) -> SimulatedUser:
    multi: set[Element] = set()
    if kind == "MP":
        count = int(rng.integers(2, len(ELEMENTS) + 1))
        multi = {ELEMENTS[i] for i in rng.choice(len(ELEMENTS), size=count, replace=False)}
    likes, dislikes = Profile(), Profile()
    for e in ELEMENTS:
        pool = vocab.terms(e)
        n_liked = int(rng.integers(2, 4)) if e in multi else 1
        # Liked terms of an MP user need not be apart from each other, only from what is disliked.
        liked = _pick(rng, pool, n_liked, [], vocab, e)
        disliked = _pick(rng, pool, 1, liked, vocab, e)
        likes = likes.with_terms(e, [t.name for t in liked])
        dislikes = dislikes.with_terms(e, [t.name for t in disliked])
    return SimulatedUser(user_id=user_id, kind=kind, likes=likes, dislikes=dislikes, seen=seen)


def _exact_flags(n: int, fraction: float, rng: np.random.Generator, name: str) -> list[bool]:
    if not 0.0 <= fraction <= 1.0:
        raise InputError(f"{name}: must be within 0..1, got {fraction}")
    flags = np.zeros(n, dtype=bool)
    flags[rng.permutation(n)[: round(n * fraction)]] = True
    return [bool(x) for x in flags]


def sample_users(
    n: int,
    seed: int = 0,
    mp_fraction: float = 0.3,
    unseen_fraction: float = 0.2,
    *,
    vocabulary: Vocabulary | None = None,
) -> list[SimulatedUser]:
    """`n` users, the same for the same arguments: round(n·mp_fraction) of them MP and
    round(n·unseen_fraction) unseen, placed at random; user i draws from its own stream."""
    if n < 0:
        raise InputError(f"n: need a user count >= 0, got {n}")
    vocab = vocabulary or load_vocabulary()
    mp = _exact_flags(n, mp_fraction, np.random.default_rng([seed, 1]), "mp_fraction")
    unseen = _exact_flags(n, unseen_fraction, np.random.default_rng([seed, 2]), "unseen_fraction")
    return [
        _sample_user(
            f"s{seed}-u{i:05d}",
            "MP" if mp[i] else "SP",
            not unseen[i],
            np.random.default_rng([seed, 3, i]),
            vocab,
        )
        for i in range(n)
    ]
