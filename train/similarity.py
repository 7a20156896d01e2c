"""The prediction reward's similarity: SBERT on profile text plus DreamSim on renders.

The text side is `agentpref.agreement.ProfileAgreement.whole` (all-MiniLM-L6-v2 by default,
the model PreferThinker's reward uses). The image side renders each profile through a
`Generator` with a fixed prompt and seed, and compares DreamSim embeddings of the two
renders. Both similarities are cosines clamped to 0-1.

GRPO scores the same ground truths at every step, so everything is cached: renders by
profile text, image embeddings by pixel hash, text embeddings by text (LRU each), and the
models load once per process (keyed by their settings). One call renders and embeds all
its missing items together.
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agentpref.agreement import ProfileAgreement, profile_text
from agentpref.errors import BackendError
from agentpref.io import cache_dir
from agentpref.lru import LRU
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile

if TYPE_CHECKING:
    from PIL import Image

    from agentpref.generators.base import Generator

EMBED_BATCH = 32  # images per DreamSim forward pass


def render_prompt(base: str, profile: Profile) -> str:
    """A text-to-image prompt for a profile, for generators that read only the prompt."""
    suffix = {Element.ART_STYLES: " style", Element.SATURATION: " saturation", Element.DETAIL: " detail"}
    parts = [", ".join(profile.terms(e)) + suffix.get(e, "") for e in ELEMENTS if profile.terms(e)]
    return ", ".join([base, *parts])


# -- models, loaded once per process -------------------------------------------------------

_MODELS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def default_dreamsim_dir() -> Path:
    return cache_dir() / "dreamsim"


def load_dreamsim(cache_dir: Path | None = None, dreamsim_type: str = "ensemble", device: str = "cpu") -> Any:
    """DreamSim's (model, preprocess), loaded once per (cache dir, type, device).

    DreamSim downloads its weights into `cache_dir` unless they are there already.
    """
    folder = Path(cache_dir) if cache_dir is not None else default_dreamsim_dir()
    key = ("dreamsim", str(folder), dreamsim_type, device)
    with _LOCK:
        if key not in _MODELS:
            try:
                from dreamsim import dreamsim
            except ImportError:
                raise BackendError("the image similarity needs DreamSim: pip install dreamsim") from None
            folder.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                # dreamsim wraps the model in LoRA twice by design (get_peft_model, then from_pretrained).
                warnings.filterwarnings("ignore", message=".*Already found a `peft_config`.*")
                try:
                    _MODELS[key] = dreamsim(
                        pretrained=True, device=device, cache_dir=str(folder), dreamsim_type=dreamsim_type
                    )
                except Exception as err:  # download, unzip, or a checkpoint of the wrong layout
                    reason = f"{type(err).__name__}: {err}"
                    raise BackendError(
                        f"cannot load DreamSim {dreamsim_type!r} from {folder} ({reason}); "
                        "put its weights there, or turn the image term off (image_term: false)"
                    ) from err
    return _MODELS[key]


def _pixel_hash(image: Image.Image) -> str:
    rgb = image.convert("RGB")
    return hashlib.sha256(f"{rgb.size}".encode() + rgb.tobytes()).hexdigest()


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    return rows / np.maximum(norms, 1e-12)


class ProfileSimilarity:
    """Similarity of (predicted, true) profile pairs: w_text x SBERT + w_img x DreamSim.

    Each similarity is in 0-1, so the result is in 0-1 when the weights sum to 1 (the
    default 0.5 + 0.5). With `image_term=False` nothing is rendered and the text similarity
    carries w_text + w_img. `generator` is a `Generator` or a backend URI, loaded when the
    first render is needed.
    """

    def __init__(
        self,
        *,
        w_text: float = 0.5,
        w_img: float = 0.5,
        image_term: bool = True,
        sbert_model: str | None = None,
        dreamsim_cache_dir: Path | None = None,
        dreamsim_type: str = "ensemble",
        device: str = "cpu",
        generator: Generator | str = "painter",
        render_prompt: str = "an artwork",
        render_seed: int = 0,
        render_size: int = 224,
        cache_size: int = 4096,
    ) -> None:
        if w_text < 0 or w_img < 0:
            raise ValueError(f"w_text={w_text}, w_img={w_img}: weights must be >= 0")
        self.image_term = image_term and w_img > 0
        self.w_text, self.w_img = (w_text, w_img) if self.image_term else (w_text + w_img, 0.0)
        self.device = device
        self.dreamsim_cache_dir, self.dreamsim_type = dreamsim_cache_dir, dreamsim_type
        self._generator = generator
        self.render_prompt, self.render_seed, self.render_size = render_prompt, render_seed, render_size
        self.text = ProfileAgreement(sbert_model, device=device, cache_size=cache_size)
        self._renders: LRU[str, Image.Image] = LRU(cache_size)
        self._image_embeddings: LRU[str, np.ndarray] = LRU(cache_size)

    @property
    def generator(self) -> Generator:
        if isinstance(self._generator, str):
            from agentpref.backends import load_generator

            self._generator = load_generator(self._generator)
        return self._generator

    def load(self) -> None:
        """Load the models (and the generator) now, so a missing checkpoint fails before training starts."""
        self.text.load()
        if self.image_term:
            load_dreamsim(self.dreamsim_cache_dir, self.dreamsim_type, self.device)
            _ = self.generator

    # -- images --------------------------------------------------------------------------

    def render(self, profiles: Sequence[Profile]) -> list[Image.Image]:
        """One image per profile (fixed prompt, seed and size), rendered once per distinct profile text."""
        out: dict[str, Image.Image] = {}
        for profile in profiles:
            key = profile_text(profile)
            if key in out:
                continue
            cached = self._renders.get(key)
            if cached is None:
                size = (self.render_size, self.render_size)
                cached = self.generator.generate(
                    render_prompt(self.render_prompt, profile),
                    n=1,
                    seed=self.render_seed,
                    size=size,
                    profile=UserProfile(likes=profile),
                )[0].image.convert("RGB")
                self._renders.put(key, cached)
            out[key] = cached
        return [out[profile_text(p)] for p in profiles]

    def image_embeddings(self, images: Sequence[Image.Image]) -> list[np.ndarray]:
        """Unit DreamSim embeddings, one per image, cached by pixel hash; new ones in batches."""
        keys = [_pixel_hash(im) for im in images]
        found = {k: v for k in dict.fromkeys(keys) if (v := self._image_embeddings.get(k)) is not None}
        missing = [(k, im) for k, im in dict(zip(keys, images, strict=True)).items() if k not in found]
        if missing:
            import torch

            model, preprocess = load_dreamsim(self.dreamsim_cache_dir, self.dreamsim_type, self.device)
            for start in range(0, len(missing), EMBED_BATCH):
                chunk = missing[start : start + EMBED_BATCH]
                batch = torch.cat([preprocess(im) for _, im in chunk]).to(self.device)
                with torch.inference_mode():
                    vectors = _unit(model.embed(batch).float().cpu().numpy().reshape(len(chunk), -1))
                for (key, _), vector in zip(chunk, vectors, strict=True):
                    found[key] = vector
                    self._image_embeddings.put(key, vector)
        return [found[k] for k in keys]

    def image_similarity(self, pairs: Sequence[tuple[Profile, Profile]]) -> list[float]:
        """DreamSim similarity (1 - DreamSim distance, clamped to 0-1) of the two profiles' renders."""
        images = self.render([p for pair in pairs for p in pair])
        vectors = self.image_embeddings(images)
        return [_clamp(float(np.dot(vectors[2 * i], vectors[2 * i + 1]))) for i in range(len(pairs))]

    # -- both ----------------------------------------------------------------------------

    def similarity(self, pairs: Sequence[tuple[Profile, Profile]]) -> list[float]:
        """w_text x text similarity + w_img x image similarity per (predicted, true) pair."""
        if not pairs:
            return []
        text = self.text.whole(pairs)
        if not self.image_term:
            return [self.w_text * t for t in text]
        image = self.image_similarity(pairs)
        return [self.w_text * t + self.w_img * i for t, i in zip(text, image, strict=True)]


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1.0)
