"""agentpref: personalised image generation from a handful of liked and disliked images.

    >>> import agentpref
    >>> judge = agentpref.load_assessor("features")          # doctest: +SKIP
    >>> refs = agentpref.load_references("examples/likes", "examples/dislikes")  # doctest: +SKIP
    >>> profile = judge.profile(refs.likes, refs.dislikes)   # doctest: +SKIP
    >>> judge.compare(profile, "a.png", "b.png").winner      # doctest: +SKIP
    >>> agentpref.personalize(refs, "a lighthouse at dawn").report_path  # doctest: +SKIP

Names are imported on first use, so `import agentpref` stays fast and never pulls in
torch or other heavy libraries.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_assessor": "agentpref.backends",
    "load_generator": "agentpref.backends",
    "load_references": "agentpref.images.references",
    "ImageRef": "agentpref.images.refs",
    "References": "agentpref.images.references",
    "Element": "agentpref.profile",
    "Profile": "agentpref.profile",
    "UserProfile": "agentpref.profile",
    "Judgment": "agentpref.judgment",
    "DimensionScore": "agentpref.judgment",
    "Ranking": "agentpref.judgment",
    "personalize": "agentpref.personalization",
    "resume": "agentpref.personalization",
    "PersonalizeResult": "agentpref.personalization",
    "AgentprefError": "agentpref.errors",
    "InputError": "agentpref.errors",
    "BackendError": "agentpref.errors",
}

__all__ = [
    "AgentprefError",
    "BackendError",
    "DimensionScore",
    "Element",
    "ImageRef",
    "InputError",
    "Judgment",
    "PersonalizeResult",
    "Profile",
    "Ranking",
    "References",
    "UserProfile",
    "load_assessor",
    "load_generator",
    "load_references",
    "personalize",
    "resume",
]

if TYPE_CHECKING:
    from agentpref.backends import load_assessor, load_generator
    from agentpref.errors import AgentprefError, BackendError, InputError
    from agentpref.images.references import References, load_references
    from agentpref.images.refs import ImageRef
    from agentpref.judgment import DimensionScore, Judgment, Ranking
    from agentpref.personalization import PersonalizeResult, personalize, resume
    from agentpref.profile import Element, Profile, UserProfile


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'agentpref' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
