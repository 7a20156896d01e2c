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
        squashed = re.sub(r"[^a-z]", "", key.lower())
        for element in cls:
            name = re.sub(r"[^a-z]", "", element.value.lower())
            # "artstyle" / "artisticstyle" / "style" all mean Art Styles.
            if squashed in (name, name.rstrip("s")) or squashed in _KEY_ALIASES.get(element, ()):
                return element
        raise ValueError(f"unknown profile element {key!r}; expected one of {[e.value for e in cls]}")


_KEY_ALIASES: dict[Element, tuple[str, ...]] = {
    Element.ART_STYLES: ("artisticstyle", "artisticstyles", "style", "styles", "artstyles"),
    Element.COLOR: ("colors", "colour", "colours", "palette"),
    Element.ARTISTIC_MEDIUM: ("medium", "media", "artisticmedia"),
    Element.SATURATION: ("saturations",),
    Element.DETAIL: ("details", "detaillevel"),
}

ELEMENTS: tuple[Element, ...] = tuple(Element)


def _split_terms(value: str) -> list[str]:
    """Split a value: 'Teal, Navy; Pastel.' -> ["Teal", "Navy", "Pastel"] (empties, end periods dropped).

    "and"/"&" do not split: terms such as "Pen and Ink" or "Arts and Crafts" must survive.
    """
    parts = re.split(r"\s*[,;/]\s*", value.strip().strip('"').strip())
    cleaned = (p.strip().strip('"').strip().rstrip(".").strip() for p in parts)
    return [p for p in cleaned if p]


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
        # A key starts the body, a line (after a bullet or number) or a comma-separated item; any key ends
        # the previous value (known or not), so an unknown key's value is dropped, not absorbed.
        key_pattern = re.compile(
            r"(?:^|[\n,])\s*(?:[-*\u2022]+\s*)?(?:\d+[.)]\s*)?"  # start, bullet, number
            r'(?:["*]+\s*)?([A-Za-z][A-Za-z _-]{1,30}?)[\s"*]*[:=]'  # "key": / **key**:
        )
        matches = list(key_pattern.finditer(text))
        for i, match in enumerate(matches):
            if not _is_element_key(match.group(1)):
                continue
            end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
            value = text[match.end() : end].strip().rstrip(",").strip()
            element = Element.parse(match.group(1))
            found.setdefault(element, []).extend(_split_terms(value))
        if not found:
            raise ValueError(f"no profile element found in {body[:200]!r}")
        return cls(**{e.field: terms for e, terms in found.items()})


def _is_element_key(key: str) -> bool:
    try:
        Element.parse(key)
    except ValueError:
        return False
    return True


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
        likes = _tag_content(text, PREFERENCE_TAG)
        if likes is None:
            raise ValueError(f"no <{PREFERENCE_TAG}> tag in {text[:200]!r}")
        dislikes = _tag_content(text, NON_PREFERENCE_TAG)
        return cls(
            likes=Profile.from_tag_body(likes),
            dislikes=Profile.from_tag_body(dislikes) if dislikes and dislikes.strip() else Profile(),
        )


def _tag_content(text: str, tag: str) -> str | None:
    """Content of `<tag>...</tag>`, case- and space-insensitive; an unclosed tag runs to the next tag.

    Words may be joined by spaces, "_" or "-" ("visual_non_preference_profile").
    """
    name = r"[\s_-]*".join(re.escape(w) for w in re.split(r"[\s_-]+", tag.strip()))
    opened = re.search(rf"<\s*{name}\s*>", text, re.IGNORECASE)
    if not opened:
        return None
    closed = re.compile(rf"<\s*/\s*{name}\s*>|<\s*[a-z]", re.IGNORECASE).search(text, opened.end())
    return text[opened.end() : closed.start() if closed else len(text)]
