"""Backend URIs as pasted from a web page or typed in a hurry: bad option values must be refused
naming the option (exit 2) before any request; keys must never be echoed or written."""

from __future__ import annotations

from harness import Case, Ctx, either, fails

AREA = "uris"
DEAD = "127.0.0.1:9"  # nothing listens: a request that went out would fail with exit 3, not 2


def _compare(uri: str) -> list[str]:
    return ["compare", "--refs", "refs", "$good", "$good2", "--assessor", uri]


def _refs(ctx: Ctx) -> None:
    ctx.refs()


def _case(slug: str, what: str, uri: str, *names: str, **kw: object) -> Case:
    return Case(
        f"uri-{slug}", AREA, f"{what}: {uri[:80]}", fails(*names), argv=_compare(uri), setup=_refs, **kw
    )


VLLM = f"vllm://{DEAD}?model=m"
OPENAI = f"openai://{DEAD}/v1?model=m"

CASES: list[Case] = [
    *[
        _case(
            f"timeout-{slug}",
            "timeout that is not a finite positive number",
            f"{VLLM}&timeout={value}",
            "timeout",
        )
        for slug, value in (
            ("abc", "abc"),
            ("nan", "nan"),
            ("zero", "0"),
            ("negative", "-5"),
            ("inf", "inf"),
            ("1e309", "1e309"),
            ("empty", ""),
        )
    ],
    *[
        _case(f"retries-{slug}", "retries outside 0..10", f"{VLLM}&retries={value}", "retries")
        for slug, value in (
            ("abc", "abc"),
            ("negative", "-1"),
            ("1e9", "1e9"),
            ("11", "11"),
            ("fraction", "2.5"),
            ("nan", "nan"),
        )
    ],
    *[
        _case(
            f"concurrency-{slug}",
            "concurrency that is not a positive count",
            f"{VLLM}&concurrency={value}",
            "concurrency",
        )
        for slug, value in (("zero", "0"), ("negative", "-1"), ("abc", "abc"))
    ],
    _case("max-pixels-zero", "max_pixels 0", f"{VLLM}&max_pixels=0", "max_pixels"),
    _case("max-tokens-abc", "max_tokens abc", f"{VLLM}&max_tokens=abc", "max_tokens"),
    _case("temperature-nan", "temperature nan", f"{VLLM}&temperature=nan", "temperature"),
    _case("mode-bogus", "mode that does not exist", f"{VLLM}&mode=turbo", "mode"),
    _case("swap-maybe", "swap=maybe", f"{VLLM}&swap=maybe", "swap"),
    _case("unknown-key", "an unknown query key", f"{VLLM}&bogus=1", "bogus"),
    _case(
        "duplicate-key",
        "the same key twice with different values",
        f"{VLLM}&timeout=5&timeout=abc",
        "timeout",
    ),
    _case("openai-unknown-key", "an unknown key on openai://", f"{OPENAI}&frobnicate=yes", "frobnicate"),
    _case("unknown-scheme", "a scheme that is no backend", "ftp://example.com/model", "ftp"),
    _case("scheme-typo", "vlm:// for vllm://", f"vlm://{DEAD}?model=m", "vlm"),
    Case(
        "uri-no-model",
        AREA,
        "vllm:// without model= (asks the server, which is down)",
        fails("model|127.0.0.1:9", code=(2, 3)),
        argv=_compare(f"vllm://{DEAD}"),
        setup=_refs,
    ),
    _case("no-host", "openai:// without a host", "openai:///v1?model=m", "host|openai:///v1"),
    _case("bad-port", "port 99999", "vllm://127.0.0.1:99999?model=m", "99999|port"),
    _case("port-letters", "port 'http'", "vllm://127.0.0.1:http?model=m", "port|http"),
    _case("broken-ipv6", "an unclosed IPv6 bracket", "vllm://[::1?model=m", "[::1|IPv6|host"),
    _case("random-seed-abc", "random:?seed=abc", "random:?seed=abc", "seed"),
    _case("random-bogus", "random:?bogus=1", "random:?bogus=1", "bogus"),
    _case("random-seed-huge", "random:?seed=1e400", "random:?seed=1e400", "seed"),
    _case("features-bogus", "features?bogus=1", "features:?bogus=1", "bogus"),
    Case(
        "uri-api-key-env-empty",
        AREA,
        "api_key_env= (empty): refused, or the default and the server named",
        fails("api_key_env|127.0.0.1:9", code=(2, 3)),
        argv=_compare(f"{OPENAI}&api_key_env="),
        setup=_refs,
    ),
    _case(
        "system-prompt-missing",
        "system_prompt=@ a file that does not exist",
        f"{VLLM}&system_prompt=@/nonexistent/p.txt",
        "/nonexistent/p.txt",
    ),
    # The person at the terminal may name any file of theirs (README "Security"); a binary one
    # is refused by name. (Served callers never pass URIs at all: cases_runs has none to try.)
    Case(
        "uri-system-prompt-binary",
        AREA,
        "system_prompt=@ a binary file the user names",
        fails("prompt.bin"),
        argv=_compare(f"{VLLM}&system_prompt=@prompt.bin"),
        setup=lambda c: (_refs(c), c.write("prompt.bin", bytes(range(256)) * 8)),
    ),
    _case("system-prompt-dir", "system_prompt=@ a folder", f"{VLLM}&system_prompt=@/etc", "/etc"),
    _case("markup-in-uri", "rich markup in the scheme", "[/x][red]x://y", "[/x][red]x"),
    _case("escape-in-uri", "an escape sequence in the URI", "\x1b]0;owned\x07://y", "://y"),
    Case(
        "uri-newline-in-uri",
        AREA,
        "a newline inside the URI (no header injection): refused or server named",
        fails("model|newline|127.0.0.1:9", code=(2, 3)),
        argv=_compare(f"vllm://{DEAD}?model=m\nX-Evil: 1"),
        setup=_refs,
    ),
    _case("long-uri", "a 100 KB host name", "vllm://" + "a" * 100_000 + "?model=m", "vllm"),
    Case(
        "uri-empty-uri",
        AREA,
        "an empty --assessor: the default, or refused",
        either(None, "assessor"),
        argv=_compare(""),
        setup=_refs,
    ),
    _case("generator-as-assessor", "a generator URI as the assessor", "painter", "painter"),
    _case("hf-empty", "hf: with no model", "hf:", "hf"),
    Case(
        "uri-userinfo-key",
        AREA,
        "openai://user:KEY@host: refused, saying where the key goes; key never echoed",
        fails("api_key_env|OPENAI_API_KEY"),
        argv=_compare(f"openai://user:$token@{DEAD}/v1?model=m"),
        setup=_refs,
    ),
    Case(
        "uri-userinfo-key-generate",
        AREA,
        "generate with a key in the URI's userinfo: nothing written holds it",
        fails("api_key_env|OPENAI_API_KEY"),
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
            f"openai://u:$token@{DEAD}/v1?model=m",
        ],
        setup=_refs,
    ),
    Case(
        "uri-env-assessor-garbage",
        AREA,
        "AGENTPREF_ASSESSOR holds garbage",
        fails("AGENTPREF_ASSESSOR|nope"),
        argv=["compare", "--refs", "refs", "$good", "$good2"],
        env={"AGENTPREF_ASSESSOR": "nope://x"},
        setup=_refs,
    ),
    Case(
        "uri-env-max-pixels",
        AREA,
        "AGENTPREF_MAX_PIXELS=abc",
        fails("AGENTPREF_MAX_PIXELS"),
        argv=["profile", "--refs", "refs"],
        env={"AGENTPREF_MAX_PIXELS": "abc"},
        setup=_refs,
    ),
    Case(
        "uri-generator-bogus-key",
        AREA,
        "painter:?bogus=1",
        fails("bogus"),
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
            "--generator",
            "painter:?bogus=1",
        ],
        setup=_refs,
    ),
    Case(
        "uri-generator-unknown",
        AREA,
        "an unknown generator",
        fails("dalle"),
        argv=["generate", "--refs", "refs", "--prompt", "x", "--out", "run", "--generator", "dalle://x"],
        setup=_refs,
    ),
]
