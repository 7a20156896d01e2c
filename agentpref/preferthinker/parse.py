"""Reading PreferThinker-layout model text into a `Judgment` or a `UserProfile`.

Models drift from the trained layout ("ArtisticMedium", "**Color**", "Image A (2/5)",
"Total A = 11", "<answer> image b </answer>", no `<think>` tags...). The parser accepts
that drift but never silently repairs content: every inconsistency (totals that disagree
with the element scores or with the answer, missing elements, out-of-range scores, a
missing answer) is written to `Judgment.issues`. Import these names from
`agentpref.preferthinker.requests`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentpref.errors import ParseError
from agentpref.judgment import DimensionScore, Judgment, Winner
from agentpref.profile import ELEMENTS, NON_PREFERENCE_TAG, PREFERENCE_TAG, Element, UserProfile, _tag_content

FORMAT_PATTERN = (
    r"<visual preference profile>.*?</visual preference profile>\s*"
    r"<visual non-preference profile>.*?</visual non-preference profile>\s*"
    r"<think>.*?</think>\s*"
    r"<answer>.*?</answer>"
)
"""PreferThinker's format-reward pattern (their reward: 0.3 when the whole text matches)."""

_NUM = r"-?\d+(?:\.\d+)?"
_ANY_TAG = re.compile(
    r"<\s*/?\s*(?:visual[\s_-]*(?:non[\s_-]*)?preference[\s_-]*profile|think|answer)\s*>", re.IGNORECASE
)
_PROFILE_BLOCK = re.compile(
    r"<\s*visual[^>]*profile\s*>.*?(?:<\s*/\s*visual[^>]*profile\s*>|(?=<\s*(?:think|answer)\b)|\Z)",
    re.IGNORECASE | re.DOTALL,
)
_ANSWER = re.compile(r"<\s*answer\s*>(.*?)<\s*/\s*answer\s*>", re.IGNORECASE | re.DOTALL)
_OPEN_ANSWER = re.compile(r"<\s*answer\s*>([^<]*)$", re.IGNORECASE)
_MARKUP = r"[ \t#>\-\u2022]*"  # leading markdown: headings, quotes, bullets
# "Total:", "Totals", "6. Sum", "Overall total" or a first "Image A: total_score=..." line.
_TOTAL_HEADING = re.compile(
    rf"^{_MARKUP}(?:(?:\d+\s*[.)]\s*)?(?:(?:overall|final)\s+)?(?:total|sum)s?\b|image\s*[ab]\s*[:-]?\s*total)",
    re.IGNORECASE | re.MULTILINE,
)
_HEADING = re.compile(
    rf"^{_MARKUP}(?:\d+\s*[.)]\s*)?(?P<name>[A-Za-z][A-Za-z /&-]{{0,40}}?)\s*(?:\([^)\n]*\))?\s*(?::|$)",
    re.MULTILINE,
)
_HEADING_SUFFIX = re.compile(r"\s+(?:score|scores|analysis|evaluation|assessment|alignment|match)$", re.I)
# "Image A(2)", "Image A (2/5)", "Image A: 2", "A(2)", "image b (score: 4)".
_MENTION = r"(?:(?i:image)\s*(?P<c1>[ABab])|(?<![A-Za-z0-9])(?P<c2>[AB]))(?![A-Za-z])"
_MARKER = re.compile(
    _MENTION + r"\s*(?:\(\s*(?:(?i:score)\s*[:=]?\s*)?(?P<p>" + _NUM + r")\s*(?:/\s*5\s*)?\)"
    r"|[:=]\s*(?:(?i:score)\s*[:=]?\s*)?(?P<c>" + _NUM + r")(?:\s*/\s*5(?![\d.]))?)"
)
_MENTION_RE = re.compile(_MENTION)
_SUM = re.compile(rf"((?:{_NUM}\s*\+\s*)+{_NUM})\s*(?:=\s*({_NUM}))?")
_OUT_OF = re.compile(r"\s*(?:/\s*\d+(?:\.\d+)?|\(?\s*out\s+of\s+\d+(?:\.\d+)?\s*\)?)", re.IGNORECASE)


def format_ok(text: str) -> bool:
    """True when the whole text is the four blocks in order (PreferThinker's format reward, strict)."""
    return re.fullmatch(FORMAT_PATTERN, text, re.DOTALL) is not None


def _read_answer(content: str) -> Winner | None:
    cleaned = content.strip().strip("\"'`*.!:; \n\t").strip()
    m = re.match(r"image\s*([ab])\b", cleaned, re.IGNORECASE) or re.fullmatch(r"([ab])", cleaned, re.I)
    return m.group(1).upper() if m else None  # type: ignore[return-value]


def _answers(text: str) -> tuple[list[str], bool]:
    """Contents of every `<answer>` tag (an unclosed final one included) and whether one was unclosed."""
    found = _ANSWER.findall(text)
    if found:
        return found, False
    tail = _OPEN_ANSWER.search(text)
    return ([tail.group(1)], True) if tail else ([], False)


def parse_answer(text: str) -> Winner | None:
    """The last `<answer>`'s choice ("A" or "B"), None when there is none or it names neither."""
    contents, _ = _answers(text)
    return _read_answer(contents[-1]) if contents else None


def parse_profile(text: str) -> UserProfile:
    """Both profile tags out of model text; ParseError (with the text) when they cannot be read."""
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
    for raw in text.splitlines():
        line = raw.strip(" \t#>-\u2022")
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
    return totals


def _rationale(text: str) -> str:
    # The next line's bullet ("- image b ...") belongs to the next score, not to this reason.
    return " ".join(text.split()).lstrip("-\u2013\u2014: ").rstrip(" ;.,-\u2013\u2014\u2022")


def _read_scores(text: str, issues: list[str]) -> dict[Element, DimensionScore]:
    """Per-element scores from the element sections (text before the "Total" heading)."""
    headings = []
    for m in _HEADING.finditer(text):
        name = _HEADING_SUFFIX.sub("", m.group("name").strip())
        try:
            headings.append((Element.parse(name), m))
        except ValueError:
            continue
    sections: list[tuple[Element, str]] = [
        (e, text[m.end() : headings[i + 1][1].start() if i + 1 < len(headings) else len(text)])
        for i, (e, m) in enumerate(headings)
    ]
    if not headings:
        markers = list(_MARKER.finditer(text))
        pairs = [(_candidate(m), m) for m in markers]
        if [c for c, _ in pairs] == ["A", "B"] * len(ELEMENTS):
            issues.append("no element headings; scores taken in the layout's element order")
            sections = [
                (e, text[pairs[2 * i][1].start() : pairs[2 * i + 2][1].start() if i < 4 else len(text)])
                for i, e in enumerate(ELEMENTS)
            ]
    scores: dict[Element, DimensionScore] = {}
    for k, (element, body) in enumerate(sections):
        markers = list(_MARKER.finditer(body))
        found: dict[str, tuple[float, str]] = {}
        for i, m in enumerate(markers):
            cand = _candidate(m)
            if cand in found:
                continue
            end = markers[i + 1].start() if i + 1 < len(markers) else len(body)
            found[cand] = (float(m.group("p") or m.group("c")), _rationale(body[m.end() : end]))
        if element in scores:
            issues.append(f"{element.value}: scored twice; the first scores are used")
            continue
        if not found and any(e == element for e, _ in sections[k + 1 :]):
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


def _scoring_region(text: str) -> str:
    think = _tag_content(text, "think")
    if think is not None:
        return think
    without = _PROFILE_BLOCK.sub("", text)
    return _ANSWER.sub("", re.sub(r"<\s*answer\s*>[^<]*$", "", without, flags=re.IGNORECASE))


def parse_judgment(text: str, *, a: str = "A", b: str = "B", assessor: str = "") -> Judgment:
    """Read model text in PreferThinker's layout into a `Judgment` (see the module docs for drift).

    The winner is the model's last `<answer>`; without a readable answer it comes from the
    totals. Raises ParseError (carrying the raw text) when the text has none of the layout's
    tags, or when neither an answer nor any score or total can be found.
    """
    if not _ANY_TAG.search(text):
        raise ParseError(
            "no PreferThinker tags (<visual preference profile>, <think>, <answer>) in the model text", text
        )
    clean = _clean(text)
    issues: list[str] = []
    profile = None
    if _tag_content(clean, PREFERENCE_TAG) is not None or _tag_content(clean, NON_PREFERENCE_TAG) is not None:
        try:
            profile = UserProfile.from_tag_text(clean)
        except ValueError as exc:
            issues.append(f"profile tags present but unreadable: {str(exc)[:200]}")

    region = _scoring_region(clean)
    total_heading = _TOTAL_HEADING.search(region)
    split = total_heading.start() if total_heading else len(region)
    scores = _read_scores(region[:split], issues)
    totals = _read_totals(region[split:])

    contents, unclosed = _answers(clean)
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
        issues=issues,
        raw_text=text,
        assessor=assessor,
    )
