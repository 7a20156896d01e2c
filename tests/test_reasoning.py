"""The PreferThinker layout: requests in the trained order, output written and read back with drift."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from PIL import Image

from agentpref.errors import InputError, ParseError
from agentpref.images.refs import ImageRef
from agentpref.judgment import DimensionScore, Judgment
from agentpref.preferthinker import prompts
from agentpref.preferthinker.json_schema import json_to_layout
from agentpref.preferthinker.layout import OUTPUT_REGEX, format_judgment, output_regex
from agentpref.preferthinker.parse import (
    MAX_ANSWER_CHARS,
    format_ok,
    parse_answer,
    parse_judgment,
    parse_profile,
)
from agentpref.preferthinker.prompts import PROFILE_SYSTEM_PROMPT, SYSTEM_PROMPT, WORKED_EXAMPLES
from agentpref.preferthinker.requests import (
    ImagePart,
    Request,
    TextPart,
    build_compare_request,
    build_profile_compare_request,
    build_profile_request,
    to_hf_messages,
    to_openai_messages,
)
from agentpref.profile import ELEMENTS, Element, Profile, UserProfile

KEYS = ["Art Styles", "Color", "Artistic Medium", "Saturation", "Detail"]


def _ref(i: int, name: str) -> ImageRef:
    return ImageRef.from_pil(Image.new("RGB", (8, 8), (i * 20 % 256, 40, 200 - i * 10)), name=name)


@pytest.fixture(scope="module")
def refs() -> dict[str, Any]:
    return {
        "likes": [_ref(i, f"like{i}.png") for i in range(1, 8)],
        "dislikes": [_ref(100 + i, f"dislike{i}.png") for i in range(1, 7)],
        "a": _ref(200, "a.png"),
        "b": _ref(220, "b.png"),
    }


# -- the system prompt and the worked examples --------------------------------------------


def test_system_prompt_is_task_then_two_complete_examples() -> None:
    head, _, rest = SYSTEM_PROMPT.partition("Output example 1:\n")
    assert "0 to 5" in head and "Image A" in head and "higher total" in head
    first, _, second = rest.partition("Output example 2:\n")
    assert first.strip() == format_judgment(WORKED_EXAMPLES[0])
    assert second.strip() == format_judgment(WORKED_EXAMPLES[1])
    for example in (first.strip(), second.strip()):
        assert format_ok(example)
        for key in KEYS:
            assert example.count(f'"{key}": "') == 2  # once per profile
    assert "ArtisticMedium" not in SYSTEM_PROMPT
    assert (
        "<think>" not in PROFILE_SYSTEM_PROMPT
        and PROFILE_SYSTEM_PROMPT.count("<visual preference profile>") == 2
    )


def test_worked_examples_have_consistent_totals_and_answers() -> None:
    for j in WORKED_EXAMPLES:
        assert len(j.scores) == 5 and j.profile is not None
        assert j.total_a == sum(s.score_a for s in j.scores) and j.total_b == sum(s.score_b for s in j.scores)
        assert j.winner == ("A" if j.total_a > j.total_b else "B")


@pytest.mark.parametrize("example", WORKED_EXAMPLES, ids=["example1", "example2"])
def test_worked_examples_round_trip_and_match_output_regex(example: Judgment) -> None:
    text = format_judgment(example)
    assert re.fullmatch(OUTPUT_REGEX, text)
    assert format_ok(text)
    back = parse_judgment(text)
    assert back.issues == []
    assert back.scores == example.scores  # rationales included: the examples end without punctuation
    assert (back.total_a, back.total_b, back.winner) == (example.total_a, example.total_b, example.winner)
    assert back.profile == example.profile
    assert back.raw_text == text


def test_released_layout_text_parses() -> None:
    """The layout as the released model writes it (trailing spaces after headings and ';')."""
    text = format_judgment(WORKED_EXAMPLES[0]).replace("style:\n", "style: \n").replace(";\n", "; \n")
    back = parse_judgment(text)
    assert back.issues == [] and [s.score_a for s in back.scores] == [2, 1, 2, 3, 3]


# -- round trips of arbitrary judgments ----------------------------------------------------


def _judgment(**update: Any) -> Judgment:
    scores = [
        DimensionScore(
            element=e,
            score_a=a,
            score_b=b,
            rationale_a=f"A reason {i}",
            rationale_b=f"B reason {i}, with a comma",
        )
        for i, (e, a, b) in enumerate(zip(ELEMENTS, [0, 2.5, 5, 1, 3], [4, 4, 0, 5, 2], strict=True))
    ]
    base = Judgment(
        a="left.png",
        b="right.png",
        scores=scores,
        total_a=11.5,
        total_b=15,
        winner="B",
        profile=UserProfile(
            likes=Profile(art_styles=["Pixel Art", "Pop Art"], color=["Teal", "Navy"], detail=["Fine"]),
            dislikes=Profile(color=["Charcoal Gray"], saturation=["Intense", "Mid-tone"]),
        ),
    )
    return base.model_copy(update=update)


def test_round_trip_keeps_scores_totals_winner_profile_and_labels() -> None:
    j = _judgment()
    back = parse_judgment(format_judgment(j), a="left.png", b="right.png", assessor="hf:x")
    assert (back.a, back.b, back.assessor) == ("left.png", "right.png", "hf:x")
    assert [(s.element, s.score_a, s.score_b) for s in back.scores] == [
        (s.element, s.score_a, s.score_b) for s in j.scores
    ]
    assert [(s.rationale_a, s.rationale_b) for s in back.scores] == [
        (s.rationale_a, s.rationale_b) for s in j.scores
    ]
    assert (back.total_a, back.total_b, back.winner) == (11.5, 15, "B")
    assert back.profile == j.profile
    assert back.issues == []
    assert not re.fullmatch(OUTPUT_REGEX, format_judgment(j))  # 2.5 is no single digit: the regex is strict


def test_round_trip_keeps_an_inconsistent_judgment_inconsistent() -> None:
    j = _judgment(total_a=20, winner="A")
    text = format_judgment(j)
    assert "Image A: total_score=0+2.5+5+1+3=20" in text
    back = parse_judgment(text)
    assert (back.total_a, back.total_b, back.winner) == (20, 15, "A")
    assert any("0+2.5+5+1+3 = 11.5, not the stated 20" in i for i in back.issues)
    assert any("stated total 20 but the element scores sum to 11.5" in i for i in back.issues)


def test_format_leaves_out_what_the_judgment_lacks() -> None:
    text = format_judgment(_judgment(profile=None, winner=None))
    assert "<visual" not in text and "<answer>" not in text and text.startswith("<think>")
    back = parse_judgment(text)
    assert back.profile is None and back.winner == "B"
    assert any(
        "no readable <answer>; winner Image B taken from the totals (11.5 vs 15)" in i for i in back.issues
    )


def test_rationales_are_flattened_to_one_line() -> None:
    j = _judgment()
    scores = list(j.scores)
    scores[0] = scores[0].model_copy(update={"rationale_a": "first line\nsecond line;"})
    text = format_judgment(j.model_copy(update={"scores": scores}))
    assert "Image A(0) - first line second line;\n" in text


# -- structured outputs: every string the regex admits parses -------------------------------


def _sample(pattern: str, rng: random.Random) -> str:
    """A random string matching `pattern` (the subset of regex syntax OUTPUT_REGEX uses)."""
    try:
        from re import _parser as sre  # type: ignore[attr-defined]
    except ImportError:  # Python 3.10
        import sre_parse as sre  # type: ignore[no-redef]

    def walk(items: Any) -> str:
        out = []
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                out.append(chr(av))
            elif name == "IN":
                choices: list[str] = []
                for kind, value in av:
                    if str(kind) == "LITERAL":
                        choices.append(chr(value))
                    elif str(kind) == "RANGE":
                        choices += [chr(c) for c in range(value[0], value[1] + 1)]
                    else:
                        raise NotImplementedError(kind)
                out.append(rng.choice(choices))
            elif name == "MAX_REPEAT":
                lo, hi, sub = av
                n = rng.choice([lo, hi, rng.randint(lo, hi)])
                out += [walk(sub) for _ in range(n)]
            elif name == "SUBPATTERN":
                out.append(walk(av[-1]))
            elif name == "BRANCH":
                out.append(walk(rng.choice(av[1])))
            else:
                raise NotImplementedError(name)
        return "".join(out)

    return walk(sre.parse(pattern))


def test_output_regex_is_tight_enough_that_any_forced_text_parses() -> None:
    rng = random.Random(7)
    regex = output_regex(max_rationale=120, max_term=30)
    allowed = ("not the stated", "element scores sum to", "has the higher total", "totals are tied")
    for _ in range(150):
        text = _sample(regex, rng)
        assert re.fullmatch(regex, text) and format_ok(text)
        j = parse_judgment(text)
        written = [int(x) for x in re.findall(r"Image [AB]\(([0-5])\)", text)]
        assert [(s.score_a, s.score_b) for s in j.scores] == list(
            zip(written[::2], written[1::2], strict=True)
        )
        assert j.winner == re.search(r"<answer>Image ([AB])</answer>", text).group(1)  # type: ignore[union-attr]
        assert j.total_a == int(re.search(r"Image A: total_score=[0-9+]+=(\d+)", text).group(1))  # type: ignore[union-attr]
        assert j.profile is not None
        assert all(j.profile.likes.terms(e) and j.profile.dislikes.terms(e) for e in ELEMENTS)
        assert all(any(k in issue for k in allowed) for issue in j.issues), j.issues


def test_output_regex_drives_llguidance_like_vllm_does() -> None:
    """vLLM's "guidance" structured-output backend: a uniformly random byte-level model, forced."""
    llguidance = pytest.importorskip("llguidance")

    class Bytes:
        eos_token_id, bos_token_id, special_token_ids = 256, None, [256]
        tokens = [bytes([i]) for i in range(256)] + [b"<eos>"]

        def __call__(self, s: bytes) -> list[int]:
            return list(s)

    tokenizer = llguidance.LLTokenizer(llguidance.TokenizerWrapper(Bytes()))
    grammar = llguidance.LLMatcher.grammar_from_regex(OUTPUT_REGEX)
    assert llguidance.LLMatcher.validate_grammar(grammar, tokenizer) == ""
    rng = random.Random(3)
    for _ in range(5):
        matcher, out = llguidance.LLMatcher(tokenizer, grammar), bytearray()
        while (token := rng.choice([i for i, v in enumerate(matcher.compute_logit_bias()) if v])) != 256:
            assert matcher.consume_token(token)
            out.append(token)
        j = parse_judgment(out.decode())
        assert len(j.scores) == 5 and j.winner in ("A", "B") and j.profile is not None


def test_output_regex_rejects_out_of_layout_text() -> None:
    good = format_judgment(WORKED_EXAMPLES[0])
    for bad in (
        good.replace("Image A(2)", "Image A(7)"),
        good.replace("<answer>Image B</answer>", "<answer>Image C</answer>"),
        good.replace("Total:\n", ""),
        good.replace("Mesoamerican codices", "codices (Maya)"),
        good.replace('"Color": "Pink"', '"Color": ""'),
        good + "\n",
    ):
        assert not re.fullmatch(OUTPUT_REGEX, bad)


# -- drift ---------------------------------------------------------------------------------

SCORES_A = [2, 1, 2, 3, 3]
SCORES_B = [5, 5, 4, 4, 4]
HEADING_STYLES = {
    "numbered": ["1. Artistic style:", "2. Color:", "3. Artistic Medium:", "4. Saturation:", "5. Detail:"],
    "keys": ["Art Styles:", "Color:", "ArtisticMedium:", "Saturation:", "Detail:"],
    "bold": ["**Art Styles**", "**Color**", "**Artistic Medium**", "**Saturation**", "**Detail**"],
    "markdown": ["### 1. Art Style", "### 2. Colour", "### 3. Medium", "### 4. SATURATION", "### 5. Details"],
    "scored": [
        "1. Artistic Style Score:",
        "2) Color analysis:",
        "3. artistic medium:",
        "4. saturation",
        "5. detail:",
    ],
}
SCORE_STYLES = {
    "paren": "Image {c}({s}) - {r};",
    "paren-space-of5": "Image {c} ({s}/5) - {r}",
    "colon": "Image {c}: {s} - {r}",
    "bare": "{c}({s}) - {r}",
    "lower-score": "- image {lc} (score: {s}): {r}",
}
TOTAL_STYLES = {
    "released": "Total:\nImage A: total_score=2+1+2+3+3=11\nImage B: total_score=5+5+4+4+4=22",
    "short": "Total A = 11\nTotal B = 22",
    "one-line": "**Total:** Image A = 11/25, Image B = 22/25",
    "totals-overall": "Overall totals: A = 11, B = 22",
    "no-heading": "Image A: total_score=2+1+2+3+3=11\nImage B: total_score=5+5+4+4+4=22",
    "none": "",
}
PROFILE = (
    "<visual preference profile>\n\u201cArt Styles\u201d: \u201cMesoamerican Art\u201d,\ncolor: Pink,\n"
    '"ArtisticMedium": "Coiling",\n "saturation" :"Muted",\n"Detail": "Realistic"\n'
    "</visual preference profile>\n\n"
    "<visual non-preference profile>\nArt Styles: Pixel Art\nColor: Jungle Green\n"
    "Artistic Medium: Digital Painting\nSaturation: Mid-tone\nDetail: Selective\n"
    "</visual non-preference profile>\n\n"
)


def _drift(
    headings: str, scores: str, totals: str, answer: str = "<answer>Image B</answer>", think: bool = True
) -> str:
    sections = []
    for i, heading in enumerate(HEADING_STYLES[headings]):
        lines = [
            SCORE_STYLES[scores].format(c=c, lc=c.lower(), s=s, r=f"reason {c.lower()} {i}")
            for c, s in (("A", SCORES_A[i]), ("B", SCORES_B[i]))
        ]
        sections.append(heading + "\n" + "\n".join(lines))
    body = "\n\n".join(sections) + ("\n\n" + TOTAL_STYLES[totals] if TOTAL_STYLES[totals] else "")
    body = f"<think>\n{body}\n</think>" if think else body
    return f"{PROFILE}{body}\n\n{answer}"


def _assert_reads_example(j: Judgment) -> None:
    assert [s.element for s in j.scores] == list(ELEMENTS)
    assert [s.score_a for s in j.scores] == SCORES_A and [s.score_b for s in j.scores] == SCORES_B
    assert (j.total_a, j.total_b, j.winner) == (11, 22, "B")
    assert j.scores[2].rationale_a == "reason a 2" and j.scores[4].rationale_b == "reason b 4"
    assert j.profile is not None
    assert j.profile.likes.artistic_medium == ["Coiling"] and j.profile.likes.color == ["Pink"]
    assert j.profile.likes.saturation == ["Muted"] and j.profile.dislikes.artistic_medium == [
        "Digital Painting"
    ]


@pytest.mark.parametrize("headings", list(HEADING_STYLES))
@pytest.mark.parametrize("scores", list(SCORE_STYLES))
def test_heading_and_score_drift(headings: str, scores: str) -> None:
    j = parse_judgment(_drift(headings, scores, "released"))
    _assert_reads_example(j)
    assert j.issues == []


@pytest.mark.parametrize("totals", ["released", "short", "one-line", "totals-overall", "no-heading"])
def test_total_drift(totals: str) -> None:
    j = parse_judgment(_drift("numbered", "paren", totals))
    _assert_reads_example(j)
    assert j.issues == []


@pytest.mark.parametrize(
    "answer",
    [
        "<answer>Image B</answer>",
        "<answer> image b </answer>",
        "<answer>B</answer>",
        "<ANSWER>\n**Image B**.\n</ANSWER>",
        "<answer>Image A</answer>\nOn reflection:\n<answer>Image B</answer>",
    ],
)
def test_answer_drift_last_answer_wins(answer: str) -> None:
    text = _drift("numbered", "paren", "released", answer)
    assert parse_answer(text) == "B"
    j = parse_judgment(text)
    _assert_reads_example(j)
    assert j.issues == []


def test_missing_think_tags_and_missing_totals_are_read() -> None:
    j = parse_judgment(_drift("keys", "colon", "none", think=False))
    _assert_reads_example(j)
    assert j.issues == []


def test_a_preamble_naming_elements_is_not_a_section() -> None:
    text = _example_text().replace("<think>\n", "<think>\nI will look at each element.\nColor:\n\n", 1)
    j = parse_judgment(text)
    assert j.issues == [] and j.score(Element.COLOR).score_b == 5  # type: ignore[union-attr]


def test_headingless_scores_are_taken_in_layout_order_and_reported() -> None:
    lines = [f"Image A({a}) - x;\nImage B({b}) - y." for a, b in zip(SCORES_A, SCORES_B, strict=True)]
    j = parse_judgment("<think>\n" + "\n\n".join(lines) + "\n</think>\n<answer>Image B</answer>")
    assert [s.score_a for s in j.scores] == SCORES_A and j.total_b == 22
    assert j.issues == ["no element headings; scores taken in the layout's element order"]


# -- inconsistencies are reported, never fixed ---------------------------------------------


def _example_text() -> str:
    return format_judgment(WORKED_EXAMPLES[0])


def test_stated_totals_that_disagree_with_scores_are_kept_and_reported() -> None:
    j = parse_judgment(_example_text().replace("=2+1+2+3+3=11", "=2+1+2+3+3=13"))
    assert j.total_a == 13
    assert "Image A: 2+1+2+3+3 = 11, not the stated 13" in j.issues
    assert "Image A: stated total 13 but the element scores sum to 11" in j.issues
    j = parse_judgment(_example_text().replace("=5+5+4+4+4=22", "=5+5+4+4+3=21"))
    assert j.issues == ["Image B: stated total 21 but the element scores sum to 22"]


@pytest.mark.parametrize("totals", ["released", "short", "one-line", "totals-overall", "no-heading"])
def test_stated_totals_are_read_in_every_total_style(totals: str) -> None:
    text = _drift("numbered", "paren", totals).replace("=11", "=13").replace("= 11", "= 13")
    j = parse_judgment(text)
    assert j.total_a == 13
    assert "Image A: stated total 13 but the element scores sum to 11" in j.issues


def test_answer_against_the_totals_keeps_the_answer_and_reports() -> None:
    j = parse_judgment(_example_text().replace("<answer>Image B</answer>", "<answer>Image A</answer>"))
    assert j.winner == "A"
    assert j.issues == ["answer is Image A but Image B has the higher total (11 vs 22)"]


def test_tied_totals_are_reported() -> None:
    text = _example_text().replace("=2+1+2+3+3=11", "=2+1+2+3+3=22")
    j = parse_judgment(text)
    assert j.winner == "B" and "totals are tied (22 vs 22); the winner is the answer, Image B" in j.issues
    j = parse_judgment(text.replace("<answer>Image B</answer>", ""))
    assert j.winner is None and "no readable <answer> and the totals do not decide (22 vs 22)" in j.issues


def test_missing_elements_are_reported() -> None:
    text = _example_text()
    start, end = text.index("2. Color:"), text.index("3. Artistic Medium:")
    j = parse_judgment(text[:start] + text[end:])
    assert Element.COLOR not in [s.element for s in j.scores] and len(j.scores) == 4
    assert "missing element scores: Color" in j.issues
    assert j.total_a == 11  # the stated total; not compared with an incomplete sum
    j = parse_judgment(text.replace("Image B(4) - The ridged", "The ridged"))
    assert (
        "Artistic Medium: no score for Image B" in j.issues
        and "missing element scores: Artistic Medium" in j.issues
    )


def test_out_of_range_scores_are_clamped_and_reported() -> None:
    j = parse_judgment(_example_text().replace("Image B(5) - A soft", "Image B(7) - A soft"))
    assert j.score(Element.COLOR).score_b == 5  # type: ignore[union-attr]
    assert "Color: Image B score 7 is outside 0-5; clamped to 5" in j.issues


def test_missing_answer_takes_the_winner_from_the_totals_and_reports() -> None:
    j = parse_judgment(_example_text().replace("<answer>Image B</answer>", ""))
    assert j.winner == "B"
    assert j.issues == ["no readable <answer>; winner Image B taken from the totals (11 vs 22)"]


def test_unclosed_and_unreadable_answers_are_reported() -> None:
    j = parse_judgment(_example_text().replace("<answer>Image B</answer>", "<answer>Image A"))
    assert j.winner == "A" and "the <answer> tag is not closed" in j.issues
    j = parse_judgment(_example_text().replace("<answer>Image B</answer>", "<answer>both</answer>"))
    assert j.winner == "B"
    assert "answer 'both' names neither Image A nor Image B" in j.issues
    assert any(i.startswith("no readable <answer>; winner Image B") for i in j.issues)


def test_unreadable_profile_is_reported_and_scores_still_read() -> None:
    text = _example_text().replace('"Art Styles": "Mesoamerican Art",\n"Color": "Pink",', "lots of words")
    text = text.replace(
        '"Artistic Medium": "Coiling",\n"Saturation": "Muted",\n"Detail": "Realistic"', "more"
    )
    j = parse_judgment(text)
    assert j.profile is None and j.winner == "B"
    assert any(i.startswith("profile tags present but unreadable") for i in j.issues)


def test_answer_only_text_is_a_judgment_without_scores() -> None:
    j = parse_judgment("<answer>Image A</answer>")
    assert j.winner == "A" and j.scores == [] and j.total_a is None
    assert j.issues == ["no per-element scores found"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Image B is clearly better. Image A(2), Image B(5).", "no PreferThinker tags"),
        ("", "no PreferThinker tags"),
        ("<think>I cannot see the images.</think>", "neither an answer"),
        ("<think>hmm</think><answer>neither</answer>", "neither an answer"),
    ],
)
def test_unreadable_text_raises_parse_error_with_the_raw_text(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message) as info:
        parse_judgment(text)
    assert info.value.raw_text == text


def test_parse_profile() -> None:
    up = parse_profile("Here you go:\n" + PROFILE)
    assert up.likes.art_styles == ["Mesoamerican Art"] and up.dislikes.detail == ["Selective"]
    with pytest.raises(ParseError, match="visual preference profile") as info:
        parse_profile("The user likes pink.")
    assert info.value.raw_text == "The user likes pink."


def test_parse_answer_none_without_a_readable_answer() -> None:
    assert parse_answer("no tags") is None
    assert parse_answer("<answer>maybe</answer>") is None
    assert parse_answer("<answer>Image B</answer> <answer>a</answer>") == "A"


def test_format_ok_is_the_strict_four_block_check() -> None:
    good = _example_text()
    assert format_ok(good)
    assert format_ok(good.replace("\n\n<think>", "<think>"))  # whitespace between blocks is free
    assert not format_ok("Sure!\n" + good)
    assert not format_ok(good + "\nDone.")
    assert not format_ok(re.sub(r"</?think>", "", good))
    assert not format_ok(good.replace("<answer>Image B</answer>", ""))
    swapped = good.replace("visual preference", "X").replace("visual non-preference", "visual preference")
    assert not format_ok(swapped.replace("X", "visual non-preference"))


# -- requests ------------------------------------------------------------------------------


def _texts(request: Request) -> list[str]:
    return [p.text for p in request.parts if isinstance(p, TextPart)]


def test_compare_request_follows_the_trained_layout(refs: dict[str, Any]) -> None:
    r = build_compare_request(refs["likes"], refs["dislikes"], refs["a"], refs["b"])
    assert r.system == SYSTEM_PROMPT
    kinds = ["T" if isinstance(p, TextPart) else "I" for p in r.parts]
    assert "".join(kinds) == "T" + "I" * 5 + "T" + "I" * 5 + "TTITIT"
    assert r.roles == [f"liked {i}" for i in range(1, 6)] + [f"disliked {i}" for i in range(1, 6)] + [
        "A",
        "B",
    ]
    assert r.images == refs["likes"][:5] + refs["dislikes"][:5] + [refs["a"], refs["b"]]
    texts = _texts(r)
    assert texts[0] == prompts.LIKES_TEXT and "<visual preference profile>" in texts[0]
    assert texts[1] == prompts.DISLIKES_TEXT and "<visual non-preference profile>" in texts[1]
    assert texts[2:5] == [
        "Then, given the following two candidate images: Image A and Image B.",
        "Image A",
        "Image B",
    ]
    assert "<answer>Image A</answer> or <answer>Image B</answer>" in texts[5] and "<think>" in texts[5]
    a_index = r.parts.index(TextPart("Image A"))
    assert r.parts[a_index + 1] == ImagePart(refs["a"], "A")
    assert r.parts[a_index + 3] == ImagePart(refs["b"], "B")


def test_compare_request_history_truncation_and_overrides(refs: dict[str, Any]) -> None:
    r = build_compare_request(
        refs["likes"], refs["dislikes"][:1], refs["a"], refs["b"], max_history=2, system_prompt="S"
    )
    assert r.system == "S"
    assert r.roles == ["liked 1", "liked 2", "disliked 1", "A", "B"]
    assert r.images[:3] == [refs["likes"][0], refs["likes"][1], refs["dislikes"][0]]
    r = build_compare_request(refs["likes"][:3], [], refs["a"], refs["b"])
    assert r.roles == ["liked 1", "liked 2", "liked 3", "A", "B"]
    assert _texts(r)[1] == prompts.NO_DISLIKES_TEXT
    r = build_compare_request([], refs["dislikes"][:2], refs["a"], refs["b"])
    assert _texts(r)[0] == prompts.NO_LIKES_TEXT and r.roles[0] == "disliked 1"
    with pytest.raises(InputError, match="no reference images"):
        build_compare_request([], [], refs["a"], refs["b"])
    with pytest.raises(InputError, match="max_history=0"):
        build_compare_request(refs["likes"], [], refs["a"], refs["b"], max_history=0)


def test_profile_request_asks_only_for_the_profiles(refs: dict[str, Any]) -> None:
    r = build_profile_request(refs["likes"], refs["dislikes"], max_history=3)
    assert r.system == PROFILE_SYSTEM_PROMPT
    assert r.roles == ["liked 1", "liked 2", "liked 3", "disliked 1", "disliked 2", "disliked 3"]
    last = _texts(r)[-1]
    assert isinstance(r.parts[-1], TextPart) and "<visual non-preference profile>" in last
    assert "<think>" not in last and "<answer>" not in last and all(f'"{k}"' in last for k in KEYS)


def test_profile_compare_request_sends_the_profile_as_tag_text(refs: dict[str, Any]) -> None:
    profile = UserProfile(likes=Profile(color=["Teal", "Navy"]), dislikes=Profile(detail=["Fine"]))
    r = build_profile_compare_request(profile, refs["a"], refs["b"])
    assert r.system == SYSTEM_PROMPT and r.roles == ["A", "B"]
    first = r.parts[0]
    assert isinstance(first, TextPart) and profile.to_tag_text() in first.text
    assert parse_profile(first.text) == profile
    assert _texts(r)[1:4] == [prompts.CANDIDATES_TEXT, "Image A", "Image B"]
    assert "given preference profile" in _texts(r)[-1]


def test_openai_messages(refs: dict[str, Any]) -> None:
    r = build_compare_request(refs["likes"][:2], refs["dislikes"][:1], refs["a"], refs["b"])
    messages = to_openai_messages(r, lambda ref: f"url://{ref.label}")
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert messages[1]["role"] == "user" and len(messages) == 2
    content = messages[1]["content"]
    assert len(content) == len(r.parts)
    images = [c for c in content if c["type"] == "image_url"]
    assert [c["image_url"]["url"] for c in images] == [
        "url://like1.png",
        "url://like2.png",
        "url://dislike1.png",
        "url://a.png",
        "url://b.png",
    ]
    assert [c["uuid"] for c in images] == [ref.sha256 for ref in r.images]
    assert [c["text"] for c in content if c["type"] == "text"] == _texts(r)
    bare = to_openai_messages(r, lambda ref: ref.data_url(), uuids=False)
    assert all("uuid" not in c for c in bare[1]["content"])
    assert bare[1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_hf_messages(refs: dict[str, Any]) -> None:
    r = build_compare_request(refs["likes"][:2], refs["dislikes"][:2], refs["a"], refs["b"])
    messages, images = to_hf_messages(r)
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]}
    content = messages[1]["content"]
    assert sum(c == {"type": "image"} for c in content) == len(images) == 6
    assert [c["text"] for c in content if c["type"] == "text"] == _texts(r)
    assert [im.getpixel((0, 0)) for im in images] == [ref.image().getpixel((0, 0)) for ref in r.images]
    assert images[-2].getpixel((0, 0)) == refs["a"].image().getpixel((0, 0))


# -- untrusted text: markup inside rationales, huge answers --------------------------------


@pytest.mark.parametrize(
    "markup",
    [
        "<b>bold</b>",
        "A<B",
        "<Image A>",
        "</think>",
        "<answer>",
        "<answer>Image A</answer>",
        "<think>",
        "</answer>",
    ],
)
def test_markup_like_text_in_a_rationale_never_changes_the_scores_read(markup: str) -> None:
    text = _example_text().replace("Image A(2) - ", f"Image A(2) - {markup} ", 1)
    j = parse_judgment(text)
    assert [(s.score_a, s.score_b) for s in j.scores] == [(2, 5), (1, 5), (2, 4), (3, 4), (3, 4)]
    assert (j.total_a, j.total_b, j.winner) == (11, 22, "B") and j.issues == []
    assert j.scores[0].rationale_a.startswith(markup)


def test_an_answer_quoted_before_the_real_one_does_not_swallow_it() -> None:
    text = _example_text().replace("</think>", "I must end with <answer> and a name.\n</think>")
    assert parse_answer(text) == "B" and parse_judgment(text).winner == "B"


def test_a_10mb_answer_is_read_up_to_the_cap_and_says_so() -> None:
    text = _example_text() + "\n" + "<answer>" * 1_250_000
    j = parse_judgment(text)
    assert [s.score_a for s in j.scores] == SCORES_A and j.winner == "B"
    assert "only the first 32,000 were read" in j.issues[0] and len(j.raw_text or "") == MAX_ANSWER_CHARS
    assert parse_answer(text) == "B"
    assert parse_profile(text).likes.color == ["Pink"]


def test_a_json_answer_too_long_or_nested_too_deep_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="more than the 32,000 read"):
        json_to_layout("{" + " " * 10_000_000 + "}")
    with pytest.raises(ParseError, match="not valid JSON"):
        json_to_layout('{"scores": ' + "[" * 15_000 + "]" * 15_000 + "}")
    with pytest.raises(ParseError, match="names no profile element"):
        json_to_layout('{"preference_profile": {}, "non_preference_profile": {}}')
