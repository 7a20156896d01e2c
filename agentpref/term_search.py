"""Finding vocabulary terms in free text (prompts, prompt metadata) and reading their emphasis.

Emphasis is written as a prefix of a comma-separated phrase (`EMPHASIS_PREFIXES`, used by
`agentpref.prompting` when it refines a prompt). The painter reads its prompt with this
(a refined prompt such as "strongly palette of teal and navy, muted saturation" changes
what it paints) and the features assessor reads images' prompt metadata with it.

>>> [(t.name, e) for t, e in find_terms("a lighthouse, strongly palette of teal and navy, muted saturation")]
[('Teal', 1), ('Navy', 1), ('Muted', 0)]
"""

from __future__ import annotations

import re
from weakref import WeakKeyDictionary

from agentpref.profile import Element
from agentpref.vocabulary import Term, Vocabulary, load_vocabulary, words

# Emphasis levels 0-3 as written before an element phrase in a prompt.
EMPHASIS_PREFIXES = ("", "strongly ", "very strongly ", "above all ")
# Longest prefix first, so "very strongly" is not read as "strongly".
_EMPHASIS = sorted(
    ((p.strip(), level) for level, p in enumerate(EMPHASIS_PREFIXES) if p), key=lambda x: -len(x[0])
)
MAX_EMPHASIS = len(EMPHASIS_PREFIXES) - 1
"""The strongest emphasis level a prompt can write."""


_INDEXES: WeakKeyDictionary[Vocabulary, dict[tuple[str, ...], Term]] = WeakKeyDictionary()


def _index(vocab: Vocabulary) -> dict[tuple[str, ...], Term]:
    """Term names and aliases as word tuples, built once per vocabulary."""
    if vocab not in _INDEXES:
        index: dict[tuple[str, ...], Term] = {}
        for term in vocab:
            for label in (term.name, *term.aliases):
                key = tuple(words(label))
                if key:
                    index.setdefault(key, term)
        _INDEXES[vocab] = index
    return _INDEXES[vocab]


def find_terms(text: str | None, vocab: Vocabulary | None = None) -> list[tuple[Term, int]]:
    """Vocabulary terms named in `text`, in order, each with its emphasis level (0-3).

    Matching is on whole words, longest name first ("soft pastel" is the medium, not the
    saturation "pastel"); a comma-separated phrase starting with "strongly", "very
    strongly" or "above all" gives its terms emphasis 1, 2 or 3. Each term appears once.
    """
    if not text:
        return []
    index = _index(vocab or load_vocabulary())
    longest = max(len(k) for k in index)
    found: list[tuple[Term, int]] = []
    seen: set[str] = set()
    for phrase in re.split(r"[,;.\n]", text):
        tokens = words(phrase)
        low = " ".join(tokens)
        level = next((lvl for prefix, lvl in _EMPHASIS if low.startswith(prefix)), 0)
        i = 0
        while i < len(tokens):
            for n in range(min(longest, len(tokens) - i), 0, -1):
                term = index.get(tuple(tokens[i : i + n]))
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
