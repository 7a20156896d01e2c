"""A self-contained HTML report of a run: profile, candidates with per-element score bars
and reasons, and the iteration history.

Images are embedded as thumbnails (data URLs), so the file can be mailed or archived
alone. Every string that came from a model, a file or a user is escaped: metadata and
model output are untrusted text.
"""

from __future__ import annotations

from html import escape

from agentpref.images.store import ImageStore
from agentpref.judgment import Judgment
from agentpref.profile import ELEMENTS, Profile
from agentpref.runs.folder import RunFolder
from agentpref.runs.record import Assessment, Candidate, RunRecord

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
.muted{color:#777} .warn{background:#fff4e5;border-left:4px solid #f0a030;padding:.4rem .8rem}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:.35rem;text-align:left;vertical-align:top}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:1rem}
.card{border:1px solid #ddd;border-radius:8px;padding:.7rem} .card.best{border:2px solid #2a8a4a}
.card img{width:100%;border-radius:4px}
.refs img{width:96px;height:96px;object-fit:cover;border-radius:4px;margin:2px}
.bar{background:#eee;border-radius:3px;height:8px;margin:2px 0 6px}
.bar span{display:block;height:8px;border-radius:3px;background:#3b7dd8}
.small{font-size:.85rem} code{background:#f4f4f4;padding:0 .2rem;border-radius:3px;word-break:break-word}
.uncertain{color:#a06000}
"""

CARD_THUMBNAIL = 256
"""Long side (px) of a candidate's picture in the report: half of the usual 512 px, so a box
average makes it (about 1 ms a picture, where a filter to 320 px took 4)."""


def _terms(profile: Profile, element_index: int) -> str:
    element = ELEMENTS[element_index]
    terms = escape(", ".join(profile.terms(element))) or '<span class="muted">—</span>'
    parts = [terms]
    if element in profile.confidence:
        cls = ' class="uncertain"' if profile.is_uncertain(element) else ""
        parts.append(f"<span{cls}>confidence {profile.confidence[element]:.2f}</span>")
    if element in profile.evidence:
        parts.append(f'<span class="muted small">{escape(profile.evidence[element])}</span>')
    return "<br>".join(parts)


def _profile_table(record: RunRecord) -> str:
    if record.profile is None:
        return '<p class="muted">No profile yet.</p>'
    rows = "".join(
        f"<tr><th>{escape(e.value)}</th><td>{_terms(record.profile.likes, i)}</td>"
        f"<td>{_terms(record.profile.dislikes, i)}</td></tr>"
        for i, e in enumerate(ELEMENTS)
    )
    keywords = ""
    if record.profile.likes.keywords or record.profile.dislikes.keywords:
        keywords = (
            f"<tr><th>Keywords</th><td>{escape(', '.join(record.profile.likes.keywords))}</td>"
            f"<td>{escape(', '.join(record.profile.dislikes.keywords))}</td></tr>"
        )
    return f"<table><tr><th></th><th>Likes</th><th>Dislikes</th></tr>{rows}{keywords}</table>"


def _references(record: RunRecord, images: ImageStore) -> str:
    blocks = []
    for liked, title in ((True, "Liked"), (False, "Disliked")):
        refs = [r for r in record.references if r.liked == liked]
        thumbs = "".join(
            f'<img src="{images.thumbnail_of_file(r.path, r.sha256, 128)}" '
            f'title="{escape(r.label)}" alt="{escape(r.label)}">'
            for r in refs
            if r.path
        )
        blocks.append(f"<p><b>{title}</b> ({len(refs)})<br>{thumbs or '<span class=muted>none</span>'}</p>")
    return f'<div class="refs">{"".join(blocks)}</div>'


def _bars(assessment: Assessment) -> str:
    rows = []
    for element in ELEMENTS:
        if element not in assessment.element_scores:
            continue
        score = assessment.element_scores[element]
        reason = escape(assessment.rationale.get(element, ""))
        rows.append(
            f'<div class="small"><b>{escape(element.value)}</b> {score:.1f}/5'
            f'<div class="bar"><span style="width:{max(0.0, min(score, 5.0)) * 20:.0f}%"></span></div>'
            f"{reason}</div>"
        )
    return "".join(rows)


_SHOWN_PARAMS = ("steps", "guidance", "size", "dtype", "profile_guidance")


def _params(candidate: Candidate) -> str:
    """The generator settings that, with the seed and prompt, make the image again."""
    shown = [f"{k} {candidate.params[k]}" for k in _SHOWN_PARAMS if k in candidate.params]
    return "<br>" + escape(" · ".join(shown)) if shown else ""


def _candidate_card(folder: RunFolder, record: RunRecord, candidate: Candidate, images: ImageStore) -> str:
    assessment = record.assessment(candidate.id)
    best = " best" if candidate.id == record.best else ""
    score = f"{assessment.score:.1f}/{assessment.max_score:.0f}" if assessment else "not assessed"
    href = escape(candidate.file, quote=True)
    notes = "".join(f'<p class="muted small">{escape(n)}</p>' for n in candidate.notes)
    thumbnail = images.thumbnail_of_file(folder.root / candidate.file, candidate.sha256, CARD_THUMBNAIL)
    return (
        f'<div class="card{best}"><a href="{href}"><img src="{thumbnail}" '
        f'alt="{escape(candidate.id)}"></a>'
        f"<p><b>{escape(candidate.id)}</b>{' ★ best' if best else ''} — score {score}<br>"
        f'<span class="small muted">seed {candidate.seed} · {escape(candidate.generator)}{_params(candidate)}'
        f"</span></p>{_bars(assessment) if assessment else ''}{notes}</div>"
    )


def _judgment(j: Judgment) -> str:
    if j.failed:
        return f'<p class="warn">Judgment failed: {escape(j.error or "")}</p>'
    rows = "".join(
        f"<tr><td>{escape(s.element.value)}</td><td>{s.score_a:.1f} — {escape(s.rationale_a)}</td>"
        f"<td>{s.score_b:.1f} — {escape(s.rationale_b)}</td></tr>"
        for s in j.scores
    )
    issues = "".join(f'<p class="warn small">{escape(i)}</p>' for i in j.issues)
    return (
        f"<p>Compared with the earlier best: A = <code>{escape(j.a)}</code>, B = <code>{escape(j.b)}</code>, "
        f"winner <b>{escape(j.winner or 'none: a tie')}</b> ({j.total_a} vs {j.total_b}). "
        f"{escape(j.summary)}</p>"
        f"<table class=small><tr><th>Element</th><th>A</th><th>B</th></tr>{rows}</table>{issues}"
    )


def _comparisons(judgments: list[Judgment]) -> str:
    """How the round was ranked by a pairwise judge, and how many of its answers were unreadable."""
    if not judgments:
        return ""
    failed = [j for j in judgments if j.failed]
    line = f"Ranked by {len(judgments)} pairwise comparisons"
    if failed:
        line += f'; <span class="warn">{len(failed)} unreadable</span> (raw text in judgments.jsonl)'
    return f'<p class="small muted">{line}.</p>'


def _history(record: RunRecord) -> str:
    items = []
    for it in record.iterations:
        strategies = "".join(f"<li>{escape(line)}</li>" for line in it.strategies)
        best = "pending"
        if it.best_candidate:
            best = f"best <code>{escape(it.best_candidate)}</code> {it.best_score:.1f}"
        items.append(
            f"<h3>Iteration {it.iteration}</h3><p>Prompt: <code>{escape(it.prompt)}</code><br>"
            f"Negative: <code>{escape(it.negative_prompt) or '—'}</code><br>"
            f"{best}</p>{'<ul class=small>' + strategies + '</ul>' if strategies else ''}"
            f"{_comparisons(it.ranking_judgments)}{_judgment(it.judgment) if it.judgment else ''}"
        )
    return "".join(items)


def render_report(folder: RunFolder, record: RunRecord, images: ImageStore | None = None) -> str:
    """The report as one HTML string; thumbnails come from (and stay in) `images`."""
    images = images if images is not None else ImageStore()
    status = escape(record.stop_reason or ("finished" if record.finished else "in progress"))
    warnings = "".join(f'<p class="warn">{escape(w)}</p>' for w in record.warnings)
    notes = sorted({n for c in record.candidates for n in c.notes})
    cards_by_iteration = []
    for it in record.iterations:
        round_candidates = [c for c in record.candidates if c.iteration == it.iteration]
        cards = "".join(_candidate_card(folder, record, c, images) for c in round_candidates)
        if cards:
            cards_by_iteration.append(f'<h3>Iteration {it.iteration}</h3><div class="grid">{cards}</div>')
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>agentpref — {escape(record.subject)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(record.subject)}</h1>"
        f'<p class="muted">assessor <code>{escape(record.assessor)}</code> · generator '
        f"<code>{escape(record.generator)}</code> · {record.n} candidates × up to {record.max_iterations} "
        f"iterations · seed {record.seed} · {status}</p>{warnings}"
        f"{''.join(f'<p class=muted>{escape(n)}</p>' for n in notes)}"
        f"<h2>Your visual preference profile</h2>{_profile_table(record)}"
        f"<h2>References</h2>{_references(record, images)}"
        f"<h2>Candidates</h2>{''.join(cards_by_iteration) or '<p class=muted>none yet</p>'}"
        f"<h2>Iterations</h2>{_history(record)}</body></html>"
    )
