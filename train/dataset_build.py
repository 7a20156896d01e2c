"""Render a PreferImg-style dataset for simulated users: sharded, content-addressed, resumable.

For each user: `refs_per_side` reference prompts; reference i is rendered twice from the same
prompt and seed, once from the liked and once from the disliked profile (so the two sides
differ in taste only, as in PreferThinker's data). Then `pairs_per_user` candidate pairs on
an in-domain or out-of-domain subject: an image of the liked profile against one of the
disliked profile ("contrast") or against the liked profile with one element switched to a
disliked term ("near"), the correct answer placed at A or B at random. A multi-preference
user's images each show one liked term per element, cycling so the references cover them all.

Resuming: every image has a plan key (a hash of everything that goes into it) and a seed
derived from the build seed and the user, so a rerun plans exactly the same images. A
finished render is first written to `pending/<key>.png` (atomically), then recorded in the
shard's ledger (`ledger/ledger-NNNNN.json`, key -> sha256, rewritten atomically) and moved to
`images/ab/<sha256>.png`; a rerun adopts pending files, skips every key the ledger knows
whose image exists, and renders only the rest. A shard's `samples-NNNNN.jsonl` is written
atomically once all its images exist, and skipped on rerun.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from agentpref.errors import InputError
from agentpref.images.refs import content_hash
from agentpref.io import write_atomic
from agentpref.samples import PairSample, read_samples, write_samples
from agentpref.train.dataset_plan import BUILD_VERSION, BuildConfig, Planner
from agentpref.train.users import SimulatedUser, prompt_split

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from agentpref.generators.base import Generator


def image_path(sha256: str) -> str:
    """Where an image lives inside a dataset folder (relative, '/'-separated)."""
    return f"images/{sha256[:2]}/{sha256}.png"


class ShardInfo(BaseModel):
    file: str
    samples: int
    images: int
    sha256: str


class RunStats(BaseModel):
    """What one call did (not written to manifest.json, so reruns leave identical files)."""

    rendered: int = 0
    reused: int = 0
    adopted: int = Field(0, description="renders a killed run finished but never recorded")
    shards_written: int = 0
    shards_skipped: int = 0
    identical_pairs: int = Field(0, description="pairs left out: both images rendered the same pixels")
    seconds: float = 0.0


class DatasetManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: BuildConfig
    shards: list[ShardInfo] = Field(default_factory=list)
    samples: int = 0
    images: int = 0
    splits: dict[str, int] = Field(default_factory=dict)
    complete: bool = False
    run: RunStats | None = Field(None, exclude=True)


class Ledger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = BUILD_VERSION
    images: dict[str, str] = Field(default_factory=dict, description="plan key -> sha256 of the PNG")


@dataclass(frozen=True)
class BuildProgress:
    shard: int
    shards: int
    done: int
    total: int
    rendered: int
    reused: int


class _Shard:
    """Paths and ledger of one shard."""

    def __init__(self, out: Path, index: int) -> None:
        self.out, self.index = out, index
        self.samples_file = out / f"samples-{index:05d}.jsonl"
        self.ledger_file = out / "ledger" / f"ledger-{index:05d}.json"
        self.ledger = Ledger()
        if self.ledger_file.exists():
            try:
                self.ledger = Ledger.model_validate_json(self.ledger_file.read_text())
            except ValueError as exc:
                raise InputError(
                    f"{self.ledger_file}: unreadable ledger ({exc}); delete it to re-render"
                ) from None
        self.uncommitted: dict[str, str] = {}

    def pending(self, key: str) -> Path:
        return self.out / "pending" / f"{key}.png"

    def done(self, key: str) -> bool:
        sha = self.ledger.images.get(key)
        return sha is not None and (self.out / image_path(sha)).exists()

    def adopt(self, keys: Sequence[str]) -> int:
        """Record renders a killed run finished (pending files) but never committed; sweep its temp files."""
        found = 0
        for key in keys:
            for tmp in self.pending(key).parent.glob(f".{key}.png.*.tmp"):
                tmp.unlink(missing_ok=True)  # a write cut short: that render never finished
            if self.pending(key).exists():
                self.uncommitted[key] = content_hash(self.pending(key).read_bytes())
                found += 1
        for tmp in self.ledger_file.parent.glob(f".{self.ledger_file.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
        self.commit()
        return found

    def add(self, key: str, png: bytes) -> None:
        write_atomic(self.pending(key), png)
        self.uncommitted[key] = content_hash(png)

    def commit(self) -> None:
        """Ledger first, then move pending files: a kill in between leaves pending files to adopt."""
        if not self.uncommitted:
            return
        self.ledger.images = dict(sorted({**self.ledger.images, **self.uncommitted}.items()))
        write_atomic(self.ledger_file, self.ledger.model_dump_json(indent=0))
        for key, sha in self.uncommitted.items():
            target = self.out / image_path(sha)
            if target.exists():
                self.pending(key).unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(self.pending(key), target)
        self.uncommitted.clear()


def _check_config(out: Path, config: BuildConfig) -> None:
    path = out / "build.json"
    if path.exists():
        old = BuildConfig.model_validate_json(path.read_text())
        if old != config:
            diff = [k for k, v in config.model_dump().items() if getattr(old, k) != v]
            raise InputError(
                f"{out}: holds a build with other settings ({', '.join(diff)}); use a new folder"
            )
    else:
        write_atomic(path, config.model_dump_json(indent=2))


def build_dataset(
    out: str | os.PathLike[str],
    users: Sequence[SimulatedUser],
    generator: Generator,
    *,
    refs_per_side: int = 5,
    pairs_per_user: int = 2,
    size: tuple[int, int] = (256, 256),
    seed: int = 0,
    shard_size: int = 512,
    near_fraction: float = 0.5,
    shards: Sequence[int] | None = None,
    generator_id: str | None = None,
    commit_every: int = 16,
    progress: Callable[[BuildProgress], None] | None = None,
) -> DatasetManifest:
    """Render (or finish rendering) the dataset of `users` into `out`; see the module docs.

    `shard_size` is in samples (whole users per shard). `shards` builds only those shard
    indices (one worker per shard on a cluster: shards share nothing but content-addressed
    images); manifest.json is written once every shard exists. `generator_id` names the
    generator in plan keys (default `generator.name`; give the model too when it matters).
    `commit_every` renders are recorded per ledger write (pending files bridge the gap).
    """
    if min(refs_per_side, pairs_per_user, shard_size, commit_every) < 1:
        raise InputError("refs_per_side, pairs_per_user, shard_size and commit_every must be >= 1")
    if refs_per_side >= len(prompt_split("ID")):
        raise InputError(f"refs_per_side: at most {len(prompt_split('ID')) - 1} reference prompts")
    if len({u.user_id for u in users}) != len(users):
        raise InputError("users: user ids must be unique")
    started = time.perf_counter()
    root = Path(out)
    users_json = "".join(u.model_dump_json() + "\n" for u in users)
    config = BuildConfig(
        generator=generator_id or generator.name,
        size=(int(size[0]), int(size[1])),
        seed=seed,
        refs_per_side=refs_per_side,
        pairs_per_user=pairs_per_user,
        near_fraction=near_fraction,
        users_per_shard=max(1, shard_size // pairs_per_user),
        users=len(users),
        users_sha256=content_hash(users_json.encode()),
    )
    root.mkdir(parents=True, exist_ok=True)
    _check_config(root, config)
    if not (root / "users.jsonl").exists():
        write_atomic(root / "users.jsonl", users_json)
    step = config.users_per_shard
    numbered = list(enumerate(users))  # a user's position alternates its pairs' domains
    groups = [numbered[i : i + step] for i in range(0, len(numbered), step)]
    wanted = sorted(set(range(len(groups)) if shards is None else shards))
    if bad := [k for k in wanted if not 0 <= k < len(groups)]:
        raise InputError(f"shards: {bad} outside 0..{len(groups) - 1}")
    # Images per user as planned (identical renders, deduplicated by key, are rare); plans
    # are made shard by shard, so a large build never holds every plan in memory.
    per_user = 2 * refs_per_side + 2 * pairs_per_user
    stats, counter = RunStats(), _Counter(total=sum(len(groups[k]) for k in wanted) * per_user)
    for k in wanted:
        shard = _Shard(root, k)
        if shard.samples_file.exists():
            stats.shards_skipped += 1
            counter.done += len(groups[k]) * per_user
            continue
        planner = Planner(config)
        plan = [s for pos, u in groups[k] for s in planner.user(pos, u)]
        _render_shard(shard, planner, generator, stats, counter, commit_every, progress, len(groups))
        counter.done += len(groups[k]) * per_user - len(planner.images)
        shas = shard.ledger.images
        # Two profiles can render the same pixels (a colour change under a monochrome liked
        # saturation, say): such a pair shows no preference, so it is left out, not labelled.
        same = [p for p in plan if shas[p.image_a] == shas[p.image_b]]
        if same:
            stats.identical_pairs += len(same)
            log.warning(
                "shard %d: %d pair(s) rendered both images identical and were left out: %s",
                k, len(same), ", ".join(str(p.fields["sample_id"]) for p in same[:5]),
            )  # fmt: skip
        samples = [
            PairSample(
                **p.fields,  # type: ignore[arg-type]
                refs_liked=[image_path(shas[x]) for x in p.refs_liked],
                refs_disliked=[image_path(shas[x]) for x in p.refs_disliked],
                image_a=image_path(shas[p.image_a]),
                image_b=image_path(shas[p.image_b]),
            )
            for p in plan
            if shas[p.image_a] != shas[p.image_b]
        ]
        write_samples(shard.samples_file, samples)
        stats.shards_written += 1
    with contextlib.suppress(OSError):
        (root / "pending").rmdir()  # only when empty: another worker may still be using it
    manifest = _manifest(root, config, len(groups))
    stats.seconds = round(time.perf_counter() - started, 3)
    manifest.run = stats
    return manifest


@dataclass
class _Counter:
    total: int
    done: int = 0


def _render_shard(
    shard: _Shard,
    planner: Planner,
    generator: Generator,
    stats: RunStats,
    counter: _Counter,
    commit_every: int,
    progress: Callable[[BuildProgress], None] | None,
    n_shards: int,
) -> None:
    stats.adopted += shard.adopt(list(planner.images))
    size = planner.c.size
    for key, item in planner.images.items():
        if shard.done(key):
            stats.reused += 1
        else:
            [img] = generator.generate(
                item.prompt, None, n=1, seed=item.seed, size=size, profile=item.profile
            )
            shard.add(key, img.png_bytes())
            stats.rendered += 1
            if len(shard.uncommitted) >= commit_every:
                shard.commit()
        counter.done += 1
        if progress is not None:
            progress(
                BuildProgress(
                    shard.index, n_shards, counter.done, counter.total, stats.rendered, stats.reused
                )
            )
    shard.commit()


def _manifest(root: Path, config: BuildConfig, n_shards: int) -> DatasetManifest:
    """What exists; written (deterministically: no times, no run counts) once every shard is there."""
    manifest = DatasetManifest(config=config)
    images: set[str] = set()
    for k in range(n_shards):
        path = root / f"samples-{k:05d}.jsonl"
        if not path.exists():
            return manifest
        samples = read_samples(path)
        files = {p for s in samples for p in s.image_paths()}
        images |= files
        info = ShardInfo(
            file=path.name, samples=len(samples), images=len(files), sha256=content_hash(path.read_bytes())
        )
        manifest.shards.append(info)
        for s in samples:
            manifest.splits[s.split or "?"] = manifest.splits.get(s.split or "?", 0) + 1
    manifest.samples = sum(s.samples for s in manifest.shards)
    manifest.images = len(images)
    manifest.complete = True
    write_atomic(root / "manifest.json", manifest.model_dump_json(indent=2))
    return manifest
