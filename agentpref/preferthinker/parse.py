"""Reading PreferThinker-layout model text into a `Judgment` or a `UserProfile`.

Models drift from the trained layout ("ArtisticMedium", "**Color**", "Image A (2/5)",
"Total A = 11", "<answer> image b </answer>", no `<think>` tags...). The parser accepts
that drift but never silently repairs content: every inconsistency (totals that disagree
with the element scores or with the answer, missing elements, out-of-range scores, a
missing answer) is written to `Judgment.issues`. Import these names from
`agentpref.preferthinker.requests`.

Model text is untrusted: only its first `MAX_ANSWER_CHARS` characters are read, only the
layout's own tags are tags (markup-like text in a rationale, "<b>" or "A<B", is text), and
every pattern is linear in the text (no two adjacent repeats that can match the same
characters), so no answer, however long or strange, costs more than a few milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain, islice

from agentpref.errors import ParseError
from agentpref.judgment import DimensionScore, Judgment, Winner
from agentpref.profile import (
    _KEY_SPELLINGS,
    ELEMENTS,
    NON_PREFERENCE_TAG,
    PREFERENCE_TAG,
    Element,
    LayoutTag,
    UserProfile,
    _element_of,
    _tag_content,
    layout_tags,
)

MAX_ANSWER_CHARS = 32_000
"""The most of a model's text that is read. Answers are capped at `max_tokens` (4096 by
default; PreferThinker's layout takes about 1,500 tokens); at ~4 characters a token this is
8,000 tokens, twice the default. Longer text is a model looping or a hostile server, and
reading it all would only cost time (the parser's work is linear, but per line)."""

FORMAT_PATTERN = (
    r"<visual preference profile>.*?</visual preference profile>\s*"
    r"<visual non-preference profile>.*?</visual non-preference profile>\s*"
    r"<think>.*?</think>\s*"
    r"<answer>.*?</answer>"
)
"""PreferThinker's format-reward pattern (their reward: 0.3 when the whole text matches)."""

# Every pattern below reads untrusted text, so none has two adjacent repeats that can match the
# same characters ("\s*[:-]?\s*" rescans a run of spaces from each position in it: quadratic);
# "[^\S\n]" is a space that is not a newline, keeping a line's pattern inside its line.
_NUM = r"-?\d+(?:\.\d+)?"
_SP = r"[^\S\n]*"
# Leading markdown (headings, quotes, bullets), taken whole: a lookahead and a backreference make
# the run atomic (no possessive quantifiers before Python 3.11), so a line of a thousand spaces is
# not given back one space at a time to the element names that follow.
_MARKUP = r"(?=(?P<markup>[ \t#>\-\u2022]*))(?P=markup)"
# "Total:", "Totals", "6. Sum", "Overall total" or a first "Image A: total_score=..." line.
_TOTAL_HEADING = re.compile(
    rf"^{_MARKUP}(?=[\dA-Za-z])(?:(?:\d+{_SP}[.)]{_SP})?(?:(?:overall|final)[^\S\n]+)?(?:total|sum)s?\b"
    rf"|image{_SP}[ab]{_SP}(?:[:-]{_SP})?total)",
    re.IGNORECASE | re.MULTILINE,
)
# An element's name as models space or hyphenate it ("Art-Styles", "ArtisticMedium"): only
# lines naming an element are headings, so text of many "word:" lines costs no Python work.
_ELEMENT_NAME = "|".join("[ /&-]*".join(key) for key in sorted(_KEY_SPELLINGS, key=len, reverse=True))
_HEADING = re.compile(
    rf"^{_MARKUP}(?:\d+{_SP}[.)]{_SP})?(?=[A-Za-z])(?P<name>(?i:{_ELEMENT_NAME}))"
    r"(?:[^\S\n]+(?i:scores?|analysis|evaluation|assessment|alignment|match))?"
    rf"{_SP}(?:\([^)\n]*\){_SP})?(?::|$)",
    re.MULTILINE,
)
# "Image A(2)", "Image A (2/5)", "Image A: 2", "A(2)", "image b (score: 4)".
_MENTION = r"(?:(?i:image)\s*(?P<c1>[ABab])|(?<![A-Za-z0-9])(?P<c2>[AB]))(?![A-Za-z])"
_SCORE_WORD = r"(?:(?i:score)\s*(?:[:=]\s*)?)?"
_MARKER = re.compile(
    _MENTION + r"\s*(?:\(\s*" + _SCORE_WORD + r"(?P<p>" + _NUM + r")\s*(?:/\s*5\s*)?\)"
    r"|[:=]\s*" + _SCORE_WORD + r"(?P<c>" + _NUM + r")(?:\s*/\s*5(?![\d.]))?)"
)
_MENTION_RE = re.compile(_MENTION)
# A chain starts at the first digit of a number, never inside one (each start would rescan it).
_SUM = re.compile(rf"(-?(?<![\d.])\d+(?:\.\d+)?(?:\s*\+\s*{_NUM})+)\s*(?:=\s*({_NUM}))?")
# Only the first space of a run starts a match (the same reason).
_OUT_OF = re.compile(
    r"(?<!\s)\s*(?:/\s*\d+(?:\.\d+)?|(?:\(\s*)?out\s+of\s+\d+(?:\.\d+)?\s*\)?)", re.IGNORECASE
)
_MAX_TOTAL_LINES = 50  # the totals follow their heading within a few lines; the rest is not read
# FORMAT_PATTERN's three joints, each searched once from where the last one ended.
_FORMAT_JOINTS = [
    re.compile(r"</visual preference profile>\s*<visual non-preference profile>"),
    re.compile(r"</visual non-preference profile>\s*<think>"),
    re.compile(r"</think>\s*<answer>"),
]
_FORMAT_START, _FORMAT_END = "<visual preference profile>", "</answer>"


def format_ok(text: str) -> bool:
    """True when the whole text is the four blocks in order (PreferThinker's format reward, strict).

    The same answer as `re.fullmatch(FORMAT_PATTERN, text, re.DOTALL)` in linear time: the
    pattern's four lazy gaps backtrack polynomially on text with many closing tags. The first
    match of each joint is the right one, since taking it leaves the most text for the rest.
    """
    if not (text.startswith(_FORMAT_START) and text.endswith(_FORMAT_END)):
        return False
    pos = len(_FORMAT_START)
    for joint in _FORMAT_JOINTS:
        found = joint.search(text, pos)
        if found is None:
            return False
        pos = found.end()
    return pos <= len(text) - len(_FORMAT_END)


def _bounded(text: str, issues: list[str] | None = None) -> str:
    """The part of a model's text that is read (see MAX_ANSWER_CHARS); a cut is written to `issues`."""
    if len(text) <= MAX_ANSWER_CHARS:
        return text
    if issues is not None:
        issues.append(
            f"the model text is {len(text):,} characters; only the first {MAX_ANSWER_CHARS:,} were read"
        )
    return text[:MAX_ANSWER_CHARS]


def _read_answer(content: str) -> Winner | None:
    cleaned = content.strip().strip("\"'`*.!:; \n\t").strip()
    m = re.match(r"image\s*([ab])\b", cleaned, re.IGNORECASE) or re.fullmatch(r"([ab])", cleaned, re.I)
    return m.group(1).upper() if m else None  # type: ignore[return-value]


def _answers(text: str, tags: list[LayoutTag]) -> tuple[list[str], bool]:
    """Contents of every closed `<answer>` tag (or of a final unclosed one) and whether it was unclosed.

    A closing tag pairs with the nearest opening one before it, so an "<answer>" quoted inside
    a rationale does not swallow the real answer that follows.
    """
    found: list[str] = []
    opened: int | None = None
    for i, tag in enumerate(tags):
        if tag.name != "answer":
            continue
        if not tag.closing:
            opened = i
        elif opened is not None:
            found.append(text[tags[opened].end : tag.start])
            opened = None
    if found or opened is None:
        return found, False
    end = tags[opened + 1].start if opened + 1 < len(tags) else len(text)
    return [text[tags[opened].end : end]], True


def closed_answers(text: str) -> list[str]:
    """The contents of every closed `<answer>` tag, in order (first MAX_ANSWER_CHARS read; linear).

    >>> closed_answers("<answer>Image A</answer> no, <answer> Image B </answer> <answer>A")
    ['Image A', ' Image B ']
    """
    text = _bounded(text)
    contents, unclosed = _answers(text, layout_tags(text))
    return [] if unclosed else contents


def parse_answer(text: str) -> Winner | None:
    """The last `<answer>`'s choice ("A" or "B"), None when there is none or it names neither.

    Reads the first MAX_ANSWER_CHARS characters; never raises.
    """
    text = _bounded(text)
    contents, _ = _answers(text, layout_tags(text))
    return _read_answer(contents[-1]) if contents else None


def parse_profile(text: str) -> UserProfile:
    """Both profile tags out of model text (its first MAX_ANSWER_CHARS characters).

    Raises ParseError (with the text read) when they cannot be read, and nothing else.
    """
    text = _bounded(text)
    try:
        return UserProfile.from_tag_text(_clean(text))
    except ValueError as exc:
        raise ParseError(f"cannot read a visual preference profile: {exc}", text) from None


def _clean(text: str) -> str:
    for curly, plain in (("\u201c", '"'), ("\u201d", '"'), ("\u2018", "'"), ("\u2019", "'")):
        text = text.replace(curly, plain)
    return text.replace("\r\n", "\n").replace("*", "").replace("\uff1a", ":")


def _candidate(m: re.Match[str]) -> str:
    return (m.group("c1") or m.group("c2")).upper()


@dataclass
class _Total:
    stated: float | None
    addends: list[float] | None

    @property
    def value(self) -> float | None:
        if self.stated is not None:
            return self.stated
        return sum(self.addends) if self.addends else None


def _read_totals(text: str) -> dict[str, _Total]:
    """Totals per candidate from the lines after the "Total" heading (first statement wins)."""
    totals: dict[str, _Total] = {}
    lines = (line for raw in text.splitlines() if (line := raw.strip(" \t#>-\u2022")))
    for line in islice(lines, _MAX_TOTAL_LINES):
        mentions = list(_MENTION_RE.finditer(line))
        starts_total = re.match(r"(?:\d+\s*[.)]\s*)?(?:(?:overall|final)\s+)?(?:total|sum)s?\b", line, re.I)
        if not mentions or not (starts_total or mentions[0].start() == 0):
            continue
        for i, m in enumerate(mentions):
            segment = line[m.end() : mentions[i + 1].start() if i + 1 < len(mentions) else len(line)]
            segment = _OUT_OF.sub("", segment)
            chain = _SUM.search(segment)
            if chain:
                addends = [float(x) for x in re.findall(_NUM, chain.group(1))]
                stated = float(chain.group(2)) if chain.group(2) else None
                total = _Total(stated, addends)
            else:
                numbers = re.findall(_NUM, segment)
                total = _Total(float(numbers[-1]), None) if numbers else _Total(None, None)
            if total.value is not None:
                totals.setdefault(_candidate(m), total)
        if len(totals) == 2:
            break
    return totals


def _rationale(text: str) -> str:
    # The next line's bullet ("- image b ...") belongs to the next score, not to this reason.
    return " ".join(text.split()).lstrip("-\u2013\u2014: ").rstrip(" ;.,-\u2013\u2014\u2022")


def _section_scores(body: str) -> dict[str, tuple[float, str]]:
    """Each candidate's first score in a section, with its rationale (the text up to the next score)."""
    found: dict[str, tuple[float, str]] = {}
    previous: re.Match[str] | None = None
    # Lazily: a section of a thousand scores stops being read once both candidates have one.
    for m in chain(_MARKER.finditer(body), [None]):
        if previous is not None and (cand := _candidate(previous)) not in found:
            end = m.start() if m is not None else len(body)
            found[cand] = (
                float(previous.group("p") or previous.group("c")),
                _rationale(body[previous.end() : end]),
            )
            if len(found) == 2:
                break
        previous = m
    return found


def _read_scores(text: str, issues: list[str]) -> dict[Element, DimensionScore]:
    """Per-element scores from the element sections (text before the "Total" heading)."""
    headings = [(element, m) for m in _HEADING.finditer(text) if (element := _element_of(m.group("name")))]
    sections: list[tuple[Element, str]] = [
        (e, text[m.end() : headings[i + 1][1].start() if i + 1 < len(headings) else len(text)])
        for i, (e, m) in enumerate(headings)
    ]
    if not headings:
        markers = list(islice(_MARKER.finditer(text), 2 * len(ELEMENTS) + 1))
        pairs = [(_candidate(m), m) for m in markers]
        if [c for c, _ in pairs] == ["A", "B"] * len(ELEMENTS):
            issues.append("no element headings; scores taken in the layout's element order")
            sections = [
                (e, text[pairs[2 * i][1].start() : pairs[2 * i + 2][1].start() if i < 4 else len(text)])
                for i, e in enumerate(ELEMENTS)
            ]
    scores: dict[Element, DimensionScore] = {}
    last_section = {element: k for k, (element, _) in enumerate(sections)}
    for k, (element, body) in enumerate(sections):
        found = _section_scores(body)
        if element in scores:
            issues.append(f"{element.value}: scored twice; the first scores are used")
            continue
        if not found and k < last_section[element]:
            continue  # a bare mention (e.g. in a preamble) before the real section
        if len(found) < 2:
            missing = " and ".join(f"Image {c}" for c in "AB" if c not in found)
            issues.append(f"{element.value}: no score for {missing}")
            continue
        values = {}
        for cand, (score, _) in found.items():
            values[cand] = min(max(score, 0.0), 5.0)
            if values[cand] != score:
                clamped = f"clamped to {values[cand]:g}"
                issues.append(f"{element.value}: Image {cand} score {score:g} is outside 0-5; {clamped}")
        scores[element] = DimensionScore(
            element=element,
            score_a=values["A"],
            score_b=values["B"],
            rationale_a=found["A"][1],
            rationale_b=found["B"][1],
        )
    return scores


def _scoring_region(text: str, tags: list[LayoutTag]) -> str:
    """The text the scores are read from: inside `<think>`, else everything outside the other blocks.

    `<think>` runs to the last `</think>` (a "</think>" quoted in a rationale is not the end),
    or when it is not closed to the last `<answer>`; other tags inside it are rationale text.
    """
    opened = next((t for t in tags if t.name == "think" and not t.closing), None)
    if opened is not None:
        after = [t for t in tags if t.start >= opened.end]
        closes = [t for t in after if t.name == "think" and t.closing]
        answers = [t for t in after if t.name == "answer" and not t.closing]
        end = closes[-1].start if closes else answers[-1].start if answers else len(text)
        return text[opened.end : end]
    # A profile or answer block runs to the next tag (its closing one included).
    kept, pos = [], 0
    for i, tag in enumerate(tags):
        if tag.closing or tag.start < pos:
            continue
        kept.append(text[pos : tag.start])
        following = tags[i + 1] if i + 1 < len(tags) else None
        if following is None:
            pos = len(text)
        elif following.closing and following.name == tag.name:
            pos = following.end
        else:
            pos = following.start
    kept.append(text[pos:])
    return "".join(kept)


def parse_judgment(text: str, *, a: str = "A", b: str = "B", assessor: str = "") -> Judgment:
    """Read model text in PreferThinker's layout into a `Judgment` (see the module docs for drift).

    The winner is the model's last `<answer>`; without a readable answer it comes from the
    totals. Raises ParseError (carrying the raw text) when the text has none of the layout's
    tags, or when neither an answer nor any score or total can be found; nothing else. Only
    the first MAX_ANSWER_CHARS characters are read (a cut is an issue) and kept as `raw_text`.
    """
    issues: list[str] = []
    text = _bounded(text, issues)
    clean = _clean(text)
    tags = layout_tags(clean)
    if not tags:
        raise ParseError(
            "no PreferThinker tags (<visual preference profile>, <think>, <answer>) in the model text", text
        )
    profile = None
    if (
        _tag_content(clean, PREFERENCE_TAG, tags) is not None
        or _tag_content(clean, NON_PREFERENCE_TAG, tags) is not None
    ):
        try:
            profile = UserProfile.from_tag_text(clean)
        except ValueError as exc:
            issues.append(f"profile tags present but unreadable: {str(exc)[:200]}")

    region = _scoring_region(clean, tags)
    total_heading = _TOTAL_HEADING.search(region)
    split = total_heading.start() if total_heading else len(region)
    scores = _read_scores(region[:split], issues)
    totals = _read_totals(region[split:])

    contents, unclosed = _answers(clean, tags)
    answer = _read_answer(contents[-1]) if contents else None
    if unclosed:
        issues.append("the <answer> tag is not closed")
    if contents and answer is None:
        issues.append(f"answer {contents[-1].strip()[:60]!r} names neither Image A nor Image B")
    if answer is None and not scores and not totals:
        raise ParseError("found neither an answer naming Image A or Image B nor any scores", text)

    missing = [e.value for e in ELEMENTS if e not in scores]
    if scores and missing:
        issues.append(f"missing element scores: {', '.join(missing)}")
    elif not scores:
        issues.append("no per-element scores found")
    final: dict[str, float | None] = {}
    for cand, key in (("A", "score_a"), ("B", "score_b")):
        element_sum = sum(getattr(s, key) for s in scores.values()) if scores else None
        total = totals.get(cand)
        if total is not None and total.stated is not None and total.addends:
            added = sum(total.addends)
            if abs(added - total.stated) > 1e-6:
                written = "+".join(f"{x:g}" for x in total.addends)
                issues.append(f"Image {cand}: {written} = {added:g}, not the stated {total.stated:g}")
        stated = total.value if total is not None else None
        if (
            stated is not None
            and element_sum is not None
            and not missing
            and abs(stated - element_sum) > 1e-6
        ):
            issues.append(
                f"Image {cand}: stated total {stated:g} but the element scores sum to {element_sum:g}"
            )
        final[cand] = total.value if total is not None else element_sum

    total_a, total_b = final["A"], final["B"]
    by_totals: Winner | None = None
    if total_a is not None and total_b is not None and total_a != total_b:
        by_totals = "A" if total_a > total_b else "B"
    versus = f"({total_a:g} vs {total_b:g})" if total_a is not None and total_b is not None else ""
    if answer is not None:
        winner: Winner | None = answer
        if by_totals is not None and by_totals != answer:
            issues.append(f"answer is Image {answer} but Image {by_totals} has the higher total {versus}")
        elif versus and by_totals is None:
            issues.append(f"totals are tied {versus}; the winner is the answer, Image {answer}")
    else:
        winner = by_totals
        if by_totals is not None:
            issues.append(f"no readable <answer>; winner Image {by_totals} taken from the totals {versus}")
        else:
            issues.append(f"no readable <answer> and the totals do not decide {versus}".rstrip())
    return Judgment(
        a=a,
        b=b,
        scores=[scores[e] for e in ELEMENTS if e in scores],
        total_a=total_a,
        total_b=total_b,
        winner=winner,
        profile=profile,
        issues=list(dict.fromkeys(issues)),  # a section repeated a thousand times is one issue
        raw_text=text,
        assessor=assessor,
    )
