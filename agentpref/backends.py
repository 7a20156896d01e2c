"""Backend URIs ("features", "painter", ...) -> assessor and generator objects.

The same short strings work on the CLI (`--assessor`), in the SDK (`load_assessor`) and in
the environment (`AGENTPREF_ASSESSOR`, `AGENTPREF_GENERATOR`). A URI is a scheme, then an
optional `:rest` (a model path or `//host:port/...`). Each backend module is imported only
when its URI is loaded, so heavy libraries stay out of `import agentpref`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentpref.errors import InputError

if TYPE_CHECKING:
    from agentpref.assessors.base import Assessor
    from agentpref.generators.base import Generator

DEFAULT_ASSESSOR = "features"
DEFAULT_GENERATOR = "painter"


def _features(rest: str, **options: Any) -> Assessor:
    from agentpref.assessors.features import FeaturesAssessor

    _no_rest("features", rest)
    return FeaturesAssessor(**options)


def _random(rest: str, **options: Any) -> Assessor:
    from urllib.parse import parse_qsl

    from agentpref.assessors.random_judge import RandomAssessor

    query = dict(parse_qsl(rest.lstrip("?")))  # random or random:?seed=3
    return RandomAssessor(**{**query, **options})


def _painter(rest: str, **options: Any) -> Generator:
    from agentpref.generators.painter import PainterGenerator

    _no_rest("painter", rest)
    return PainterGenerator(**options)


def _openai(scheme: str) -> Callable[..., Assessor]:
    def load(rest: str, **options: Any) -> Assessor:
        from agentpref.assessors.openai_compat import OpenAIAssessor, parse_uri

        return OpenAIAssessor(**{**parse_uri(scheme, rest), **options})

    return load


def _hf(rest: str, **options: Any) -> Assessor:
    from agentpref.assessors.hf import HFAssessor

    if not rest:
        raise InputError("hf: needs a model id or folder, e.g. hf:ZhouSimple/PreferThinker_model")
    return HFAssessor(rest, **options)


def _diffusers(rest: str, **options: Any) -> Generator:
    from agentpref.generators.diffusers import DiffusersGenerator

    return DiffusersGenerator(rest, **options)


def _no_rest(scheme: str, rest: str) -> None:
    if rest:
        raise InputError(f"backend {scheme!r} takes no argument, got {scheme}:{rest}")


ASSESSORS: dict[str, Callable[..., Assessor]] = {
    "features": _features,
    "random": _random,
    "openai": _openai("openai"),
    "vllm": _openai("vllm"),
    "hf": _hf,
}
GENERATORS: dict[str, Callable[..., Generator]] = {"painter": _painter, "diffusers": _diffusers}


def split_uri(uri: str) -> tuple[str, str]:
    """Split a URI at its first colon.

    >>> split_uri("hf:Qwen/x"), split_uri("openai://h:1/v1"), split_uri("painter")
    (('hf', 'Qwen/x'), ('openai', '//h:1/v1'), ('painter', ''))
    """
    scheme, _, rest = uri.strip().partition(":")
    return scheme.lower(), rest


def _load(kind: str, registry: dict[str, Callable[..., Any]], uri: str, options: dict[str, Any]) -> Any:
    scheme, rest = split_uri(uri)
    if scheme not in registry:
        known = ", ".join(sorted(registry))
        raise InputError(f"unknown {kind} backend {uri!r}; available here: {known}")
    return registry[scheme](rest, **options)


def load_assessor(uri: str | None = None, **options: Any) -> Assessor:
    """The assessor named by `uri`, else `$AGENTPREF_ASSESSOR`, else the embedded `features`.

    >>> load_assessor("features").name
    'features'
    """
    uri = uri or os.environ.get("AGENTPREF_ASSESSOR") or DEFAULT_ASSESSOR
    return _load("assessor", ASSESSORS, uri, options)


def load_generator(uri: str | None = None, **options: Any) -> Generator:
    """The generator named by `uri`, else `$AGENTPREF_GENERATOR`, else the embedded `painter`."""
    uri = uri or os.environ.get("AGENTPREF_GENERATOR") or DEFAULT_GENERATOR
    return _load("generator", GENERATORS, uri, options)
