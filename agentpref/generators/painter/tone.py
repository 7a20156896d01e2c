"""The painter's last step: exact saturation and lightness, measured as the features assessor does.

Saturation (mean HSV saturation) is set by scaling colour about grey, lightness (mean HSV
value) by a gamma on V, which leaves every pixel's saturation and hue exactly as they were;
both are solved by bisection on the picture as the assessor sees it: resized so its long side
is 256 px (bilinear), where fine strokes blend with what is around them (sampling every few
full-size pixels instead misreads hatching on paper by 0.1 or more).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PIL import Image

from agentpref.generators.painter.plan import outside
from agentpref.images.pixels import analysis_copy, hsv_sv

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _bisect(fn: Callable[[float], float], target: float, hi: float = 64.0) -> float:
    """x in 0..hi with fn(x) == target for an increasing fn (14 halvings: hi/16384 is finer
    than any target the vocabulary's ranges can tell apart)."""
    lo = 0.0
    for _ in range(14):
        mid = (lo + hi) / 2
        if fn(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _as_measured(rgb: np.ndarray) -> np.ndarray:
    """`rgb` (float 0..1) at the size the assessor measures it (`analysis_copy`), every 4th
    pixel of it: the blend is the assessor's, the bisection stays cheap."""
    image = Image.fromarray((np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8))
    return np.asarray(analysis_copy(image), dtype=np.float32)[1::4, 1::4] / 255.0


def _resaturate(rgb: np.ndarray, f: float) -> np.ndarray:
    """Scale colourfulness about each pixel's grey level (luma kept, so edges are too)."""
    y = (rgb @ _LUMA)[..., None]
    return np.clip(y + f * (rgb - y), 0.0, 1.0)


def tone(
    rgb: np.ndarray, s_target: float | None, v_target: float | None, s_avoid: list[tuple[float, float]]
) -> np.ndarray:
    """`rgb` (float 0..1) with mean saturation `s_target` (or moved out of `s_avoid` when
    there is no target) and mean lightness `v_target`; None leaves a quantity as it is."""
    out = rgb
    small = _as_measured(out)
    s_now = float(hsv_sv(small)[0].mean())
    target = s_target
    if target is None and s_avoid:
        moved = outside(s_now, s_avoid)
        target = moved if abs(moved - s_now) > 1e-6 else None
    if target is not None and s_now > 1e-4:
        f = _bisect(lambda x: float(hsv_sv(_resaturate(small, x))[0].mean()), target, hi=8.0)
        out = _resaturate(out, f)
        small = _as_measured(out)
        s_now = float(hsv_sv(small)[0].mean())
        if s_now < target - 0.01:
            # Luma-keeping saturation clips before vivid targets; finish by scaling S about V.
            sv, _ = hsv_sv(small)
            f = _bisect(lambda x: float(np.minimum(sv * x, 1.0).mean()), target)
            sfull, vfull = hsv_sv(out)
            fx = np.minimum(f, 1.0 / np.maximum(sfull, 1e-6))[..., None]
            out = vfull[..., None] - fx * (vfull[..., None] - out)
    if v_target is not None:
        # Capped below 1 so that white paper can be darkened by the curve too.
        v = np.clip(_as_measured(out).max(-1), 1e-4, 0.985)
        if abs(float(v.mean()) - v_target) > 0.005:
            # A gamma on V (an exposure curve): keeps hue and saturation, and unlike a gain it
            # keeps contrast at the end of the range the image is pushed toward.
            e = _bisect(lambda x: -float((v ** math.exp(x - 4.0)).mean()), -v_target, hi=10.0)
            gamma = math.exp(e - 4.0)
            vfull = out.max(-1, keepdims=True)
            vcap = np.clip(vfull, 1e-4, 0.985)
            out = out * (vcap**gamma / np.maximum(vfull, 1e-4))
    return np.clip(out, 0.0, 1.0)
