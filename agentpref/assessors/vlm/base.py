"""What every assessor backed by a reasoning VLM shares, whatever carries its requests.

PreferThinker (or any chat VLM) is asked in PreferThinker's layout (`agentpref.preferthinker.requests`);
a backend only supplies `_complete(request, sampling) -> Completion`: the openai backend
sends it over HTTP, the hf backend runs transformers in-process. This module adds on top:

- two modes. `joint` sends the references with both candidates in every request, exactly
  as the model was trained: the most faithful, and with a fixed reference order a server
  with prefix caching re-uses the references' KV blocks. `cached-profile` predicts the
  profile once per person, then compares with the profile as text and only the two
  candidates: far fewer prompt tokens, but the model judges against its own summary, not
  the pictures, which it was not trained to do.
- a malformed answer is asked again (with sampling, since greedy decoding would repeat
  it) and after `parse_retries` becomes a failed `Judgment` carrying the raw text;
- an optional swapped second pass (B shown first) against position bias;
- `rank` as a Swiss tournament of concurrent comparisons (`tournament`);
- a cache of every profile and comparison, so nothing is asked twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from agentpref.assessors.base import RefsOrProfile
from agentpref.assessors.position_bias import combine_swapped
from agentpref.assessors.tournament import (
    Standings,
    all_pairs,
    first_round,
    next_round,
    ranking_from_judgments,
    swiss_rounds,
)
from agentpref.assessors.vlm.options import Completion, ModelOptions, Sampling, Structured
from agentpref.errors import BackendError, InputError, ParseError
from agentpref.http import run_sync
from agentpref.images.references import References, image_list
from agentpref.images.refs import ImageLike, ImageRef
from agentpref.judgment import Judgment, Ranking, Usage
from agentpref.preferthinker.json_schema import (
    JSON_INSTRUCTION,
    json_to_layout,
    judgment_schema,
    profile_schema,
)
from agentpref.preferthinker.layout import output_regex, profile_regex
from agentpref.preferthinker.parse import parse_judgment, parse_profile
from agentpref.preferthinker.requests import (
    Request,
    TextPart,
    build_compare_request,
    build_profile_compare_request,
    build_profile_request,
)
from agentpref.profile import UserProfile

T = TypeVar("T")
Kind = Literal["profile", "compare"]


class RankInterrupted(BackendError):
    """The backend failed mid-`rank`; `judgments` holds the comparisons that finished."""

    def __init__(self, message: str, judgments: list[Judgment]) -> None:
        super().__init__(message)
        self.judgments = judgments


@dataclass
class _Session:
    semaphore: asyncio.Semaphore
    transport: Any


_SESSIONS: ContextVar[dict[int, _Session] | None] = ContextVar("agentpref_model_sessions", default=None)


def refs_key(likes: Sequence[ImageRef], dislikes: Sequence[ImageRef]) -> str:
    joined = ",".join(r.sha256 for r in likes) + "|" + ",".join(r.sha256 for r in dislikes)
    return hashlib.sha256(joined.encode()).hexdigest()[:24]


class ReasoningAssessor:
    """Base of the `openai`/`vllm` and `hf` assessors; subclasses implement `_complete`."""

    name = "model"

    def __init__(self, options: ModelOptions | None = None, **kwargs: Any) -> None:
        self.options = options or ModelOptions(**kwargs)
        self.usage = Usage()
        self._profiles: dict[str, UserProfile | ParseError] = {}
        self._judgments: dict[tuple[str, str, str, str], Judgment] = {}

    # -- what a backend provides -------------------------------------------------------------

    async def _complete(self, request: Request, sampling: Sampling) -> Completion:
        raise NotImplementedError

    async def _open_transport(self) -> Any:
        """Per-event-loop resources (an HTTP client, a batcher); given back by `_transport()`."""
        return None

    async def _close_transport(self, transport: Any) -> None:
        return None

    def _default_structured(self) -> Structured:
        return "off"

    def _json_bounds(self) -> bool:
        """Whether JSON schemas may carry `maxLength` (hosted strict modes may refuse it)."""
        return True

    # -- sessions: one semaphore and transport per event loop --------------------------------

    @asynccontextmanager
    async def session(self) -> AsyncIterator[_Session]:
        """Hold one transport (connection pool, batcher) and one concurrency bound across calls.

        Every async method opens one when none is open; wrap many calls in one to share it.
        """
        sessions = _SESSIONS.get() or {}
        if id(self) in sessions:
            yield sessions[id(self)]
            return
        session = _Session(asyncio.Semaphore(self.options.concurrency), await self._open_transport())
        token = _SESSIONS.set({**sessions, id(self): session})
        try:
            yield session
        finally:
            _SESSIONS.reset(token)
            await self._close_transport(session.transport)

    def _transport(self) -> Any:
        sessions = _SESSIONS.get() or {}
        return sessions[id(self)].transport if id(self) in sessions else None

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run an async method to completion from sync code (in a worker thread inside a running loop)."""
        return run_sync(make)

    # -- asking ------------------------------------------------------------------------------

    @property
    def structured(self) -> Structured:
        return self.options.structured or self._default_structured()

    def _sampling(self, kind: Kind, attempt: int) -> Sampling:
        o = self.options
        retry = attempt > 0
        regex = schema = None
        if self.structured == "regex":
            regex = (
                profile_regex(max_term=o.max_term)
                if kind == "profile"
                else output_regex(max_rationale=o.max_rationale, max_term=o.max_term)
            )
        elif self.structured == "json":
            term, why = (o.max_term, o.max_rationale) if self._json_bounds() else (None, None)
            schema = (
                profile_schema(max_term=term)
                if kind == "profile"
                else judgment_schema(max_rationale=why, max_term=term)
            )
        return Sampling(
            max_tokens=o.max_tokens,
            temperature=max(o.temperature, o.retry_temperature) if retry else o.temperature,
            repetition_penalty=o.repetition_penalty,
            regex=regex,
            seed=(o.seed or 0) + attempt if (retry or o.seed is not None) else None,
            json_schema=schema,
        )

    async def _ask(
        self, request: Request, kind: Kind, read: Callable[[str], T]
    ) -> tuple[T | ParseError, Usage]:
        """Send a request, reading the answer with `read`; ask again while it cannot be read."""
        if self.structured == "json":  # say so in words too: the schema alone does not explain itself
            request = Request(system=request.system, parts=[*request.parts, TextPart(JSON_INSTRUCTION)])

            def read_json(text: str) -> T:
                value = read(json_to_layout(text, profile_only=kind == "profile"))
                if isinstance(value, Judgment):
                    value.raw_text = text  # what the model wrote, not our rewriting of it
                return value

            reader: Callable[[str], T] = read_json
        else:
            reader = read
        usage = Usage()
        result: T | ParseError = ParseError("no attempt made", "")
        async with self.session() as session:
            for attempt in range(self.options.parse_retries + 1):
                async with session.semaphore:
                    start = time.perf_counter()
                    completion = await self._complete(request, self._sampling(kind, attempt))
                    completion.latency_s = completion.latency_s or time.perf_counter() - start
                usage += completion.usage()
                try:
                    return reader(completion.text), usage
                except ParseError as err:
                    result = ParseError(str(err).split("\n--- raw model text ---")[0], completion.text)
        return result, usage

    async def acomplete(self, request: Request, kind: Kind = "compare") -> Completion:
        """Send one request with this assessor's settings and return the model's own words.

        For tools that need the text rather than a judgment, e.g. a teacher model writing
        training data. Counts toward `usage` and the concurrency bound like every request.
        """
        async with self.session() as session, session.semaphore:
            start = time.perf_counter()
            completion = await self._complete(request, self._sampling(kind, 0))
            completion.latency_s = completion.latency_s or time.perf_counter() - start
        self._account(completion.usage())
        return completion

    def _account(self, usage: Usage) -> None:
        self.usage += usage

    # -- profiles ----------------------------------------------------------------------------

    def _references(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike]) -> References:
        cap = self.options.max_history
        refs = References(
            likes=[ImageRef.coerce(x) for x in likes][:cap],
            dislikes=[ImageRef.coerce(x) for x in dislikes][:cap],
            skipped=[],
        )
        if not refs.likes and not refs.dislikes:
            raise InputError("no reference images: give at least one liked or disliked image")
        return refs

    async def _profile_of(self, refs: References) -> UserProfile | ParseError:
        key = refs_key(refs.likes, refs.dislikes)
        if key not in self._profiles:
            request = build_profile_request(refs.likes, refs.dislikes, max_history=self.options.max_history)
            result, usage = await self._ask(
                request, profile_regex(max_term=self.options.max_term), parse_profile
            )
            self._account(usage)
            self._profiles[key] = result
        return self._profiles[key]

    async def aprofile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile:
        """The two profiles predicted from the references; ParseError (with the raw text) if unreadable."""
        result = await self._profile_of(self._references(likes, dislikes))
        if isinstance(result, ParseError):
            raise result
        return result

    def profile(self, likes: Sequence[ImageLike], dislikes: Sequence[ImageLike] = ()) -> UserProfile:
        return self._run(lambda: self.aprofile(likes, dislikes))

    # -- comparisons -------------------------------------------------------------------------

    async def _context(self, refs_or_profile: RefsOrProfile) -> tuple[str, RefsOrProfile]:
        """What a comparison is made against: the references (joint) or a profile (cached-profile)."""
        if isinstance(refs_or_profile, UserProfile):
            text = refs_or_profile.to_tag_text()
            return "profile:" + hashlib.sha256(text.encode()).hexdigest()[:24], refs_or_profile
        refs = self._references(refs_or_profile.likes, refs_or_profile.dislikes)
        if self.options.mode == "cached-profile":
            profile = await self._profile_of(refs)
            if isinstance(profile, UserProfile):
                return "profile:" + refs_key(refs.likes, refs.dislikes), profile
            # No readable profile: fall back to the trained layout rather than fail every comparison.
        return "refs:" + refs_key(refs.likes, refs.dislikes), refs

    async def _one_pass(self, ctx: str, against: RefsOrProfile, a: ImageRef, b: ImageRef) -> Judgment:
        key = (ctx, a.sha256, b.sha256, self.structured)
        if key in self._judgments:
            return self._judgments[key]
        system = self.options.system_prompt
        if isinstance(against, UserProfile):
            request = build_profile_compare_request(against, a, b, system_prompt=system)
        else:
            request = build_compare_request(
                against.likes,
                against.dislikes,
                a,
                b,
                max_history=self.options.max_history,
                system_prompt=system,
            )

        def read(text: str) -> Judgment:
            judgment = parse_judgment(text, a=a.label, b=b.label, assessor=self.name)
            if judgment.winner is None:
                raise ParseError("the answer names no winner: " + "; ".join(judgment.issues), text)
            return judgment

        result, usage = await self._ask(request, "compare", read)
        self._account(usage)
        if isinstance(result, ParseError):
            attempts = self.options.parse_retries + 1
            judgment = Judgment.failure(
                f"unreadable answer after {attempts} attempt(s): {result}",
                result.raw_text,
                a=a.label,
                b=b.label,
                assessor=self.name,
            )
        else:
            judgment = result
            if isinstance(against, UserProfile) and judgment.profile is None:
                judgment.profile = against
        judgment.usage = usage
        self._judgments[key] = judgment
        return judgment

    async def acompare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        ra, rb = ImageRef.coerce(a), ImageRef.coerce(b)
        async with self.session():
            ctx, against = await self._context(refs_or_profile)
            if not self.options.swap:
                return await self._one_pass(ctx, against, ra, rb)
            first, second = await asyncio.gather(
                self._one_pass(ctx, against, ra, rb), self._one_pass(ctx, against, rb, ra)
            )
        return combine_swapped(first, second)

    def compare(self, refs_or_profile: RefsOrProfile, a: ImageLike, b: ImageLike) -> Judgment:
        return self._run(lambda: self.acompare(refs_or_profile, a, b))

    # -- ranking -----------------------------------------------------------------------------

    async def arank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking:
        refs = [ImageRef.coerce(c) for c in image_list(candidates, what="candidates")]
        if not refs:
            raise InputError("candidates: need at least one image to rank")
        n = len(refs)
        standings = Standings(n)
        judgments: list[Judgment] = []

        async def play(pairs: list[tuple[int, int]]) -> None:
            games = [self.acompare(refs_or_profile, refs[i], refs[j]) for i, j in pairs]
            results = await asyncio.gather(*games, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            for (i, j), result in zip(pairs, results, strict=True):
                if isinstance(result, Judgment):
                    judgments.append(result)
                    winner = (
                        None if result.failed or result.winner is None else (i if result.winner == "A" else j)
                    )
                    standings.record(i, j, winner=winner, score_a=result.total_a, score_b=result.total_b)
            if errors:
                done = len(judgments)
                raise RankInterrupted(
                    f"{errors[0]} ({done} comparison(s) finished and kept; asking again re-uses them)",
                    judgments,
                ) from errors[0]

        async with self.session():
            profile = await self._rank_profile(refs_or_profile)
            if self.options.ranking == "all-pairs":
                await play(all_pairs(n))
            else:
                rounds = self.options.rounds or swiss_rounds(n)
                for r in range(rounds):
                    pairs = first_round(n) if r == 0 else next_round(standings)
                    if not pairs:
                        break
                    await play(pairs)
        return ranking_from_judgments(refs, standings, judgments, profile=profile, assessor=self.name)

    async def _rank_profile(self, refs_or_profile: RefsOrProfile) -> UserProfile | None:
        if isinstance(refs_or_profile, UserProfile):
            return refs_or_profile
        if self.options.mode == "cached-profile":
            refs = self._references(refs_or_profile.likes, refs_or_profile.dislikes)
            result = await self._profile_of(refs)
            return result if isinstance(result, UserProfile) else None
        return None

    def rank(self, refs_or_profile: RefsOrProfile, candidates: Sequence[ImageLike]) -> Ranking:
        return self._run(lambda: self.arank(refs_or_profile, candidates))

    async def aclose(self) -> None:
        """Release what the backend holds (override when there is something to release)."""
