"""Language-model rewriters of prompts (PIGReward's personalised prompt optimisation).

    rewriter = rewriter_from_uri("vllm://127.0.0.1:8000?model=qwen")
    rewrite = rewriter.rewrite(RewriteRequest(subject=..., profile=..., prompt=..., best=..., worst=...))

`base` holds the contract (`Rewriter`, `RewriteRequest`, `Rewrite`), `openai` the
OpenAI-compatible backend. A failed rewrite raises `BackendError` or `ParseError`: the
caller falls back to feedback rewriting.
"""

from __future__ import annotations

from typing import Any

from agentpref.errors import InputError
from agentpref.rewriters.base import CandidateFeedback, Rewrite, Rewriter, RewriteRequest
from agentpref.rewriters.openai import from_openai_uri, from_vllm_uri

__all__ = ["CandidateFeedback", "Rewrite", "RewriteRequest", "Rewriter", "rewriter_from_uri"]

_FACTORIES = {"openai": from_openai_uri, "vllm": from_vllm_uri}


def rewriter_from_uri(uri: str, **options: Any) -> Rewriter:
    """The rewriter a URI names: `openai://HOST[:PORT]/v1?model=NAME` or `vllm://HOST:PORT?model=NAME`.

    >>> rewriter_from_uri("vllm://127.0.0.1:8000?model=qwen").name
    'vllm:qwen'
    >>> rewriter_from_uri("features")
    Traceback (most recent call last):
    agentpref.errors.InputError: rewriter 'features' is not known; use openai://... or vllm://...
    """
    scheme, _, rest = uri.partition(":")
    factory = _FACTORIES.get(scheme.strip().lower())
    if factory is None:
        raise InputError(f"rewriter {scheme[:40]!r} is not known; use openai://... or vllm://...")
    return factory(rest, **options)
