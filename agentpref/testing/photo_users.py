"""Real-photograph users whose taste is known: bundled photos changed by controlled transforms.

A `PhotoUser` likes some photographs changed one way (lighter, less saturated, warmer,
sharper...) and dislikes photographs changed the opposite way; the transforms are its
`GroundTruth` for four elements: lightness (key), saturation, colour (warm or cool cast) and
detail. `photo_users(count, seed)` builds them; `profile_agreement(profile, truth)` says, per
element, whether a predicted `UserProfile` reads the truth right.

The photographs ship inside the scikit-image wheel (`skimage/data/`) and are read from there
as files: nothing is downloaded at run time. Each licence is the one the docstring of its
`skimage.data` function states (checked by `tests/test_photo_users.py`):

========== ===================== ===================================================
photo      file                  licence (``skimage.data.<function>`` docstring)
========== ===================== ===================================================
astronaut  astronaut.png         public domain (NASA Great Images)
chelsea    chelsea.png           CC0 (photographer Stefan van der Walt)
coffee     coffee.png            CC0 (photographer Rachel Michetti)
rocket     rocket.jpg            public domain (SpaceX)
retina     retina.jpg            CC0 1.0 (Mikael Häggström, Wikimedia Commons)
camera     camera.png            CC0 (photographer Lav Varshney); grey, tinted blue-grey
brick      brick.png             CC0 (CC0Textures); grey, tinted terracotta
gravel     gravel.png            CC0 (CC0Textures); grey, tinted sand
========== ===================== ===================================================

Left out: ``hubble_deep_field`` (public domain, but nearly black: a lightness transform
cannot lift it), ``motorcycle_left`` (no licence stated) and the images that are not
photographs. The three grey photos get a fixed tint so saturation transforms act on them.

Colour transforms work in HSV, each on one of hue, saturation and value, so each moves the
quantity `agentpref.images.measure` measures and leaves the others where they were (mean HSV
value for lightness, mean HSV saturation, Sobel edge density for detail):

- lighter: ``V' = lift + (1 - lift) * V**g`` (g < 1; shadows lifted: high key);
  darker: ``V' = (1 - crush) * V**g`` (g > 1; highlights pulled down: low key);
- more saturated: ``S' = S**g`` (g < 1); less: ``S' = k * S`` (k < 1);
- warm: every hue pulled part of the way toward orange; cool: toward cyan-blue;
- more detail: an unsharp mask or dark ink lines drawn over the photo; less: a Gaussian
  blur, or a box blur then posterisation (flat colour).

A user's disliked photos are mostly the liked photos' bases (one may be swapped for another
photo, and others added when the user has more dislikes than likes), so the transforms, not
the choice of photos, separate the two sets. The elements a user's truth
leaves alone are not left alone in the photos: each photo, liked or disliked, has them
changed up, down or not at all at random, with the same odds on both sides, so a judge must
read what separates the sets, not what each set happens to be. Everything random comes from
a numpy Generator seeded with (seed, user index): a user is the same whatever `count` is.
"""

from __future__ import annotations

import colorsys
import io
import itertools
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from pydantic import BaseModel, ConfigDict

from agentpref.images.references import References
from agentpref.images.refs import ImageRef
from agentpref.profile import Element, Profile, UserProfile
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, words

Direction = Literal["higher", "lower", "same"]
"""Where the liked set stands against the disliked set on one quantity."""
Cast = Literal["warm", "cool", "none"]
"""The colour cast of the liked set ("warm": liked warmer than disliked)."""

ELEMENT_NAMES: tuple[str, ...] = ("lightness", "saturation", "colour", "detail")
_WARM_HUE = 30.0
"""Degrees: orange, the warmest hue; its opposite (210, cyan-blue) is the coolest."""
PHOTO_SIDE = 320
"""Long side (px) of every photo: a little above the 256 px the measurements work at."""


@dataclass(frozen=True)
class Photo:
    """One bundled photograph: its file in `skimage/data/`, licence, and a tint for grey ones."""

    name: str
    file: str
    licence: str
    licence_phrase: str
    """Words of the `skimage.data.<name>` docstring that state the licence (tests check them)."""
    tint: tuple[float, float, float] | None = None


PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "astronaut.png", "public domain", "released into the public domain"),
    Photo("chelsea", "chelsea.png", "CC0", "CC0 by the photographer"),
    Photo("coffee", "coffee.png", "CC0", "CC0 by the photographer"),
    Photo("rocket", "rocket.jpg", "public domain", "released in the public domain"),
    Photo("retina", "retina.jpg", "CC0 1.0", "Creative Commons CC0 1.0"),
    Photo("camera", "camera.png", "CC0", "CC0 by the photographer", tint=(0.8, 0.88, 1.0)),
    Photo("brick", "brick.png", "CC0", "Creative Commons CC0", tint=(1.0, 0.82, 0.66)),
    Photo("gravel", "gravel.png", "CC0", "Creative Commons CC0", tint=(1.0, 0.94, 0.84)),
)


class GroundTruth(BaseModel):
    """What a user's transforms make true of the liked set against the disliked set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lightness: Direction = "same"
    saturation: Direction = "same"
    detail: Direction = "same"
    colour: Cast = "none"

    def constrained(self) -> list[str]:
        """The elements (of `ELEMENT_NAMES`) this truth says something about."""
        return [e for e in ELEMENT_NAMES if getattr(self, e) not in ("same", "none")]


@dataclass(frozen=True)
class PhotoUser:
    """A person made of transformed photos: what they like, what they don't, and why."""

    name: str
    likes: list[ImageRef]
    dislikes: list[ImageRef]
    truth: GroundTruth

    def references(self) -> References:
        return References(likes=list(self.likes), dislikes=list(self.dislikes))


# -- photos ------------------------------------------------------------------------------------


@cache
def photo_pixels(name: str) -> np.ndarray:
    """A bundled photo as float32 RGB in 0..1, long side `PHOTO_SIDE` (read once per process)."""
    photo = next((p for p in PHOTOS if p.name == name), None)
    if photo is None:
        raise KeyError(f"no bundled photo {name!r}; known: {[p.name for p in PHOTOS]}")
    with resources.as_file(resources.files("skimage.data") / photo.file) as path, Image.open(path) as im:
        im.load()
        if photo.tint is not None:
            grey = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
            rgb = Image.fromarray(_to_uint8(grey[..., None] * np.array(photo.tint, dtype=np.float32)))
        else:
            rgb = im.convert("RGB")
    scale = PHOTO_SIDE / max(rgb.size)
    size = (round(rgb.width * scale), round(rgb.height * scale))
    return np.asarray(rgb.resize(size, Image.Resampling.LANCZOS), dtype=np.float32) / 255.0


def _to_uint8(rgb01: np.ndarray) -> np.ndarray:
    return np.round(np.clip(rgb01, 0.0, 1.0) * 255.0).astype(np.uint8)


# -- transforms --------------------------------------------------------------------------------


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (0..1, 0 = red), HSV saturation and value of float RGB in 0..1, per pixel."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hi = np.maximum(np.maximum(r, g), b)  # (a reduction over a last axis of 3 is ten times slower)
    spread = hi - np.minimum(np.minimum(r, g), b)
    s = np.where(hi > 0, spread / np.maximum(hi, 1e-12), 0.0)
    d = np.maximum(spread, 1e-12)
    h = np.where(hi == r, (g - b) / d, np.where(hi == g, 2.0 + (b - r) / d, 4.0 + (r - g) / d))
    return np.where(spread > 0, (h / 6.0) % 1.0, 0.0), s, hi


def _rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Float RGB from hue, saturation and value (the inverse of `_hsv`)."""
    sector = np.floor(h * 6.0)
    f = h * 6.0 - sector
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = sector.astype(int) % 6
    channels = [np.choose(i, order) for order in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))]
    return np.stack(channels, axis=-1).astype(np.float32)


def _recolour(
    rgb: np.ndarray,
    hue: Callable[[np.ndarray], np.ndarray] | None = None,
    saturation: Callable[[np.ndarray], np.ndarray] | None = None,
    value: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """New HSV hue, saturation and/or value per pixel; what is not given stays exactly as it was."""
    h, s, v = _hsv(rgb)
    return _rgb(
        hue(h) % 1.0 if hue else h,
        np.clip(saturation(s), 0.0, 1.0) if saturation else s,
        np.clip(value(v), 0.0, 1.0) if value else v,
    )


def lighten(rgb: np.ndarray, gamma: float = 0.55, lift: float = 0.2) -> np.ndarray:
    """High key: shadows lifted and mid-tones raised (``V' = lift + (1 - lift) V**gamma``)."""
    return _recolour(rgb, value=lambda v: lift + (1.0 - lift) * v**gamma)


def darken(rgb: np.ndarray, gamma: float = 1.8, crush: float = 0.2) -> np.ndarray:
    """Low key: mid-tones lowered and highlights pulled down (``V' = (1 - crush) V**gamma``)."""
    return _recolour(rgb, value=lambda v: (1.0 - crush) * v**gamma)


def saturate(rgb: np.ndarray, gamma: float = 0.45) -> np.ndarray:
    """More saturated (``S' = S**gamma``); greys stay grey."""
    return _recolour(rgb, saturation=lambda s: s**gamma)


def desaturate(rgb: np.ndarray, factor: float = 0.3) -> np.ndarray:
    """Less saturated (``S' = factor * S``)."""
    return _recolour(rgb, saturation=lambda s: factor * s)


def colour_cast(rgb: np.ndarray, cast: Cast, strength: float = 0.5) -> np.ndarray:
    """Warm: every hue pulled `strength` of the way toward orange; cool: toward cyan-blue.
    Saturation and value are kept, so greys stay grey; "none" returns a copy."""
    if cast == "none":
        return rgb.copy()
    target = (_WARM_HUE if cast == "warm" else _WARM_HUE + 180.0) / 360.0
    # The signed shortest way round the hue circle from each hue to the target.
    return _recolour(rgb, hue=lambda h: h + strength * (((target - h + 0.5) % 1.0) - 0.5))


def blur(rgb: np.ndarray, radius: float = 2.0) -> np.ndarray:
    """Less detail: a Gaussian blur."""
    return _pil(rgb, lambda im: im.filter(ImageFilter.GaussianBlur(radius)))


def flatten(rgb: np.ndarray, radius: float = 2.0, bits: int = 3) -> np.ndarray:
    """Less detail, flat colour: a box blur, then posterisation to `bits` per channel.
    (Posterisation alone barely changes edge density: the blur removes the texture first.)"""
    return _pil(rgb, lambda im: ImageOps.posterize(im.filter(ImageFilter.BoxBlur(radius)), bits))


def sharpen(rgb: np.ndarray, percent: int = 200) -> np.ndarray:
    """More detail: an unsharp mask (radius 2 px, no threshold)."""
    return _pil(rgb, lambda im: im.filter(ImageFilter.UnsharpMask(2, percent, 0)))


def ink_lines(rgb: np.ndarray, rng: np.random.Generator, count: int = 90) -> np.ndarray:
    """More detail: `count` thin dark ink strokes (short polylines) drawn over the photo."""

    def draw(im: Image.Image) -> Image.Image:
        canvas = im.copy()
        pen = ImageDraw.Draw(canvas)
        w, h = canvas.size
        for _ in range(count):
            x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
            angle = float(rng.uniform(0, np.pi))
            points = [(x, y)]
            for _ in range(int(rng.integers(2, 5))):
                angle += float(rng.normal(0, 0.35))
                step = float(rng.uniform(8, 24))
                x, y = x + step * np.cos(angle), y + step * np.sin(angle)
                points.append((x, y))
            ink = int(rng.integers(10, 40))
            pen.line(points, fill=(ink, ink, ink + 8), width=int(rng.integers(1, 3)))
        return canvas

    return _pil(rgb, draw)


def to_ref(rgb01: np.ndarray, name: str) -> ImageRef:
    """Pixels in 0..1 as an `ImageRef` (a PNG at zlib level 1: a fifth of the default's time)."""
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(rgb01)).save(buffer, format="PNG", compress_level=1)
    return ImageRef.from_bytes(buffer.getvalue(), name)


def _pil(rgb: np.ndarray, op: Callable[[Image.Image], Image.Image]) -> np.ndarray:
    return np.asarray(op(Image.fromarray(_to_uint8(rgb))), dtype=np.float32) / 255.0


# -- users -------------------------------------------------------------------------------------


_FLIP = {"higher": "lower", "lower": "higher", "warm": "cool", "cool": "warm"}


def _edits(truth: GroundTruth, liked: bool, rng: np.random.Generator) -> dict[str, str]:
    """One photo's direction per element: the truth's for a liked photo, the opposite for a
    disliked one; an element the truth leaves alone goes up, down or nowhere at random (the
    same odds on both sides), so only the constrained elements separate the two sets."""
    edits = {}
    for element in ELEMENT_NAMES:
        want = getattr(truth, element)
        if want in ("same", "none"):
            up, down, stay = ("warm", "cool", "none") if element == "colour" else ("higher", "lower", "same")
            edits[element] = stay if rng.random() < 0.5 else (up if rng.random() < 0.5 else down)
        else:
            edits[element] = want if liked else _FLIP[want]
    return edits


def _transform(rgb: np.ndarray, edits: dict[str, str], rng: np.random.Generator) -> np.ndarray:
    """One photo changed as `edits` say, strengths drawn per photo (a set is not copies of one
    edit). Hue, saturation and value first (each leaves the others alone), then detail."""
    out = rgb
    if edits["colour"] != "none":
        out = colour_cast(out, edits["colour"], float(rng.uniform(0.4, 0.65)))  # type: ignore[arg-type]
    if edits["saturation"] == "higher":
        out = saturate(out, float(rng.uniform(0.35, 0.55)))
    elif edits["saturation"] == "lower":
        out = desaturate(out, float(rng.uniform(0.2, 0.4)))
    if edits["lightness"] == "higher":
        out = lighten(out, float(rng.uniform(0.45, 0.65)), float(rng.uniform(0.15, 0.3)))
    elif edits["lightness"] == "lower":
        out = darken(out, float(rng.uniform(1.6, 2.2)), float(rng.uniform(0.1, 0.25)))
    if edits["detail"] == "higher":
        out = sharpen(out, int(rng.integers(150, 260))) if rng.random() < 0.5 else ink_lines(out, rng)
    elif edits["detail"] == "lower":
        out = blur(out, float(rng.uniform(1.6, 2.6))) if rng.random() < 0.5 else flatten(out)
    return out


def _truth(rng: np.random.Generator) -> GroundTruth:
    """Two to four elements, each with a random direction; the rest unconstrained."""
    tested = rng.choice(len(ELEMENT_NAMES), size=int(rng.integers(2, 5)), replace=False)
    fields: dict[str, str] = {}
    for i in sorted(int(x) for x in tested):
        up = bool(rng.random() < 0.5)
        name = ELEMENT_NAMES[i]
        fields[name] = ("warm" if up else "cool") if name == "colour" else ("higher" if up else "lower")
    return GroundTruth.model_validate(fields)


_WORDS = {
    "lightness": ("lighter", "darker"),
    "saturation": ("more saturated", "less saturated"),
    "detail": ("more detailed", "less detailed"),
}


def describe(truth: GroundTruth) -> str:
    """The liked side in words, e.g. "lighter, less saturated, warm"."""
    parts = []
    for e in truth.constrained():
        value = getattr(truth, e)
        parts.append(value if e == "colour" else _WORDS[e][0 if value == "higher" else 1])
    return ", ".join(parts)


def photo_user(index: int, seed: int = 0) -> PhotoUser:
    """User `index` of the series `seed` (the same one `photo_users` returns at that index)."""
    rng = np.random.default_rng([seed, index])
    truth = _truth(rng)
    n = len(PHOTOS)
    liked_bases = [int(i) for i in rng.choice(n, size=int(rng.integers(3, 6)), replace=False)]
    # The disliked photos are the liked ones in another order, one perhaps swapped for another
    # photo, cut or topped up with others to the user's own count (3-5).
    disliked_bases = [liked_bases[int(i)] for i in rng.permutation(len(liked_bases))]
    others = [i for i in range(n) if i not in liked_bases]
    if rng.random() < 0.5:
        disliked_bases[0] = others[int(rng.integers(len(others)))]
    n_dislikes = int(rng.integers(3, 6))
    while len(disliked_bases) < n_dislikes:
        disliked_bases.append(others[int(rng.integers(len(others)))])
    disliked_bases = disliked_bases[:n_dislikes]
    name = f"photo-user-{seed}-{index:03d}"

    def refs(bases: Sequence[int], liked: bool) -> list[ImageRef]:
        kind = "like" if liked else "dislike"
        return [
            to_ref(
                _transform(photo_pixels(PHOTOS[b].name), _edits(truth, liked, rng), rng),
                f"{name}-{kind}-{k}-{PHOTOS[b].name}.png",
            )
            for k, b in enumerate(bases)
        ]

    likes = refs(liked_bases, True)
    dislikes = refs(disliked_bases, False)
    return PhotoUser(f"{name} (likes {describe(truth)})", likes, dislikes, truth)


def photo_users(count: int, seed: int = 0) -> list[PhotoUser]:
    """`count` users, deterministic for `seed`; user i does not depend on `count`."""
    return [photo_user(i, seed) for i in range(count)]


def candidate_photos(count: int, seed: int = 0) -> list[ImageRef]:
    """`count` photos, each changed at random on every element: candidates to judge."""
    out = []
    for i in range(count):
        rng = np.random.default_rng([seed, 1_000_000 + i])
        photo = PHOTOS[int(rng.integers(len(PHOTOS)))]
        pixels = _transform(photo_pixels(photo.name), _edits(GroundTruth(), True, rng), rng)
        out.append(to_ref(pixels, f"candidate-{seed}-{i:03d}-{photo.name}.png"))
    return out


# -- reading a profile against the truth -------------------------------------------------------

_HIGH_KEY_WORDS = frozenset({"bright", "light", "high key", "highkey", "airy", "luminous", "pale"})
_LOW_KEY_WORDS = frozenset({"dark", "low key", "lowkey", "dim", "shadowy", "gloomy"})


def _resolved(vocab: Vocabulary, names: Sequence[str], element: Element) -> list[Term]:
    """Terms as the features assessor resolves names: exact name or alias, else normalised."""
    found = (vocab.get(n, element) or vocab.normalize(n, element) for n in names)
    return [t for t in found if t is not None]


def key_of_keyword(keyword: str) -> int:
    """+1 for a high-key word ("bright", "high-key", "light"), -1 for a low-key one ("dark",
    "low-key"), 0 for anything else or both. Words are matched whole ("lighthouse" is not light).

    >>> [key_of_keyword(k) for k in ("dark, low-key", "High-Key", "bright pastel", "lighthouse")]
    [-1, 1, 1, 0]
    """
    tokens = words(keyword)
    grams = set(tokens) | {" ".join(pair) for pair in itertools.pairwise(tokens)}
    high, low = bool(grams & _HIGH_KEY_WORDS), bool(grams & _LOW_KEY_WORDS)
    return int(high) - int(low)


def warmth(colours: Sequence[tuple[Sequence[float], float]], *, hue_only: bool = False) -> float | None:
    """How warm some (sRGB 0-255 colour, weight) pairs are, -1..1: each colour counts as the
    cosine of its hue's angle from orange times its chroma (max - min channel, 0..1), so a
    grey is neutral (0), a vivid orange +1 and a vivid cyan-blue -1; the weighted mean.

    `hue_only` divides by the chroma instead of the weights: only the direction of the hues
    counts, so a desaturated warm photo is as warm as a vivid one (how the test kit checks its
    casts on photos whose saturation it also changes). None when there is nothing to average.

    >>> round(warmth([((230, 120, 20), 1.0), ((128, 128, 128), 1.0)]), 2)
    0.41
    >>> round(warmth([((230, 120, 20), 1.0), ((128, 128, 128), 1.0)], hue_only=True), 2)
    1.0
    """
    total = weighted = 0.0
    for rgb, weight in colours:
        r, g, b = (float(c) / 255.0 for c in rgb)
        hue, _, _ = colorsys.rgb_to_hsv(r, g, b)
        chroma = max(r, g, b) - min(r, g, b)
        total += weight * chroma if hue_only else weight
        weighted += weight * chroma * float(np.cos(np.radians(hue * 360.0 - _WARM_HUE)))
    return weighted / total if total > 1e-6 else None


def _levels(profile: Profile, element: str, vocab: Vocabulary) -> list[float]:
    """The numbers one side's terms (and, for lightness, keywords) mean for `element`; the
    terms of an element the side marks uncertain count for nothing (they reach no prompt)."""

    def terms(e: Element) -> list[Term]:
        return [] if profile.is_uncertain(e) else _resolved(vocab, profile.terms(e), e)

    if element == "colour":
        w = warmth([(t.rgb, 1.0) for t in terms(Element.COLOR) if t.rgb])
        return [] if w is None else [w]
    if element == "detail":
        return [t.center for t in terms(Element.DETAIL) if t.center is not None]
    if element == "saturation":
        return [t.center for t in terms(Element.SATURATION) if t.center is not None]
    keys = [key_of_keyword(k) for k in profile.keywords]
    mids = _key_midpoints(vocab.terms(Element.SATURATION))
    high, low = max(mids), min(mids)  # what a high-key and a low-key keyword stand for
    return [*_key_midpoints(terms(Element.SATURATION)), *(high if k > 0 else low for k in keys if k)]


def _key_midpoints(terms: Sequence[Term]) -> list[float]:
    """The midpoints of the ``lightness_range`` of those `terms` that have one."""
    return [(t.lightness_range[0] + t.lightness_range[1]) / 2 for t in terms if t.lightness_range]


def neutral_level(element: str, vocab: Vocabulary) -> float:
    """What a side without terms is read as: the median meaning of the element's vocabulary
    terms (0 warmth, a grey, for colour)."""
    if element == "colour":
        return 0.0
    if element == "lightness":
        return statistics.median(_key_midpoints(vocab.terms(Element.SATURATION)))
    e = Element.DETAIL if element == "detail" else Element.SATURATION
    return statistics.median(t.center for t in vocab.terms(e) if t.center is not None)


def profile_agreement(
    profile: UserProfile, truth: GroundTruth, vocabulary: Vocabulary | None = None
) -> dict[str, bool | None]:
    """Per element of `ELEMENT_NAMES`: does `profile` say what `truth` says? None: unconstrained.

    Each side of the profile is read through the vocabulary only, as a level per element,
    from what would reach a prompt: terms of an element the side marks uncertain
    (`Profile.is_uncertain`, which `agentpref.prompting` leaves out) count for nothing.

    - saturation: the mean midpoint of its Saturation terms' ``saturation_range``;
    - lightness: the mean of its Saturation terms' ``lightness_range`` midpoints and, for
      each keyword in ``keywords`` that names a key (`key_of_keyword`: "bright",
      "high-key", "light" / "dark", "low-key"), the highest (high key) or lowest (low key)
      lightness midpoint of any Saturation term;
    - detail: the mean midpoint of its Detail terms' ``detail_range``;
    - colour: the `warmth` of its Color terms' ``rgb`` (greys neutral, vivid orange warmest).

    The element agrees when the liked level is strictly above the disliked level for a
    "higher" (or "warm") truth, strictly below for "lower" (or "cool"). A side with no level
    (no such terms, or none that the vocabulary knows) is read as `neutral_level`, the
    median meaning of the element's terms: "likes Vivid" alone reads as "likes more
    saturated than usual", which is what a person reading the profile understands. With no
    level on either side the profile says nothing: False.
    """
    vocab = vocabulary or load_vocabulary()
    out: dict[str, bool | None] = {}
    for element in ELEMENT_NAMES:
        want = getattr(truth, element)
        if want in ("same", "none"):
            out[element] = None
            continue
        liked, disliked = _levels(profile.likes, element, vocab), _levels(profile.dislikes, element, vocab)
        if not liked and not disliked:
            out[element] = False
            continue
        neutral = neutral_level(element, vocab)
        a = statistics.fmean(liked) if liked else neutral
        b = statistics.fmean(disliked) if disliked else neutral
        out[element] = a > b if want in ("higher", "warm") else a < b
    return out


def one_sided(profile: UserProfile, element: str, vocabulary: Vocabulary | None = None) -> bool:
    """True when exactly one side of `profile` has a level for `element` (read against neutral)."""
    vocab = vocabulary or load_vocabulary()
    return bool(_levels(profile.likes, element, vocab)) != bool(_levels(profile.dislikes, element, vocab))
