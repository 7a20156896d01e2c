"""Backend URIs ("features", "painter", "vllm://...") -> assessor and generator objects.

One table, `BACKENDS`, says per backend its URI scheme, what it runs on, the pip extra
its libraries come with, and one line of help; `load_assessor`'s errors, the CLI's help
and `agentpref backends`, and the README's table are all made from it. The same strings
work on the CLI (`--assessor`), in the SDK (`load_assessor`) and in the environment
(`AGENTPREF_ASSESSOR`, `AGENTPREF_GENERATOR`). A URI is a scheme, then an optional
`:rest` (a model path or `//host:port/...`).

Each backend's module is imported only when its URI is loaded, so heavy libraries stay
out of `import agentpref`. Other packages add backends through the entry-point groups
`agentpref.assessors` and `agentpref.generators`: the entry point's name is the scheme,
its object a factory called as `factory(rest, **options)`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote_plus

from agentpref.errors import InputError

if TYPE_CHECKING:
    from agentpref.assessors.base import Assessor
    from agentpref.generators.base import Generator
    from agentpref.rewriters import Rewriter

Kind = Literal["assessor", "generator"]
DEFAULTS: dict[Kind, str] = {"assessor": "features", "generator": "painter"}
ENVIRONMENT: dict[Kind, str] = {"assessor": "AGENTPREF_ASSESSOR", "generator": "AGENTPREF_GENERATOR"}
ENTRY_POINT_GROUPS: dict[Kind, str] = {"assessor": "agentpref.assessors", "generator": "agentpref.generators"}


@dataclass(frozen=True)
class Backend:
    """One backend: how its URI looks, where it runs, what it needs, and what it is."""

    scheme: str
    kind: Kind
    uri: str = ""
    runs_on: str = ""
    help: str = ""
    extra: str | None = None
    needs: tuple[str, ...] = ()
    factory: str = ""
    """"module:function" called as function(rest, **options); imported on first use."""

    @property
    def installed(self) -> bool:
        """Whether the libraries it needs can be imported here (checked without importing them)."""
        return all(importlib.util.find_spec(name) is not None for name in self.needs)

    def load(self, rest: str, **options: Any) -> Any:
        if not self.installed:
            needs = ", ".join(self.needs)
            hint = f"pip install 'agentpref[{self.extra}]'" if self.extra else f"install {needs}"
            raise InputError(f"{self.kind} {self.scheme!r} needs {needs}: {hint}")
        module, _, function = self.factory.partition(":")
        factory = getattr(importlib.import_module(module), function)
        try:
            return factory(rest, **options)
        except TypeError as err:
            # A keyword the backend does not take (load_assessor("features", bogus=1)) is the
            # caller's mistake; any other TypeError is a bug and is raised as it is.
            unknown = re.search(r"unexpected keyword argument '(\w+)'", str(err))
            if unknown is None:
                raise
            raise InputError(f"{self.kind} {self.scheme!r} takes no setting {unknown.group(1)!r}") from None


BACKENDS: tuple[Backend, ...] = (
    Backend(
        "features",
        "assessor",
        uri="features",
        runs_on="any CPU, no weights",
        help="measures palette, saturation, lightness, detail and texture of every image; the profile is "
        "what separates likes from dislikes; scores candidates per element with a generated rationale",
        factory="agentpref.assessors.features.assessor:from_uri",
    ),
    Backend(
        "vllm",
        "assessor",
        uri="vllm://HOST:PORT?model=NAME",
        runs_on="a vLLM server (`agentpref serve`)",
        help="PreferThinker-7B or any VLM in PreferThinker's prompt layout: concurrent requests, retries, "
        "prefix-cache-friendly reference order, optional regex structured outputs, "
        "a Swiss-tournament `rank`",
        factory="agentpref.assessors.vlm.openai:from_vllm_uri",
    ),
    Backend(
        "openai",
        "assessor",
        uri="openai://HOST[:PORT]/v1?model=NAME",
        runs_on="any OpenAI-compatible API",
        help="the same, sending only standard fields (API key from `$OPENAI_API_KEY` or `api_key_env=`)",
        factory="agentpref.assessors.vlm.openai:from_openai_uri",
    ),
    Backend(
        "hf",
        "assessor",
        uri="hf:MODEL_OR_PATH",
        runs_on="transformers, in-process (cuda, mps or cpu)",
        help="same prompt and parser; concurrent requests batched into one `generate`",
        extra="hf",
        needs=("torch", "transformers"),
        factory="agentpref.assessors.vlm.hf:from_uri",
    ),
    Backend(
        "random",
        "assessor",
        uri="random",
        runs_on="anywhere",
        help="a reproducible coin flip per comparison (`random:?seed=3`): the chance level every judge "
        "must beat",
        factory="agentpref.assessors.random:from_uri",
    ),
    Backend(
        "painter",
        "generator",
        uri="painter",
        runs_on="any CPU, no weights",
        help="procedural renderer that realises a profile's palette, saturation, detail and medium; "
        "**it does not draw the prompt's subject**",
        factory="agentpref.generators.painter.generator:from_uri",
    ),
    Backend(
        "diffusers",
        "generator",
        uri="diffusers:MODEL_OR_PATH",
        runs_on="GPU (CPU works, slowly)",
        help="SD-Turbo, SDXL-Turbo, FLUX.1-schnell or any text-to-image DiffusionPipeline: per-family "
        "sampling defaults, a seed per image, batching, negative prompt from the dislikes, optional "
        "ViPer-style profile guidance",
        extra="diffusers",
        needs=("torch", "diffusers"),
        factory="agentpref.generators.diffusers.pipeline:from_uri",
    ),
)


@dataclass(frozen=True)
class _PluginBackend(Backend):
    """A backend another package registered through an entry point."""

    entry_point: importlib.metadata.EntryPoint | None = None

    @property
    def installed(self) -> bool:
        return True

    def load(self, rest: str, **options: Any) -> Any:
        assert self.entry_point is not None
        try:
            factory: Callable[..., Any] = self.entry_point.load()
        except Exception as err:  # a broken plug-in must say which one it is
            raise InputError(
                f"{self.kind} plug-in {self.scheme!r} ({self.entry_point.value}) failed to load: {err}"
            ) from err
        return factory(rest, **options)


def _plugins(kind: Kind) -> list[Backend]:
    built_in = {b.scheme for b in BACKENDS if b.kind == kind}
    found = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUPS[kind]):
        scheme = ep.name.lower()
        if scheme in built_in:
            continue  # built-in names are reserved
        package = ep.dist.name if ep.dist is not None else ep.value.partition(":")[0]
        found.append(
            _PluginBackend(
                scheme, kind, uri=scheme, runs_on=f"plug-in ({package})", help=ep.value, entry_point=ep
            )
        )
    return sorted(found, key=lambda b: b.scheme)


def backends(kind: Kind | None = None) -> list[Backend]:
    """Every backend known here (built-in, then plug-ins by name), of one kind or both."""
    kinds: tuple[Kind, ...] = (kind,) if kind else ("assessor", "generator")
    return [b for k in kinds for b in [*(b for b in BACKENDS if b.kind == k), *_plugins(k)]]


def split_uri(uri: str) -> tuple[str, str]:
    """Split a URI at its first colon.

    >>> split_uri("hf:Qwen/x"), split_uri("openai://h:1/v1"), split_uri("painter")
    (('hf', 'Qwen/x'), ('openai', '//h:1/v1'), ('painter', ''))
    """
    scheme, _, rest = uri.strip().partition(":")
    return scheme.lower(), rest


_SECRET_KEYS = frozenset({"api_key", "key", "token", "secret", "password", "cache_salt", "access_token"})
_SECRET_SUFFIXES = ("_key", "_token", "_secret")


def _is_secret(key: str) -> bool:
    key = unquote_plus(key).strip().lower()
    return key in _SECRET_KEYS or key.endswith(_SECRET_SUFFIXES)


def redact_uri(uri: str) -> str:
    """`uri` fit to be written or shown: no userinfo, `***` for the values of secret-looking keys.

    Everything else is kept byte for byte, so a redacted URI still says which backend ran.

    >>> redact_uri("openai://user:sk-123@api.example.com/v1?model=m&api_key=sk-9&cache_salt=t#f")
    'openai://api.example.com/v1?model=m&api_key=***&cache_salt=***'
    >>> redact_uri("hf:org/x?hf_token=abc&revision=main")
    'hf:org/x?hf_token=***&revision=main'
    >>> [redact_uri(u) for u in ("features", "painter", "hf:Qwen/x", "vllm://127.0.0.1:8000?model=x")]
    ['features', 'painter', 'hf:Qwen/x', 'vllm://127.0.0.1:8000?model=x']
    """
    head, question, query = uri.partition("?")
    scheme, colon, rest = head.partition(":")
    if colon and rest.startswith("//"):
        # The authority ends at the first "/", as urlsplit reads it; userinfo ends at its last "@".
        authority, slash, path = rest[2:].partition("/")
        head = f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"
    if not question:
        return head
    # A fragment stays inside the last value: a secret followed by "#..." is hidden whole.
    pairs = []
    for pair in query.split("&"):
        key, equals, _ = pair.partition("=")
        pairs.append(f"{key}=***" if equals and _is_secret(key) else pair)
    return f"{head}?{'&'.join(pairs)}"


def resolve_uri(kind: Kind, uri: str | None) -> str:
    """The URI given, else the one in the environment, else the embedded default.

    An empty URI given on purpose (`--assessor ""`) is an InputError, not the default.
    """
    if uri is not None and not isinstance(uri, str):
        raise InputError(
            f"the {kind} URI must be text such as {DEFAULTS[kind]!r}, "
            f"got {type(uri).__name__} {str(uri)[:40]!r}"
        )
    if uri is not None and not uri.strip():
        raise InputError(f"the {kind} URI is empty; leave it out for {DEFAULTS[kind]!r} or name a backend")
    return uri or os.environ.get(ENVIRONMENT[kind]) or DEFAULTS[kind]


def _load(kind: Kind, uri: str | None, options: dict[str, Any]) -> Any:
    uri = resolve_uri(kind, uri)
    scheme, rest = split_uri(uri)
    known = backends(kind)
    backend = next((b for b in known if b.scheme == scheme), None)
    if backend is None:
        ready = ", ".join(b.scheme for b in known if b.installed)
        missing = [f"{b.scheme} (pip install 'agentpref[{b.extra}]')" for b in known if not b.installed]
        more = f"; with extras: {', '.join(missing)}" if missing else ""
        shown = redact_uri(uri)  # a mistyped scheme may still carry a key
        raise InputError(f"unknown {kind} backend {shown!r}; available here: {ready}{more}")
    return backend.load(rest, **options)


def load_assessor(uri: str | None = None, **options: Any) -> Assessor:
    """The assessor named by `uri`, else `$AGENTPREF_ASSESSOR`, else the embedded `features`.

    >>> load_assessor("features").name
    'features'
    """
    return _load("assessor", uri, options)


def load_generator(uri: str | None = None, **options: Any) -> Generator:
    """The generator named by `uri`, else `$AGENTPREF_GENERATOR`, else the embedded `painter`."""
    return _load("generator", uri, options)


@lru_cache(maxsize=4)
def shared_assessor(uri: str) -> Assessor:
    """One assessor per URI for the whole process (loading a model twice costs minutes and memory).

    At most four are kept; the least recently used one is dropped first.
    """
    return load_assessor(uri)


@lru_cache(maxsize=4)
def shared_generator(uri: str) -> Generator:
    """One generator per URI for the whole process; at most four kept (see `shared_assessor`)."""
    return load_generator(uri)


@lru_cache(maxsize=4)
def shared_rewriter(uri: str) -> Rewriter:
    """One prompt rewriter per URI for the whole process (`agentpref.rewriters`)."""
    from agentpref.rewriters import rewriter_from_uri

    return rewriter_from_uri(uri)


def markdown_table() -> str:
    """The built-in backends as the README's table (a test keeps the README equal to it)."""
    rows = ["| role | URI | runs on | install | what it is |", "|---|---|---|---|---|"]
    for b in BACKENDS:
        default = " (default)" if DEFAULTS[b.kind] == b.scheme else ""
        install = f"`pip install 'agentpref[{b.extra}]'`" if b.extra else "included"
        rows.append(f"| {b.kind} | `{b.uri}`{default} | {b.runs_on} | {install} | {b.help} |")
    return "\n".join(rows)
