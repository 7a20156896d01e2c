"""The visual preference profile: the shared language of every part of agentpref.

A `Profile` lists, for each of PreferThinker's five elements, the terms that describe
one side of a person's taste (several terms per element for a person with several
tastes), plus free keywords. A `UserProfile` pairs what they like with what they don't.

Both serialise to JSON (pydantic) and to PreferThinker's tag text::

    <visual preference profile>
    "Art Styles": "Pixel Art",
    "Color": "Teal, Navy",
    ...
    </visual preference profile>

>>> p = Profile(color=["Teal", "Navy"], saturation=["Muted"])
>>> Profile.from_tag_body(p.to_tag_body()).color
['Teal', 'Navy']
"""

from __future__ import annotations

import re
from enum import Enum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field


class Element(str, Enum):
    """The five elements of PreferThinker's profile, valued by their tag-text key."""

    ART_STYLES = "Art Styles"
    COLOR = "Color"
    ARTISTIC_MEDIUM = "Artistic Medium"
    SATURATION = "Saturation"
    DETAIL = "Detail"

    @property
    def field(self) -> str:
        """The `Profile` attribute that holds this element's terms."""
        return self.value.lower().replace(" ", "_")

    @classmethod
    def parse(cls, key: str) -> Element:
        """Map a key as models write it ("ArtisticMedium", "art style", "COLOR") to an element.

        Raises ValueError naming the key when nothing matches.
        """
        element = _element_of(key)
        if element is None:
            raise ValueError(f"unknown profile element {key!r}; expected one of {[e.value for e in cls]}")
        return element


_KEY_ALIASES: dict[Element, tuple[str, ...]] = {
    Element.ART_STYLES: ("artisticstyle", "artisticstyles", "style", "styles", "artstyles"),
    Element.COLOR: ("colors", "colour", "colours", "palette"),
    Element.ARTISTIC_MEDIUM: ("medium", "media", "artisticmedia"),
    Element.SATURATION: ("saturations",),
    Element.DETAIL: ("details", "detaillevel"),
}

ELEMENTS: tuple[Element, ...] = tuple(Element)


_NOT_LETTER = re.compile(r"[^a-z]")


def _squash(key: str) -> str:
    return _NOT_LETTER.sub("", key.lower())


# Every spelling a key may squash to, computed once: the parsers look up one candidate key per
# line of model text, so this lookup must be a dict access, not a loop of regexes.
_KEY_SPELLINGS: dict[str, Element] = {
    spelling: element
    for element in ELEMENTS
    # "artstyle" / "artisticstyle" / "style" all mean Art Styles.
    for spelling in (_squash(element.value), _squash(element.value).rstrip("s"), *_KEY_ALIASES[element])
}


def _element_of(key: str) -> Element | None:
    """The element a key names (see `Element.parse`), None when it names none."""
    return _KEY_SPELLINGS.get(_squash(key))


def _split_terms(value: str) -> list[str]:
    """Split a value: 'Teal, Navy; Pastel.' -> ["Teal", "Navy", "Pastel"] (empties, end periods dropped).

    "and"/"&" do not split: terms such as "Pen and Ink" or "Arts and Crafts" must survive.
    """
    # One separator per split (the parts are stripped below): a pattern with "\s*" around the
    # separator rescans a run of spaces from every position in it (quadratic on untrusted text).
    parts = re.split(r"[,;/]", value.strip().strip('"').strip())
    cleaned = (p.strip().strip('"').strip().rstrip(".").strip() for p in parts)
    return [p for p in cleaned if p]


# A key starts the body, a line (after bullets or a number) or a comma-separated item; any key ends
# the previous value (known or not), so an unknown key's value is dropped, not absorbed. The text is
# untrusted: each repeat is followed by something it cannot match ("[^\S\n]" is a space but not a
# newline, and a newline is a start of its own), so no run of spaces, bullets or stars is rescanned
# from every position in it.
_KEY = re.compile(
    r"(?:^|[\n,])[^\S\n]*(?:[-\u2022][^\S\n]*)*(?:\d+[.)][^\S\n]*)?"  # start, bullets, number
    r'(?:["*][^\S\n]*)*([A-Za-z][A-Za-z _-]{1,30}?)[\s"*]*[:=]'  # "key": / **key**:
)


class Profile(BaseModel):
    """One side of a taste: terms per element, free keywords, and how sure we are."""

    model_config = ConfigDict(extra="forbid")

    art_styles: list[str] = Field(default_factory=list)
    color: list[str] = Field(default_factory=list)
    artistic_medium: list[str] = Field(default_factory=list)
    saturation: list[str] = Field(default_factory=list)
    detail: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list, description="free words beyond the five elements")
    confidence: dict[Element, float] = Field(
        default_factory=dict, description="0-1 per element; absent means the source gave none"
    )
    evidence: dict[Element, str] = Field(
        default_factory=dict, description="why each element holds, in words (e.g. 'no metadata: guessed')"
    )

    def terms(self, element: Element) -> list[str]:
        return list(getattr(self, element.field))

    def with_terms(self, element: Element, terms: list[str]) -> Profile:
        return self.model_copy(update={element.field: list(terms)})

    def is_empty(self) -> bool:
        return not any(self.terms(e) for e in ELEMENTS) and not self.keywords

    def is_uncertain(self, element: Element, threshold: float = 0.5) -> bool:
        """True when this element was given a confidence below `threshold`."""
        return element in self.confidence and self.confidence[element] < threshold

    def to_tag_body(self) -> str:
        """The five `"Key": "terms"` lines PreferThinker writes inside a profile tag."""
        lines = [f'"{e.value}": "{", ".join(self.terms(e))}"' for e in ELEMENTS]
        return ",\n".join(lines)

    @classmethod
    def from_tag_body(cls, body: str) -> Profile:
        """Parse the inside of a profile tag, tolerating models' drift.

        Accepts `"ArtisticMedium"` for `"Artistic Medium"`, any case and spacing,
        missing or curly quotes, `:` or `=`, and one element per line or all on one line.
        Unknown keys are ignored; an element that never appears is left empty.
        Raises ValueError when no element at all can be read.
        """
        text = body.replace("\u201c", '"').replace("\u201d", '"').replace("{", "").replace("}", "")
        found: dict[Element, list[str]] = {}
        matches = list(_KEY.finditer(text))
        for i, match in enumerate(matches):
            element = _element_of(match.group(1))
            if element is None:
                continue
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            value = text[match.end() : end].strip().rstrip(",").strip()
            found.setdefault(element, []).extend(_split_terms(value))
        if not found:
            raise ValueError(f"no profile element found in {body[:200]!r}")
        return cls(**{e.field: terms for e, terms in found.items()})


PREFERENCE_TAG = "visual preference profile"
NON_PREFERENCE_TAG = "visual non-preference profile"


class UserProfile(BaseModel):
    """What a person likes and what they don't."""

    model_config = ConfigDict(extra="forbid")

    likes: Profile = Field(default_factory=Profile)
    dislikes: Profile = Field(default_factory=Profile)

    def to_tag_text(self) -> str:
        """Both profiles in PreferThinker's tag layout, as the model writes them."""
        return (
            f"<{PREFERENCE_TAG}>\n{self.likes.to_tag_body()}\n</{PREFERENCE_TAG}>\n\n"
            f"<{NON_PREFERENCE_TAG}>\n{self.dislikes.to_tag_body()}\n</{NON_PREFERENCE_TAG}>"
        )

    @classmethod
    def from_tag_text(cls, text: str) -> UserProfile:
        """Parse both profile tags out of model text (other text around them is ignored).

        Raises ValueError (with the start of the text) when the preference tag is missing.
        A missing non-preference tag gives an empty dislikes profile.
        """
        tags = layout_tags(text)
        likes = _tag_content(text, PREFERENCE_TAG, tags)
        if likes is None:
            raise ValueError(f"no <{PREFERENCE_TAG}> tag in {text[:200]!r}")
        dislikes = _tag_content(text, NON_PREFERENCE_TAG, tags)
        return cls(
            likes=Profile.from_tag_body(likes),
            dislikes=Profile.from_tag_body(dislikes) if dislikes and dislikes.strip() else Profile(),
        )


class LayoutTag(NamedTuple):
    """One of the layout's tags found in model text."""

    name: str  # PREFERENCE_TAG, NON_PREFERENCE_TAG, "think" or "answer"
    closing: bool
    start: int
    end: int


# The layout's four tags in any case, words joined by spaces, "_" or "-". Only these are tags:
# markup-like text in a rationale or a term ("<b>", "A<B", "<Image A>") is content. Each "\s*"
# is followed by something it cannot match, so the scan is linear in the text.
_LAYOUT_TAG = re.compile(
    r"<\s*(?P<close>/\s*)?(?:visual[\s_-]*(?P<non>non[\s_-]*)?preference[\s_-]*profile|(?P<word>think|answer))\s*>",
    re.IGNORECASE,
)


def layout_tags(text: str) -> list[LayoutTag]:
    """Every layout tag in `text`, in order."""
    tags = []
    for m in _LAYOUT_TAG.finditer(text):
        word, close = m.group("word", "close")
        if word:
            name = "think" if word[0] in "tT" else "answer"
        else:
            name = NON_PREFERENCE_TAG if m.group("non") else PREFERENCE_TAG
        tags.append(LayoutTag(name, close is not None, *m.span()))
    return tags


def _tag_content(text: str, tag: str, tags: list[LayoutTag] | None = None) -> str | None:
    """Content of the first `<tag>` (a layout tag): up to the next layout tag, its own closing
    one or, when it is not closed, whichever comes next (`tags` = `layout_tags(text)`, if known)."""
    found = layout_tags(text) if tags is None else tags
    for i, t in enumerate(found):
        if t.name == tag and not t.closing:
            return text[t.end : found[i + 1].start if i + 1 < len(found) else len(text)]
    return None
