"""Finding vocabulary terms in free text (prompts, prompt metadata) and reading their emphasis.

The painter reads its prompt with this (a refined prompt such as "strongly palette of teal
and navy, muted saturation" changes what it paints) and the features assessor reads
images' prompt metadata with it.

>>> [(t.name, e) for t, e in find_terms("a lighthouse, strongly palette of teal and navy, muted saturation")]
[('Teal', 1), ('Navy', 1), ('Muted', 0)]
"""

from __future__ import annotations

import re
from functools import cache

from agentpref.profile import Element
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary

_SPELLING = {
    "grey": "gray",
    "colour": "color",
    "watercolour": "watercolor",
    "greyscale": "grayscale",
    "colours": "colors",
    "coloured": "colored",
}
# Prefixes `agentpref.prompting` writes before an element phrase, strongest last.
_EMPHASIS = (("above all", 3), ("very strongly", 2), ("strongly", 1))


def _words(text: str) -> list[str]:
    return [_SPELLING.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())]


@cache
def _index(vocab_id: int) -> dict[tuple[str, ...], Term]:
    vocab = _VOCABS[vocab_id]
    index: dict[tuple[str, ...], Term] = {}
    for term in vocab:
        for label in (term.name, *term.aliases):
            key = tuple(_words(label))
            if key:
                index.setdefault(key, term)
    return index


_VOCABS: dict[int, Vocabulary] = {}


def find_terms(text: str | None, vocab: Vocabulary | None = None) -> list[tuple[Term, int]]:
    """Vocabulary terms named in `text`, in order, each with its emphasis level (0-3).

    Matching is on whole words, longest name first ("soft pastel" is the medium, not the
    saturation "pastel"); a comma-separated phrase starting with "strongly", "very
    strongly" or "above all" gives its terms emphasis 1, 2 or 3. Each term appears once.
    """
    if not text:
        return []
    vocab = vocab or load_vocabulary()
    _VOCABS[id(vocab)] = vocab
    index = _index(id(vocab))
    longest = max(len(k) for k in index)
    found: list[tuple[Term, int]] = []
    seen: set[str] = set()
    for phrase in re.split(r"[,;.\n]", text):
        low = " ".join(_words(phrase))
        level = next((lvl for prefix, lvl in _EMPHASIS if low.startswith(prefix)), 0)
        words = low.split()
        i = 0
        while i < len(words):
            for n in range(min(longest, len(words) - i), 0, -1):
                term = index.get(tuple(words[i : i + n]))
                if term is not None:
                    if term.name not in seen:
                        seen.add(term.name)
                        found.append((term, level))
                    i += n
                    break
            else:
                i += 1
    return found


def terms_by_element(
    text: str | None, vocab: Vocabulary | None = None
) -> dict[Element, list[tuple[Term, int]]]:
    """`find_terms` grouped by element (every element present, possibly empty)."""
    out: dict[Element, list[tuple[Term, int]]] = {e: [] for e in Element}
    for term, level in find_terms(text, vocab):
        out[term.element].append((term, level))
    return out
