"""What to depict when the person gave no prompt: their references' shared subject, else a
neutral one that shows a taste well.

A set of liked images made from one subject prompt (the common case for generated images)
names that subject at the start of each prompt, before the style words: "watercolor
painting of a quiet lake at dusk, impressionism, soft light". When at least half of the
liked images with a prompt start with the same subject, that is the run's subject. Anything
less is not a shared subject, and a neutral one is chosen by the seed, so runs with other
seeds see other scenes.

>>> choose_subject(["oil painting of a red barn, dusk", "a red barn, watercolor", "a cat"]).subject
'a red barn'
>>> choice = choose_subject(["a cat, pastel", "a dog, ink"], seed=1)
>>> choice.subject, choice.source
('a portrait', 'neutral')
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

NEUTRAL_SUBJECTS = ("a landscape", "a portrait", "a still life", "a city street")
"""Scenes where palette, saturation, detail, medium and style all show."""

# "oil painting of", "a photo of", "digital art of": the words before the subject itself.
_LEAD_IN = re.compile(
    r"^.{0,60}?\b(?:painting|photo|photograph|picture|illustration|drawing|art|render)\s+of\s+"
)
_MAX_SUBJECT_CHARS = 120


@dataclass(frozen=True)
class SubjectChoice:
    subject: str
    source: Literal["references", "neutral"]

    def describe(self) -> str:
        """How the subject was chosen, for the person: one line."""
        if self.source == "references":
            return f"subject {self.subject!r}, shared by the liked images' prompts"
        return (
            f"subject {self.subject!r} (no prompt given and the liked images share none; "
            "pass --prompt to choose one)"
        )


def subject_of(prompt: str) -> str | None:
    """The subject a prompt starts with: its first comma-separated part, without a lead-in
    such as "oil painting of"; lower-case, spaces squeezed. None when there is none."""
    first = prompt.split(",", 1)[0].split("\n", 1)[0]
    words = " ".join(first.lower().split())
    subject = _LEAD_IN.sub("", words, count=1).strip(" .;:")
    return subject[:_MAX_SUBJECT_CHARS] or None


def choose_subject(liked_prompts: Sequence[str | None], *, seed: int = 0) -> SubjectChoice:
    """The liked images' shared subject, else a neutral one chosen by `seed` (see the module)."""
    subjects = [s for p in liked_prompts if p and (s := subject_of(p))]
    if subjects:
        # Ties go to the subject seen first, so the choice never depends on hash order.
        best, count = Counter(subjects).most_common(1)[0]
        if (count >= 2 and 2 * count >= len(subjects)) or len(subjects) == count == 1:
            return SubjectChoice(best, "references")
    return SubjectChoice(NEUTRAL_SUBJECTS[seed % len(NEUTRAL_SUBJECTS)], "neutral")
