"""The render plan of a dataset build: which images to make, with which seed, for which sample.

The plan is a pure function of the build settings and the users, so a rerun (after a kill,
or on another machine) plans exactly the same images under the same keys. A key hashes
everything that goes into one render (generator, prompt, seed, size, profile).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict

from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.prompting import compose_prompt
from agentpref.train.users import SimulatedUser, prompt_split, split_name

BUILD_VERSION = 1


class BuildConfig(BaseModel):
    """Everything that decides a build's output; a rerun in the same folder must match it."""

    model_config = ConfigDict(extra="forbid")

    version: int = BUILD_VERSION
    generator: str
    size: tuple[int, int]
    seed: int
    refs_per_side: int
    pairs_per_user: int
    near_fraction: float
    users_per_shard: int
    users: int
    users_sha256: str


@dataclass(frozen=True)
class PlannedImage:
    key: str
    prompt: str
    seed: int
    profile: UserProfile


@dataclass(frozen=True)
class PlannedSample:
    """A sample whose images are still plan keys."""

    fields: dict[str, object]
    refs_liked: tuple[str, ...]
    refs_disliked: tuple[str, ...]
    image_a: str
    image_b: str


def derive_seed(seed: int, user_id: str, tag: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}/{user_id}/{tag}".encode()).digest()[:4], "big") & 0x7FFFFFFF


def _realise(profile: Profile, pick: Callable[[Element, list[str]], str]) -> Profile:
    """One term per element (what one image shows); keywords kept."""
    out = Profile(keywords=list(profile.keywords))
    for e in ELEMENTS:
        if terms := profile.terms(e):
            out = out.with_terms(e, [pick(e, terms)])
    return out


class Planner:
    """Plans images (deduplicated by key, in first-use order) and samples, one user at a time."""

    def __init__(self, config: BuildConfig) -> None:
        self.c = config
        self.images: dict[str, PlannedImage] = {}

    def image(self, subject: str, profile: Profile, seed: int) -> str:
        shown = UserProfile(likes=profile)
        prompt = compose_prompt(subject, shown).positive
        spec = {
            "generator": self.c.generator,
            "prompt": prompt,
            "seed": seed,
            "size": list(self.c.size),
            "profile": shown.model_dump(mode="json"),
        }
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]
        self.images.setdefault(key, PlannedImage(key, prompt, seed, shown))
        return key

    def user(self, position: int, user: SimulatedUser) -> list[PlannedSample]:
        c, uid = self.c, user.user_id
        rng = np.random.default_rng(derive_seed(c.seed, uid, "plan"))
        in_domain = list(prompt_split("ID"))
        ref_prompts = [in_domain[i] for i in rng.permutation(len(in_domain))[: c.refs_per_side]]
        offsets = {e: int(rng.integers(0, 3)) for e in ELEMENTS}

        def cycled(profile: Profile, i: int) -> Profile:
            return _realise(profile, lambda e, terms: terms[(offsets[e] + i) % len(terms)])

        def drawn(profile: Profile) -> Profile:
            return _realise(profile, lambda e, terms: terms[int(rng.integers(len(terms)))])

        liked, disliked = [], []
        for i, subject in enumerate(ref_prompts):
            s = derive_seed(c.seed, uid, f"ref-{i}")
            liked.append(self.image(subject, cycled(user.likes, i), s))
            disliked.append(self.image(subject, cycled(user.dislikes, i), s))
        samples = []
        for j in range(c.pairs_per_user):
            domain = "OD" if (position + j) % 2 else "ID"
            pool = [p for p in prompt_split(domain) if p not in ref_prompts]
            subject = pool[int(rng.integers(len(pool)))]
            chosen = drawn(user.likes)
            near = bool(rng.random() < c.near_fraction)
            if near:
                e = ELEMENTS[int(rng.integers(len(ELEMENTS)))]
                bad = user.dislikes.terms(e)
                other = chosen.with_terms(e, [bad[int(rng.integers(len(bad)))]])
            else:
                other = drawn(user.dislikes)
            s = derive_seed(c.seed, uid, f"pair-{j}")
            good, bad_key = self.image(subject, chosen, s), self.image(subject, other, s)
            good_first = bool(rng.random() < 0.5)
            fields: dict[str, object] = {
                "sample_id": f"{uid}-p{j}",
                "user_id": uid,
                "split": split_name(user.kind, domain),
                "seen": user.seen,
                "pair_kind": "near" if near else "contrast",
                "prompt": subject,
                "reference_prompts": ref_prompts,
                "answer": "Image A" if good_first else "Image B",
                "likes": user.likes,
                "dislikes": user.dislikes,
            }
            a, b = (good, bad_key) if good_first else (bad_key, good)
            samples.append(PlannedSample(fields, tuple(liked), tuple(disliked), a, b))
        return samples
