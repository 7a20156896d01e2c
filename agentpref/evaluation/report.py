"""A self-contained HTML page of an evaluation: the metric table per split and the plots, embedded.

Like the run report, it can be mailed or archived alone (PNGs as data URLs), and every
string that came from outside (assessor URIs, split names, the data path) is escaped.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from pathlib import Path

from agentpref.evaluation.metrics import ALL, EvalSummary, metric_rows
from agentpref.io import write_atomic
from agentpref.runs.report import STYLE


def _table(summary: EvalSummary, split: str) -> str:
    head = "".join(f"<th><code>{escape(a)}</code></th>" for a in summary.assessors)
    rows = "".join(
        f"<tr><th>{escape(name)}</th>{''.join(f'<td>{escape(c)}</td>' for c in cells)}</tr>"
        for name, cells in metric_rows(summary, split)
    )
    return f"<h2>{escape(split)}</h2><table><tr><th>metric</th>{head}</tr>{rows}</table>"


def _plot(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img style="max-width:100%" alt="{escape(path.stem)}" src="data:image/png;base64,{data}">'


def render_eval_report(summary: EvalSummary, *, data: str, samples: int, plots: Sequence[Path]) -> str:
    splits = [*summary.splits, ALL] if len(summary.splits) > 1 else summary.splits
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>agentpref eval — {escape(data)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Evaluation of {len(summary.assessors)} assessor(s)</h1>"
        f'<p class="muted">data <code>{escape(data)}</code> · {samples} pairs · accuracy with 95% Wilson '
        "intervals; failed judgments count as wrong</p>"
        f'<div class="grid">{"".join(_plot(p) for p in plots)}</div>'
        f"{''.join(_table(summary, s) for s in splits)}</body></html>"
    )


def write_eval_report(
    path: Path, summary: EvalSummary, *, data: str, samples: int, plots: Sequence[Path]
) -> Path:
    write_atomic(path, render_eval_report(summary, data=data, samples=samples, plots=plots))
    return path
