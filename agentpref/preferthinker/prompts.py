"""The words of agentpref's predict-then-assess prompt, in PreferThinker's layout.

Our own text, modelled on the layout PreferThinker-7B was trained on
(`agentpref.preferthinker.requests` assembles these pieces into requests; the worked
examples below are rendered with `layout.format_judgment`, which the parser reads back).
The worked examples use vocabulary terms visible in the public release.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentpref.judgment import DimensionScore, Judgment
from agentpref.preferthinker.layout import format_judgment
from agentpref.profile import Element, Profile, UserProfile

TASK_TEXT = """\
The user shares images they liked in the past (preferred) and images they did not like \
(non-preferred). From these, predict the user's visual preference profile and visual \
non-preference profile over five elements: Art Styles, Color, Artistic Medium, Saturation and \
Detail. Describe each element with short terms (several terms, comma-separated, when the \
images show more than one taste). When the profiles are given to you as text instead of \
images, copy them unchanged into their tags.
Next the user shows two candidate images, Image A and Image B. Use the predicted profiles as \
the criteria: for each of the five elements give each image a score from 0 to 5, where 5 means \
it matches the preference profile closely and 0 means it resembles the non-preference profile. \
Justify every score with a short rationale.
Last, add up the five scores of each image. The image with the higher total is the one the user \
is more likely to prefer; give it as the answer.
Two complete output examples follow.
"""

PROFILE_TASK_TEXT = """\
The user shares images they liked in the past (preferred) and images they did not like \
(non-preferred). From these, predict the user's visual preference profile and visual \
non-preference profile over five elements: Art Styles, Color, Artistic Medium, Saturation and \
Detail. Describe each element with short terms (several terms, comma-separated, when the \
images show more than one taste). Write only the two profiles, each in its tags.
Two complete output examples follow.
"""

EXAMPLE_HEADER = "Output example {n}:"

LIKES_TEXT = (
    "First, here are images the user preferred in the past. Combine the stylistic traits they "
    "share into the <visual preference profile> </visual preference profile> tags, covering five "
    "elements: Art Styles, Color, Artistic Medium, Saturation, Detail. Vary your wording and avoid "
    "needless repetition."
)
NO_LIKES_TEXT = (
    "First, the user gave no preferred images. Fill the <visual preference profile> "
    "</visual preference profile> tags with the five elements (Art Styles, Color, Artistic Medium, "
    "Saturation, Detail) that contrast most with the non-preferred images below."
)
DISLIKES_TEXT = (
    "Second, here are images the user did not prefer. Combine the stylistic traits they share "
    "into the <visual non-preference profile> </visual non-preference profile> tags, covering five "
    "elements: Art Styles, Color, Artistic Medium, Saturation, Detail. Vary your wording and avoid "
    "needless repetition."
)
NO_DISLIKES_TEXT = (
    "Second, the user gave no non-preferred images. Fill the <visual non-preference profile> "
    "</visual non-preference profile> tags with the five elements (Art Styles, Color, Artistic "
    "Medium, Saturation, Detail) that contrast most with the preferred images above."
)
GIVEN_PROFILE_TEXT = (
    "The user's visual preference profile and visual non-preference profile were predicted "
    "earlier from their historical images:\n\n{profile}"
)
CANDIDATES_TEXT = "Then, given the following two candidate images: Image A and Image B."
COMPARE_INSTRUCTION = (
    "Using the {source} preference profile and non-preference profile, analyse and score both images "
    "on the five elements. Add the five scores of each image into a total and decide from the totals "
    "which image the user prefers. First put the preference profile inside <visual preference profile> "
    "and </visual preference profile>, and the non-preference profile inside <visual non-preference "
    "profile> and </visual non-preference profile>. Then put the element-by-element analysis and "
    "scores inside <think> and </think>. Finally give the chosen image inside <answer> and </answer>, "
    "written as <answer>Image A</answer> or <answer>Image B</answer>."
)
PROFILE_INSTRUCTION = (
    "Put the preference profile inside <visual preference profile> and </visual preference profile>, "
    "and the non-preference profile inside <visual non-preference profile> and </visual "
    'non-preference profile>, each as five lines "Key": "terms" with the keys "Art Styles", '
    '"Color", "Artistic Medium", "Saturation", "Detail". Write nothing else.'
)


def _example(
    likes: tuple[str, str, str, str, str],
    dislikes: tuple[str, str, str, str, str],
    rows: list[tuple[int, str, int, str]],
    winner: str,
) -> Judgment:
    """A worked example: five profile terms per side, then (score A, why, score B, why) per element."""
    profile = UserProfile(
        likes=Profile(**{e.field: [t] for e, t in zip(Element, likes, strict=True)}),
        dislikes=Profile(**{e.field: [t] for e, t in zip(Element, dislikes, strict=True)}),
    )
    scores = [
        DimensionScore(element=e, score_a=sa, rationale_a=ra, score_b=sb, rationale_b=rb)
        for e, (sa, ra, sb, rb) in zip(Element, rows, strict=True)
    ]
    return Judgment(
        scores=scores,
        total_a=sum(s.score_a for s in scores),
        total_b=sum(s.score_b for s in scores),
        winner=winner,  # type: ignore[arg-type]
        profile=profile,
    )


WORKED_EXAMPLES: tuple[Judgment, ...] = (
    _example(
        ("Mesoamerican Art", "Pink", "Coiling", "Muted", "Realistic"),
        ("Pixel Art", "Jungle Green", "Digital Painting", "Mid-tone", "Selective"),
        [
            (
                2,
                "The plants are arranged in a tidy geometric grid drawn like a modern vector illustration. "
                "It carries none of the ritual motifs or carved symbolism of Mesoamerican Art and sits "
                "somewhere between that and the blocky look of Pixel Art",
                5,
                "The rounded fruit shapes and the stepped border pattern recall the glyphs and woven "
                "textiles of Mesoamerican codices, and the hand-drawn line keeps that cultural feel",
            ),
            (
                1,
                "Deep emerald and forest greens fill almost the whole frame, which is the disliked "
                "Jungle Green, and there is no trace of the warm pink the user favours",
                5,
                "A soft rose-to-salmon pink covers the background and sets the mood of the picture, "
                "with a little green foliage as contrast that never takes over",
            ),
            (
                2,
                "Perfectly smooth gradients and razor-clean edges show a digital painting made on a "
                "tablet, close to the disliked medium and far from hand-built coils",
                4,
                "The ridged, layered surface of the fruit looks built up by hand, much like coiled clay, "
                "although the piece stays flat rather than truly three-dimensional",
            ),
            (
                3,
                "The greens are fairly strong in the centre and fade into darker, duller leaves at the "
                "edges, a middle level of saturation that is neither muted nor loud",
                4,
                "The pink is held back and slightly greyed, and colours soften toward the edges, which "
                "fits the preferred Muted saturation while keeping the shapes readable",
            ),
            (
                3,
                "Leaves have clear outlines and some texture, but the forms are simplified and only a "
                "few areas get careful treatment, halfway between Realistic and Selective detail",
                4,
                "Light, shading and the fine veins of the leaves are observed closely, giving a mostly "
                "realistic result with a touch of stylisation",
            ),
        ],
        "B",
    ),
    _example(
        ("Oceanic Art", "Alloy Silver", "Silkscreen", "Pastel", "Smooth"),
        ("Romanticism", "Charcoal Gray", "3D Modeling", "Intense", "Fine"),
        [
            (
                4,
                "The sled dogs move in flowing, repeated curves across the snow, a rhythm close to the "
                "wave patterns of Oceanic Art, with none of the drama of Romanticism",
                3,
                "The same running dogs are set against a dark forest, and the strong contrast adds a "
                "brooding tension that leans a little toward Romanticism",
            ),
            (
                4,
                "Cool silvery blues in the snow and sky give the scene a metallic sheen that matches the "
                "preferred Alloy Silver and avoids heavy dark tones",
                2,
                "Dark charcoal trees and deep shadows on the snow dominate, moving the palette toward the "
                "disliked Charcoal Gray",
            ),
            (
                4,
                "Flat, even areas of colour and simple tonal steps read like layers of a screen print, "
                "close to the preferred Silkscreen",
                2,
                "Depth of field and volumetric light between the dogs and the trees look computer "
                "rendered, much like 3D Modeling",
            ),
            (
                5,
                "Soft, light colours with gentle shifts across sky and snow give a calm pastel feel "
                "that fits the preference well",
                2,
                "Strong saturated accents on the dogs against the dark background create a loud, "
                "intense look the user tends to dislike",
            ),
            (
                4,
                "Fur and snow are drawn with smooth, flowing surfaces that keep the shapes clear without "
                "sharp fine texture, in line with the preferred Smooth detail",
                3,
                "The lead dog is smooth, but its fur and harness carry much finer detail, sitting between "
                "the preferred Smooth and the disliked Fine detail",
            ),
        ],
        "A",
    ),
)


def _system_prompt(task: str, examples: Sequence[str]) -> str:
    shown = [f"{EXAMPLE_HEADER.format(n=i)}\n{text}" for i, text in enumerate(examples, start=1)]
    return task + "\n" + "\n\n\n".join(shown) + "\n"


SYSTEM_PROMPT: str = _system_prompt(TASK_TEXT, [format_judgment(j) for j in WORKED_EXAMPLES])
"""Task statement plus two complete worked outputs, for compare requests."""

PROFILE_SYSTEM_PROMPT: str = _system_prompt(
    PROFILE_TASK_TEXT, [j.profile.to_tag_text() for j in WORKED_EXAMPLES if j.profile is not None]
)
"""Task statement plus two worked profile outputs, for profile-only requests."""
