"""What the features assessor knows: distances between measurements, per element (how far a
picture is from a vocabulary term is `features.fit`); treatment and composition recognition.

Distances are in "units": 1 is a difference a person notices, 3 is a different look.
The treatment and family prototypes are means and spreads of the texture and layout
statistics measured on painter renders (seeds 5,000,000+, never used by tests or the
benchmark); `benchmarks/synthetic_accuracy.py --calibrate` prints them again. A class may
have several components: a medium's marks look different in a plain picture and in a busy
one, so each treatment has one component per detail tier (`DETAIL_TIERS`).
"""

from __future__ import annotations

import math

import numpy as np

from agentpref.images.measure import LAYOUT_FEATURES, TEXTURE_FEATURES, Measurements
from agentpref.profile import Element

COLOR_UNIT = 12.0  # CIE76 distance of one unit
SATURATION_UNIT = 0.06
LIGHTNESS_UNIT = 0.08
DETAIL_UNIT = 0.25  # in log(edge density + 0.01)
# Edge densities that split the treatments' calibration renders into plain, medium, busy.
DETAIL_TIERS = (0.05, 0.15)

# One component of a class: (mean, spread) per feature.
Component = tuple[tuple[float, ...], tuple[float, ...]]

# Components (mean, spread) per texture feature, in TEXTURE_FEATURES order, per treatment.
TREATMENT_PROTOTYPES: dict[str, tuple[Component, ...]] = {
    "airbrush": (
        (
            (0.3786, 0.0062, 0.4605, 0.9964, 0.1033, 0.0587, 2.428, 0.009, 0.01, 0.1151),
            (0.3399, 0.004, 0.3788, 0.005, 0.1051, 0.0607, 0.9414, 0.0268, 0.0096, 0.165),
        ),
        (
            (0.016, 0.0176, 0.8228, 0.9957, 0.2113, 0.1082, 2.9263, 0.0563, 0.0179, 0.1096),
            (0.115, 0.0033, 0.1124, 0.0014, 0.0332, 0.018, 0.2766, 0.0268, 0.0039, 0.1489),
        ),
        (
            (0.0257, 0.018, 0.6736, 0.9979, 0.1924, 0.1002, 2.746, 0.1131, 0.0157, 0.0159),
            (0.115, 0.0047, 0.1124, 0.0014, 0.0332, 0.018, 0.2956, 0.0347, 0.0066, 0.0542),
        ),
    ),
    "flat": (
        (
            (0.8746, 0.0, 0.0801, 0.8829, 0.2762, 0.2084, 2.5158, 0.0112, 0.0084, 0.0082),
            (0.1694, 0.0042, 0.1012, 0.177, 0.2021, 0.11, 0.3756, 0.0378, 0.0218, 0.0467),
        ),
        (
            (0.5502, 0.0033, 0.3078, 0.7743, 0.463, 0.2703, 2.6257, 0.0496, 0.0479, 0.0643),
            (0.2532, 0.0043, 0.1966, 0.2964, 0.356, 0.2095, 0.2734, 0.0378, 0.0413, 0.1264),
        ),
        (
            (0.1763, 0.0142, 0.4508, 0.9918, 0.2009, 0.1082, 3.0608, 0.1692, 0.0825, 0.0464),
            (0.1694, 0.0082, 0.1012, 0.1057, 0.1275, 0.0748, 0.2995, 0.0457, 0.0325, 0.0917),
        ),
    ),
    "hatching": (
        (
            (0.2131, 0.0078, 0.29, 0.5524, 0.0299, 0.4827, 2.1128, 0.0282, 0.2989, 0.1604),
            (0.0996, 0.0204, 0.2258, 0.256, 0.0467, 0.2356, 0.4673, 0.0515, 0.0558, 0.3587),
        ),
        (
            (0.122, 0.0126, 0.4793, 0.5443, 0.043, 0.5445, 2.5997, 0.0755, 0.2973, 0.0965),
            (0.0709, 0.0204, 0.2291, 0.2313, 0.0493, 0.1883, 0.4966, 0.0515, 0.0558, 0.2896),
        ),
        (
            (0.0356, 0.0504, 0.543, 0.8276, 0.0983, 0.3089, 2.4933, 0.2047, 0.4179, 0.1017),
            (0.0516, 0.0518, 0.1315, 0.1594, 0.0486, 0.1698, 0.5957, 0.0912, 0.1288, 0.222),
        ),
    ),
    "impasto": (
        (
            (0.1208, 0.0075, 0.5374, 0.9674, 0.194, 0.1552, 2.3996, 0.0132, 0.0115, 0.0963),
            (0.0398, 0.0027, 0.1156, 0.023, 0.05, 0.0499, 0.2701, 0.0302, 0.012, 0.1954),
        ),
        (
            (0.1087, 0.0094, 0.5908, 0.9762, 0.1778, 0.124, 2.3896, 0.0495, 0.025, 0.0178),
            (0.1005, 0.0027, 0.1619, 0.0195, 0.0204, 0.0176, 0.2645, 0.0302, 0.0121, 0.0514),
        ),
        (
            (0.0218, 0.018, 0.6458, 0.9869, 0.1692, 0.1148, 2.4251, 0.1401, 0.0602, 0.0305),
            (0.0398, 0.0039, 0.0803, 0.0091, 0.0145, 0.0154, 0.2704, 0.0436, 0.0151, 0.0514),
        ),
    ),
    "ink": (
        (
            (0.8155, 0.0033, 0.1375, 0.7781, 0.3026, 0.2947, 2.4986, 0.0206, 0.0554, 0.0928),
            (0.2994, 0.0086, 0.273, 0.1548, 0.2055, 0.1461, 0.6703, 0.0481, 0.1065, 0.2405),
        ),
        (
            (0.8162, 0.0003, 0.0827, 0.7884, 0.4386, 0.2783, 2.7018, 0.0554, 0.0192, 0.0078),
            (0.159, 0.0059, 0.1021, 0.2301, 0.2839, 0.1402, 0.3921, 0.0481, 0.0314, 0.0575),
        ),
        (
            (0.3696, 0.0108, 0.2689, 0.9892, 0.2238, 0.1229, 2.6503, 0.2006, 0.0671, 0.0064),
            (0.2567, 0.0152, 0.1901, 0.0934, 0.1104, 0.0674, 0.358, 0.0831, 0.0521, 0.0575),
        ),
    ),
    "mosaic": (
        (
            (0.5765, 0.0012, 0.2988, 0.9172, 0.3313, 0.2087, 3.4496, 0.0151, 0.1294, 0.0033),
            (0.156, 0.0036, 0.1118, 0.048, 0.0945, 0.0678, 0.4043, 0.031, 0.1867, 0.0115),
        ),
        (
            (0.3838, 0.0045, 0.4521, 0.9598, 0.3116, 0.1632, 3.904, 0.0341, 0.0241, 0.0109),
            (0.1642, 0.0048, 0.1492, 0.0197, 0.0454, 0.026, 0.2168, 0.031, 0.0596, 0.0211),
        ),
        (
            (0.1274, 0.0143, 0.5242, 0.9797, 0.2684, 0.1371, 3.8108, 0.1469, 0.0372, 0.0156),
            (0.1305, 0.0068, 0.1313, 0.0197, 0.0414, 0.026, 0.3557, 0.0416, 0.0596, 0.0248),
        ),
    ),
    "photographic": (
        (
            (0.0406, 0.0135, 0.7529, 0.886, 0.2779, 0.2178, 2.2471, 0.0106, 0.0239, 0.0216),
            (0.0093, 0.0026, 0.0477, 0.1484, 0.2441, 0.1388, 0.3015, 0.0334, 0.0151, 0.0364),
        ),
        (
            (0.025, 0.0161, 0.7718, 0.9951, 0.1957, 0.1081, 2.3804, 0.0449, 0.0257, 0.0642),
            (0.0107, 0.0029, 0.0479, 0.0462, 0.069, 0.0453, 0.4523, 0.0334, 0.0217, 0.1063),
        ),
        (
            (0.0096, 0.0235, 0.6783, 0.9954, 0.2003, 0.1049, 2.8217, 0.1474, 0.0652, 0.0045),
            (0.0075, 0.003, 0.0611, 0.0462, 0.069, 0.0453, 0.187, 0.0334, 0.0256, 0.0251),
        ),
    ),
    "pixel": (
        (
            (0.629, 0.0018, 0.2712, 0.4962, 0.8177, 0.5323, 3.0786, 0.0084, 0.0123, 0.0093),
            (0.2447, 0.004, 0.2079, 0.2128, 0.2097, 0.2119, 0.6513, 0.0232, 0.0149, 0.0277),
        ),
        (
            (0.2025, 0.0114, 0.6195, 0.7616, 0.6229, 0.3319, 4.1069, 0.047, 0.0391, 0.03),
            (0.2472, 0.0065, 0.2148, 0.1601, 0.1505, 0.0996, 0.5344, 0.0232, 0.0187, 0.0819),
        ),
        (
            (0.0719, 0.0171, 0.6532, 0.8631, 0.5052, 0.2622, 4.362, 0.1158, 0.0465, 0.0028),
            (0.1656, 0.0041, 0.1311, 0.1198, 0.1098, 0.0996, 0.3975, 0.0246, 0.0138, 0.0234),
        ),
    ),
    "watercolor": (
        (
            (0.1093, 0.0095, 0.5743, 0.7951, 0.362, 0.2703, 2.3797, 0.0155, 0.0172, 0.0542),
            (0.0986, 0.0037, 0.2463, 0.2176, 0.2424, 0.1593, 0.3642, 0.0165, 0.0122, 0.046),
        ),
        (
            (0.0485, 0.0135, 0.7042, 0.9758, 0.219, 0.129, 2.4817, 0.0346, 0.0314, 0.0395),
            (0.0445, 0.0043, 0.1642, 0.0788, 0.1127, 0.0673, 0.2085, 0.0165, 0.0313, 0.0663),
        ),
        (
            (0.031, 0.0173, 0.6844, 0.9968, 0.19, 0.1006, 2.3978, 0.0848, 0.0416, 0.0044),
            (0.0401, 0.0036, 0.1206, 0.0788, 0.0868, 0.0621, 0.516, 0.0332, 0.0164, 0.027),
        ),
    ),
}
# Components (mean, spread) per layout feature, in LAYOUT_FEATURES order, per composition family.
FAMILY_PROTOTYPES: dict[str, tuple[Component, ...]] = {
    "abstract": (
        (
            (0.4848, 0.4698, 0.0621, 0.7884, 0.3335),
            (0.113, 0.205, 0.0749, 0.1674, 0.198),
        ),
    ),
    "geometric": (
        (
            (0.4977, 0.3754, 0.0381, 0.8337, 0.3243),
            (0.094, 0.1976, 0.0478, 0.1155, 0.2012),
        ),
    ),
    "grid": (
        (
            (0.5047, 0.3134, 0.055, 0.7835, 0.3547),
            (0.1746, 0.2157, 0.055, 0.1145, 0.1891),
        ),
    ),
    "landscape": (
        (
            (0.9027, 0.2154, 0.1018, 0.8355, 0.2915),
            (0.0834, 0.1605, 0.0824, 0.1223, 0.1774),
        ),
    ),
    "organic": (
        (
            (0.4992, 0.3631, 0.0428, 0.7842, 0.3447),
            (0.0978, 0.1884, 0.0414, 0.1237, 0.1924),
        ),
    ),
    "portrait-like": (
        (
            (0.4669, 0.3649, 0.1354, 0.858, 0.3156),
            (0.1652, 0.2121, 0.1133, 0.09, 0.1601),
        ),
    ),
    "radial": (
        (
            (0.5178, 0.5594, 0.0645, 0.7722, 0.368),
            (0.0808, 0.2646, 0.0968, 0.1472, 0.2227),
        ),
    ),
}

# Noun phrases: they complete "it looks like ...", "texture looks like ... (80%)" and
# "its composition reads as ..." (no "-like", "look" or parentheses of their own).
TREATMENT_WORDS: dict[str, str] = {
    "flat": "flat colour with hard edges",
    "watercolor": "soft, bleeding watercolour washes",
    "impasto": "thick impasto paint in raised strokes",
    "pixel": "blocky pixel art",
    "hatching": "pen or pencil hatching",
    "airbrush": "smooth airbrushed gradients",
    "photographic": "a soft-focus photograph",
    "ink": "bold ink outlines around flat fills",
    "mosaic": "mosaic tiles with grout lines",
}
FAMILY_WORDS: dict[str, str] = {
    "geometric": "an arrangement of geometric shapes",
    "organic": "a mass of organic, rounded forms",
    "landscape": "a landscape of horizontal bands",
    "radial": "a radial pattern around a centre",
    "grid": "a grid of blocks",
    "portrait-like": "a single central figure, as in a portrait",
    "abstract": "loose abstract gestures",
}


def log_detail(edge_density: float) -> float:
    """The scale detail is compared on: log(edge density + 0.01) (a doubling is the same step
    everywhere, and a flat picture is not infinitely far)."""
    return math.log(max(edge_density, 0.0) + 0.01)


def palette_distance(a_lab: np.ndarray, a_w: np.ndarray, b_lab: np.ndarray, b_w: np.ndarray) -> float:
    """Symmetric weighted chamfer distance between two palettes, in colour units."""
    d = np.sqrt(((a_lab[:, None, :] - b_lab[None, :, :]) ** 2).sum(-1))
    ab = float((d.min(axis=1) * a_w).sum() / max(a_w.sum(), 1e-9))
    ba = float((d.min(axis=0) * b_w).sum() / max(b_w.sum(), 1e-9))
    return 0.5 * (ab + ba) / COLOR_UNIT


def _z(vector: np.ndarray, spreads: np.ndarray) -> np.ndarray:
    return vector / np.maximum(spreads, 1e-6)


TEXTURE_SPREAD = np.ones(len(TEXTURE_FEATURES))
LAYOUT_SPREAD = np.ones(len(LAYOUT_FEATURES))


def distance(element: Element, a: Measurements, b: Measurements) -> float:
    """How different two images are on one element, in units."""
    if element is Element.COLOR:
        return palette_distance(*a.palette_lab(), *b.palette_lab())
    if element is Element.SATURATION:
        ds = (a.saturation_mean - b.saturation_mean) / SATURATION_UNIT
        dv = (a.lightness_mean - b.lightness_mean) / LIGHTNESS_UNIT
        return math.sqrt(ds * ds + 0.5 * dv * dv)
    if element is Element.DETAIL:
        de = (log_detail(a.edge_density) - log_detail(b.edge_density)) / DETAIL_UNIT
        dh = (a.hf_ratio - b.hf_ratio) / 0.05
        return math.sqrt(de * de + 0.25 * dh * dh)
    if element is Element.ARTISTIC_MEDIUM:
        ta = np.array([a.texture[k] for k in TEXTURE_FEATURES])
        tb = np.array([b.texture[k] for k in TEXTURE_FEATURES])
        return float(np.linalg.norm(_z(ta - tb, TEXTURE_SPREAD)) / math.sqrt(len(TEXTURE_FEATURES))) * 1.5
    la = np.array([a.layout[k] for k in LAYOUT_FEATURES])
    lb = np.array([b.layout[k] for k in LAYOUT_FEATURES])
    return float(np.linalg.norm(_z(la - lb, LAYOUT_SPREAD)) / math.sqrt(len(LAYOUT_FEATURES))) * 1.5


# -- recognition ----------------------------------------------------------------------------


def _class_costs(x: np.ndarray, prototypes: dict[str, tuple[Component, ...]]) -> dict[str, float]:
    """Per class: the negative log-likelihood of a mixture of diagonal Gaussians (equal
    weights), per feature: mean squared standardised distance plus the log spread."""
    out = {}
    for name, components in prototypes.items():
        costs = []
        for mean, spread in components:
            s = np.maximum(np.array(spread), 1e-3)
            z = (x - np.array(mean)) / s
            costs.append(float(0.5 * (z * z).mean() + np.log(s).mean()))
        c = np.array(costs) * len(x)
        out[name] = float(c.min() - np.log(np.exp(-(c - c.min())).mean())) / len(x)
    return out


def _posterior(costs: dict[str, float]) -> dict[str, float]:
    names = list(costs)
    c = np.array([costs[n] for n in names]) * len(TEXTURE_FEATURES) / 3.0
    p = np.exp(-(c - c.min()))
    p /= p.sum()
    return {n: float(v) for n, v in zip(names, p, strict=True)}


def treatment_probabilities(m: Measurements) -> dict[str, float]:
    """How much the texture looks like each painter treatment (sums to 1)."""
    x = np.array([m.texture[k] for k in TEXTURE_FEATURES])
    return _posterior(_class_costs(x, TREATMENT_PROTOTYPES))


def family_probabilities(m: Measurements) -> dict[str, float]:
    x = np.array([m.layout[k] for k in LAYOUT_FEATURES])
    return _posterior(_class_costs(x, FAMILY_PROTOTYPES))


def set_prototypes(
    treatments: dict[str, tuple[Component, ...]], families: dict[str, tuple[Component, ...]]
) -> None:
    """Install prototypes (and the pooled spreads distances are standardised by)."""
    global TEXTURE_SPREAD, LAYOUT_SPREAD
    TREATMENT_PROTOTYPES.clear()
    TREATMENT_PROTOTYPES.update(treatments)
    FAMILY_PROTOTYPES.clear()
    FAMILY_PROTOTYPES.update(families)
    TEXTURE_SPREAD = np.sqrt(np.mean([np.square(s) for cs in treatments.values() for _, s in cs], axis=0))
    LAYOUT_SPREAD = np.sqrt(np.mean([np.square(s) for cs in families.values() for _, s in cs], axis=0))


set_prototypes(dict(TREATMENT_PROTOTYPES), dict(FAMILY_PROTOTYPES))
