"""Remote faults, against `agentpref.testing.fake_openai` (a fake OpenAI-compatible server): each
must end in a clear exit 3 naming the server within its deadline, or, where the server recovers
or only its text is odd, in the right result with nothing unsafe printed."""

from __future__ import annotations

import json
import re
from typing import Any

from harness import Case, Ctx, Outcome, either, fails, succeeds

AREA = "remote"
SERVER = "127.0.0.1"  # every message about a failed server names its address
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
FAST = {"timeout": 2, "retries": 0}


def _refs(ctx: Ctx) -> None:
    ctx.refs()


def _compare(scheme: str = "uri") -> list[str]:
    return ["compare", "--refs", "refs", "$good", "$good2", "--assessor", f"${scheme}"]


RANK = ["rank", "--refs", "refs", "$good", "$good2", "$canary_free", "--assessor", "$uri"]


def _rank_setup(ctx: Ctx) -> None:
    ctx.refs()
    ctx.extra["canary_free"] = str(ctx.copy_example("third.png", "likes/03_sage_hills.png"))


def _winner_b(ctx: Ctx, o: Outcome) -> str | None:
    if _UNSAFE.search(o.stdout + o.stderr):
        return "a control character from the server reached the terminal"
    return (
        None
        if re.search(r"winner:\s*B", o.stdout)
        else f"expected winner B (11 to 22), got {o.stdout[-80:]!r}"
    )


def _scores_kept(ctx: Ctx, o: Outcome) -> str | None:
    data = json.loads(o.stdout)
    totals = [data.get("total_a"), data.get("total_b")] if isinstance(data, dict) else []
    text = json.dumps(data)
    if _UNSAFE.search(o.stderr):
        return "a control character from the server reached the terminal"
    return None if "22" in text and "11" in text else f"element scores lost: totals {totals}"


def _small_output(ctx: Ctx, o: Outcome) -> str | None:
    return None if len(o.stdout) < 1_000_000 else f"printed {len(o.stdout) / 1e6:.0f} MB of the answer"


def _fault(mode: str, what: str, *, within: float | None = None, argv=None, query=FAST, **kw) -> Case:
    return Case(
        f"remote-{mode}-{'rank' if argv is RANK else 'compare'}",
        AREA,
        what,
        fails(SERVER, code=3, within=within),
        argv=argv or _compare(),
        fake=mode,
        uri_query=query,
        setup=_rank_setup if argv is RANK else _refs,
        **kw,
    )


REWRITE = [
    "generate",
    "--refs",
    "refs",
    "--prompt",
    "a harbour",
    "-n",
    "2",
    "--iterations",
    "2",
    "--size",
    "64x64",
]
REWRITE += ["--target", "5", "--out", "run", "--rewriter", "$uri"]


def _rewriter(mode: str, what: str, **kw: Any) -> Case:
    """A prompt rewriter that fails in round 2: the run still finishes, on feedback, and says why."""
    return Case(
        f"remote-rewriter-{mode}",
        AREA,
        what,
        succeeds(warns=["feedback rewriting used"], within=60),
        argv=REWRITE,
        fake=mode,
        uri_query=FAST,
        setup=_refs,
        timeout=90,
        **kw,
    )


CASES: list[Case] = [
    _rewriter("ok", "a rewriter answering a judgment instead of a rewrite (junk for it)"),
    _rewriter("malformed", "a rewriter answering malformed JSON"),
    _rewriter("hang", "a rewriter that never answers (timeout 2 s)"),
    _rewriter("huge", "a rewriter answering 50 MB"),
    _rewriter("endless", "a rewriter whose answer never ends"),
    Case(
        "remote-ok-compare",
        AREA,
        "a healthy server (control case): winner B",
        succeeds(_winner_b),
        argv=_compare(),
        fake="ok",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-ok-openai-scheme",
        AREA,
        "the same over openai:// (control case)",
        succeeds(_winner_b),
        argv=_compare("openai_uri"),
        fake="ok",
        uri_query=FAST,
        setup=_refs,
    ),
    # No request arrives, so these deadlines count start-up too: generous, they catch endless retrying.
    _fault("refuse", "nothing listens on the port", within=10),
    _fault("refuse", "nothing listens, rank", within=10, argv=RANK),
    Case(
        "remote-refuse-retries-1e9",
        AREA,
        "retries=1e9 against a refused port: refused as an option, or bounded",
        fails("retries|" + SERVER, code=(2, 3), within=15),
        argv=_compare(),
        fake="refuse",
        uri_query={"timeout": 2, "retries": "1000000000"},
        setup=_refs,
    ),
    Case(
        "remote-500-then-ok",
        AREA,
        "HTTP 500 once, then a good answer: retried, winner B",
        succeeds(_winner_b),
        argv=_compare(),
        fake="500-then-ok",
        uri_query={"timeout": 5, "retries": 2},
        setup=_refs,
    ),
    Case(
        "remote-500-no-retries",
        AREA,
        "HTTP 500 with retries=0",
        fails(SERVER, "500", code=3),
        argv=_compare(),
        fake="500-then-ok",
        fake_knobs={"failures": 99},
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-429-then-ok",
        AREA,
        "429 with Retry-After: 1, then ok: winner B",
        succeeds(_winner_b, within=15),
        argv=_compare(),
        fake="429",
        uri_query={"timeout": 5, "retries": 2},
        setup=_refs,
    ),
    Case(
        "remote-429-retry-after-huge",
        AREA,
        "429 with Retry-After: 86400 forever: not a day-long wait",
        fails(SERVER, "429", code=3, within=15),
        argv=_compare(),
        fake="429",
        fake_knobs={"failures": 99, "retry_after": "86400"},
        uri_query={"timeout": 2, "retries": 2},
        setup=_refs,
    ),
    _fault("hang", "the server never answers (timeout=2): exit 3 within 3 s", within=3.0),
    _fault("hang", "rank against a server that never answers (timeout=2)", within=6.0, argv=RANK),
    _fault(
        "trickle",
        "one byte every 2 s (timeout=2): exit 3 within 3 s",
        within=3.0,
        fake_knobs={"interval": 0.5},
    ),
    _fault("endless", "a chunked body that never ends (timeout=2): exit 3 within 3 s", within=3.0),
    _fault("endless", "rank against an endless body", within=6.0, argv=RANK),
    Case(
        "remote-huge-compare-json",
        AREA,
        "a 50 MB answer: refused by the size cap, or not printed whole",
        either(_small_output, SERVER, code=3),
        argv=[*_compare(), "--json"],
        fake="huge",
        uri_query={"timeout": 10, "retries": 0},
        setup=_refs,
    ),
    _fault("malformed", "HTTP 200 with a body that is not JSON"),
    _fault("malformed", "rank with a body that is not JSON: exit 3, not all 0.0", argv=RANK),
    Case(
        "remote-markup-compare",
        AREA,
        "rationale holds rich markup and escape sequences: shown safely, winner B",
        succeeds(_winner_b),
        argv=_compare(),
        fake="markup",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-markup-json",
        AREA,
        "markup in the rationale never changes the scores read",
        succeeds(_scores_kept),
        argv=[*_compare(), "--json"],
        fake="markup",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-markup-profile",
        AREA,
        "profile against a server answering with markup",
        either(None, SERVER, code=3),
        argv=["profile", "--refs", "refs", "--assessor", "$uri"],
        fake="markup",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-out-of-range",
        AREA,
        "element scores 9 and -3 on a 0-5 scale: refused naming the server, or clamped",
        either(None, SERVER, code=3),
        argv=_compare(),
        fake="out-of-range",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-bad-usage",
        AREA,
        "usage.prompt_tokens 'lots': the judgment kept, or exit 3 naming the server",
        either(_winner_b, SERVER, code=3),
        argv=_compare(),
        fake="bad-usage",
        uri_query=FAST,
        setup=_refs,
    ),
    Case(
        "remote-api-key-env-home",
        AREA,
        "api_key_env=CAMPAIGN_SECRET from the terminal: sent as the key (allowed)",
        succeeds(_winner_b),
        argv=_compare(),
        fake="ok",
        uri_query={**FAST, "api_key_env": "CAMPAIGN_SECRET"},
        env={"CAMPAIGN_SECRET": "not-the-token"},
        setup=_refs,
    ),
    Case(
        "remote-key-in-query-generate",
        AREA,
        "generate with api_key= in the URI: nothing written or printed holds it",
        either(None, "api_key", code=2),
        fake="ok",
        uri_query={**FAST, "api_key": "$token"},
        argv=[
            "generate",
            "--refs",
            "refs",
            "--prompt",
            "x",
            "-n",
            "1",
            "--iterations",
            "1",
            "--size",
            "64x64",
            "--out",
            "run",
            "--assessor",
            "$uri",
        ],
        setup=_refs,
        timeout=40,
    ),
    Case(
        "remote-env-key-generate",
        AREA,
        "generate with OPENAI_API_KEY set: the key is never written to the run",
        succeeds(),
        fake="ok",
        uri_query=FAST,
        env={"OPENAI_API_KEY": "$token"},
        argv=[
            "generate",
            "--refs",
            "refs",
            "--prompt",
            "x",
            "-n",
            "1",
            "--iterations",
            "1",
            "--size",
            "64x64",
            "--out",
            "run",
            "--assessor",
            "$openai_uri",
        ],
        setup=_refs,
        timeout=40,
    ),
    Case(
        "remote-eval-outside-image",
        AREA,
        "eval against a server: an image outside the root is never sent",
        fails("SP_ID.json", "imageA"),
        fake="ok",
        uri_query=FAST,
        argv=[
            "eval",
            "data/SP_ID.json",
            "--assessor",
            "$uri",
            "--no-refs-sweep",
            "--no-swap",
            "--top-k-groups",
            "0",
            "--out",
            "out",
        ],
        setup=lambda c: __import__("cases_bench")._bench(
            [__import__("cases_bench")._bench_record(imageA="$canary")]
        )(c),
    ),
    Case(
        "remote-eval-hang",
        AREA,
        "eval against a hanging server: failed judgments named, bounded time",
        either(None, SERVER, code=3),
        fake="hang",
        uri_query=FAST,
        timeout=40,
        argv=[
            "eval",
            "data/SP_ID.json",
            "--assessor",
            "$uri",
            "--no-refs-sweep",
            "--no-swap",
            "--top-k-groups",
            "0",
            "--out",
            "out",
        ],
        setup=lambda c: __import__("cases_bench")._bench()(c),
    ),
]
