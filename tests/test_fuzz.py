"""Property-based fuzzing of every reader of untrusted text: only documented errors, linear time.

Model answers (`parse_judgment`, `parse_profile`, `parse_answer`, `json_to_layout` for
`structured=json`) may raise ParseError and nothing else; image metadata readers never raise.
The text strategies are built from each format's own tokens so the fuzzer reaches deep paths.

CI runs `FUZZ_EXAMPLES` examples per reader, derandomized (the same examples on every machine).
The acceptance run is 10,000 per reader: ``AGENTPREF_FUZZ_EXAMPLES=10000 pytest tests/test_fuzz.py``.
Time is checked on 1 MB and 10 MB adversarial inputs per reader, with a generous bound.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from test_metadata_bounds import timed

from agentpref.errors import ParseError
from agentpref.images import metadata
from agentpref.images.metadata import (
    MAX_PROMPT_CHARS,
    NO_METADATA,
    PromptMetadata,
    clean_text,
    parse_a1111,
    parse_comfyui,
    read_embedded,
    read_sidecar,
)
from agentpref.judgment import Judgment
from agentpref.preferthinker.json_schema import json_to_layout, judgment_to_json
from agentpref.preferthinker.layout import format_judgment
from agentpref.preferthinker.parse import (
    FORMAT_PATTERN,
    format_ok,
    parse_answer,
    parse_judgment,
    parse_profile,
)
from agentpref.preferthinker.prompts import WORKED_EXAMPLES
from agentpref.profile import UserProfile
from agentpref.testing.adversarial import documented, png_with_text, text_shapes

FUZZ_EXAMPLES = int(os.environ.get("AGENTPREF_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,  # machine-independent: the examples come from the test, not a random seed
    database=None,
    deadline=None,  # time is checked on purpose-built big inputs below, not per example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MB = 1_000_000

# -- strategies: the formats' own tokens, glued with a little noise --------------------------

LAYOUT_TOKENS = [
    "<visual preference profile>", "</visual preference profile>", "<visual non-preference profile>",
    "</visual non-preference profile>", "< Visual_Preference_Profile >", "<think>", "</think>", "<answer>",
    "</answer>", "<ANSWER>", "< / answer >", "<b>", "</b>", "A<B", "<Image A>", "<", ">", "/",
    "Image A", "Image B", "image b", "A", "B", "(", ")", "(2)", "(score: 4)", "/5", "/ 5", "Score: 4/5",
    ":", "=", ",", ";", ".", "-", "+", "2+1+2", "=11", "11", "-3", "4.5", "1e9", "7",
    "Total", "Total:", "Overall totals", "Sum", "total_score=", "out of 25",
    "Art Styles", "Art Style", "ArtisticMedium", "Artistic Medium", "Color", "Colour", "Saturation", "Detail",
    "Details", "Score", "analysis", "1.", "2)", "###", "**", "- ", "\u2022", '"', "'", "\u201c", "\u201d",
    "\\", "\\\\", "{", "}", "[", "]", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r",
    "\x00", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u2066", "\ufeff", "\uff1a", "Pixel Art", "Teal, Navy",
]  # fmt: skip
A1111_TOKENS = [
    "Negative prompt:", "Negative prompt: ", "Steps:", "Steps: 20", ", ", "Sampler: Euler a", "CFG scale: 7",
    "Seed: 1", 'Lora hashes: "a: 1, b: 2"', "a:", "a b ", "key", "value", '"', '\\"', "\\", ",", ":", " ",
    "   ", "\n", "\r\n", "\r", "\t", "\x00", "\x07", "\x1b", "\x9b", "\u202e", "\u2066", "\ufeff", "\ud800",
    "fox", "oil painting", "BREAK", "(masterpiece:1.2)", "<lora:x:1>", "[a|b]", "{", "}",
]  # fmt: skip


def token_text(tokens: list[str], max_size: int = 80) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(tokens), st.text(max_size=4))
    return st.lists(piece, max_size=max_size).map("".join)


layout_text = token_text(LAYOUT_TOKENS)
a1111_text = token_text(A1111_TOKENS)
EXAMPLE = format_judgment(WORKED_EXAMPLES[0])


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    """The worked example with layout tokens inserted at a few places: reaches the deep paths."""
    text = EXAMPLE
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(layout_text) + text[at:]
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


model_text = st.one_of(layout_text, mutated_example())


def _judgment_or_parse_error(text: str) -> Judgment | None:
    try:
        return parse_judgment(text)
    except ParseError:
        return None


# -- model answers ----------------------------------------------------------------------------


@FUZZ
@given(model_text)
def test_parse_judgment_returns_a_judgment_or_raises_parse_error(text: str) -> None:
    j = _judgment_or_parse_error(text)
    if j is not None:
        assert j.winner in ("A", "B", None) and all(
            0 <= s.score_a <= 5 and 0 <= s.score_b <= 5 for s in j.scores
        )


@FUZZ
@given(model_text)
def test_parse_profile_returns_a_profile_or_raises_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        assert isinstance(parse_profile(text), UserProfile)


@FUZZ
@given(model_text)
def test_parse_answer_never_raises(text: str) -> None:
    assert parse_answer(text) in ("A", "B", None)


@FUZZ
@given(token_text([*LAYOUT_TOKENS, "<visual preference profile>", "</answer>", "x", "\n"], max_size=30))
def test_format_ok_agrees_with_the_reward_pattern(text: str) -> None:
    # The reward's own regex is fine on these short texts; format_ok must give the same answer.
    assert format_ok(text) == (re.fullmatch(FORMAT_PATTERN, text, re.DOTALL) is not None)


# Markup-like text a rationale may hold: angle brackets, layout tag names, no score-like text.
markup = st.lists(
    st.sampled_from(
        ["<b>", "</b>", "A<B", "<Image A>", "<Image B>", "</think>", "<think>", "<answer>", "</answer>",
         "<answer>Image A</answer>", "<visual preference profile>", "</visual non-preference profile>",
         "<", ">", "</", "<i>", " ", "x"]
    ),
    min_size=1,
    max_size=6,
).map("".join)  # fmt: skip


@FUZZ
@given(st.data())
def test_markup_in_rationales_never_changes_the_scores_read(data: st.DataObject) -> None:
    example = WORKED_EXAMPLES[data.draw(st.integers(0, len(WORKED_EXAMPLES) - 1))]
    scores = list(example.scores)
    for i in data.draw(st.lists(st.integers(0, len(scores) - 1), min_size=1, max_size=3)):
        side = data.draw(st.sampled_from(["rationale_a", "rationale_b"]))
        words = getattr(scores[i], side).split(" ")
        at = data.draw(st.integers(0, len(words)))
        words.insert(at, data.draw(markup))
        scores[i] = scores[i].model_copy(update={side: " ".join(words)})
    j = parse_judgment(format_judgment(example.model_copy(update={"scores": scores})))
    read = [(s.element, s.score_a, s.score_b) for s in j.scores]
    assert read == [(s.element, s.score_a, s.score_b) for s in example.scores]
    assert (j.total_a, j.total_b, j.winner) == (example.total_a, example.total_b, example.winner)
    assert j.issues == []


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10),
        st.floats(allow_nan=True),
        token_text(LAYOUT_TOKENS, 8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


JSON_PATHS = [
    ("answer",),
    ("scores",),
    ("preference_profile",),
    ("scores", "Color"),
    ("scores", "Color", "score_a"),
    ("non_preference_profile", "Color"),
]


@st.composite
def json_answers(draw: st.DrawFn) -> str:
    """A schema answer with parts replaced by random JSON, or JSON-ish tokens."""
    answer = judgment_to_json(WORKED_EXAMPLES[draw(st.integers(0, 1))])
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(JSON_PATHS))
        target = answer
        for key in path[:-1]:
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target[path[-1]] = draw(json_values)
    text = json.dumps(answer, allow_nan=True)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(token_text(LAYOUT_TOKENS, 10)) + text[at:]
    return text


@FUZZ
@given(st.one_of(json_answers(), token_text(LAYOUT_TOKENS)), st.booleans())
def test_json_answer_reader_returns_layout_or_raises_parse_error(text: str, profile_only: bool) -> None:
    try:
        layout = json_to_layout(text, profile_only=profile_only)
    except ParseError:
        return
    with contextlib.suppress(ParseError):  # the layout is read like any model text
        parse_profile(layout) if profile_only else parse_judgment(layout)


# -- image metadata -----------------------------------------------------------------------------


def _clean_output(text: str | None) -> None:
    assert text is None or (
        0 < len(text) <= MAX_PROMPT_CHARS
        and not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", text)
    )


@FUZZ
@given(a1111_text)
def test_parse_a1111_never_raises_and_yields_clean_text(text: str) -> None:
    for part in parse_a1111(text):
        _clean_output(part)


@FUZZ
@given(st.one_of(a1111_text, st.binary(max_size=200), st.none()))
def test_clean_text_never_raises_and_yields_clean_text(text: str | bytes | None) -> None:
    _clean_output(clean_text(text))


node_ids = st.sampled_from(["1", "2", "3", "4", "5"])
CLASS_TYPES = [
    "KSampler",
    "CLIPTextEncode",
    "CLIPTextEncodeSDXL",
    "ConditioningCombine",
    "ControlNetApplyAdvanced",
]
INPUT_KEYS = ["text", "text_g", "text_l", "string", "value", "positive", "negative", "conditioning_1", "clip"]
links = st.tuples(st.one_of(node_ids, st.integers(-1, 6)), st.one_of(st.integers(-1, 2), st.text(max_size=2)))
graph_values = st.one_of(token_text(A1111_TOKENS, 6), links.map(list), json_values)
nodes = st.fixed_dictionaries(
    {
        "class_type": st.sampled_from(CLASS_TYPES),
        "inputs": st.one_of(
            st.dictionaries(st.sampled_from(INPUT_KEYS), graph_values, max_size=5), json_values
        ),
    }
)
graphs = st.dictionaries(st.one_of(node_ids, st.text(max_size=3)), st.one_of(nodes, json_values), max_size=6)
JSON_TOKENS = ["{", "}", "[", "]", '"', ":", ",", '"1"', '"inputs"', '"text"', "0", "\\"]


@FUZZ
@given(st.one_of(graphs.map(json.dumps), token_text(JSON_TOKENS)))
def test_parse_comfyui_never_raises_and_yields_clean_text(raw: str) -> None:
    for part in parse_comfyui(raw):
        _clean_output(part)


COMMENT_PREFIXES = [b"UNICODE\x00", b"ASCII\x00\x00\x00", b"\x00" * 8, b"JIS\x00\x00\x00\x00\x00"]


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300),
        st.tuples(st.sampled_from(COMMENT_PREFIXES), st.binary(max_size=300)).map(b"".join),
        a1111_text,
    )
)
def test_user_comment_decoder_never_raises(value: bytes | str) -> None:
    text = metadata._decode_user_comment(value)
    assert text is None or isinstance(text, str)


no_surrogates = token_text([t for t in A1111_TOKENS if t != "\ud800"] + LAYOUT_TOKENS[:12]).map(
    lambda s: s.encode("utf-8", "replace").decode("utf-8")
)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["parameters", "prompt", "Description", "description", "Comment"]),
        no_surrogates,
        max_size=3,
    )
)
def test_read_embedded_on_pngs_with_random_text_chunks(chunks: dict[str, str]) -> None:
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG", pnginfo=info)
    im = Image.open(buffer)
    im.load()
    found = read_embedded(im)
    assert isinstance(found, PromptMetadata)
    _clean_output(found.prompt)
    _clean_output(found.negative_prompt)


@pytest.fixture(scope="module")
def sidecar_image() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="agentpref-fuzz-"))
    image = folder / "image.png"
    Image.new("RGB", (2, 2)).save(image)
    return image


@FUZZ
@given(st.one_of(a1111_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary(max_size=300)))
def test_read_sidecar_never_raises(sidecar_image: Path, content: bytes) -> None:
    sidecar_image.with_suffix(".txt").write_bytes(content)
    found = read_sidecar(sidecar_image)
    assert found == NO_METADATA or found.source == "sidecar"
    _clean_output(found.prompt)


# -- time: 1 MB and 10 MB adversarial inputs per reader -----------------------------------------


READERS: dict[str, Callable[[str], object]] = {
    "parse_judgment": documented(parse_judgment),
    "parse_profile": documented(parse_profile),
    "parse_answer": parse_answer,
    "json_to_layout": documented(json_to_layout),
    "format_ok": format_ok,
    "parse_a1111": parse_a1111,
    "parse_comfyui": parse_comfyui,
    "clean_text": clean_text,
    "user_comment": lambda t: metadata._decode_user_comment(b"UNICODE\x00" + t.encode("utf-16-be")),
}


@pytest.mark.parametrize("size", [MB, 10 * MB], ids=["1MB", "10MB"])
@pytest.mark.parametrize("reader", list(READERS))
def test_big_adversarial_inputs_are_read_in_well_under_a_second(reader: str, size: int) -> None:
    for shape, text in text_shapes(size).items():
        try:
            timed(1.0, READERS[reader], text)
        except (TimeoutError, AssertionError) as err:
            pytest.fail(f"{reader} on {size:,} characters of {shape}: {err}")


def test_a_10mb_png_chunk_and_sidecar_are_read_in_well_under_a_second(sidecar_image: Path) -> None:
    for text in text_shapes(10 * MB).values():
        timed(1.0, read_embedded, png_with_text(text))
        sidecar_image.with_suffix(".txt").write_text(text)
        timed(1.0, read_sidecar, sidecar_image)


def test_a_bare_answer_is_read_in_linear_time() -> None:
    from agentpref.preferthinker.jsonl import read_answer

    # "a", 20K spaces, "x" took 4.2 s against a pattern with whitespace runs around an optional ".".
    assert timed(1.0, read_answer, "a" + " " * 1_000_000 + "x") is None
    assert [read_answer(t) for t in ("Image A", " b . ", "image  B.")] == ["Image A", "Image B", "Image B"]
