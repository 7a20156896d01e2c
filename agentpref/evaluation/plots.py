"""PNG plots of an `EvalSummary`: accuracy per split with CI bars, accuracy vs number of references.

matplotlib is imported inside the functions (Agg backend, no display) so `import agentpref` stays
light; `require_matplotlib` lets a caller check for it before any paid work. Split names and
assessor URIs come from data and command lines, so every text is drawn as it is: never as
mathtext (`$...$`) and never through LaTeX, whatever the user's matplotlibrc says.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agentpref.errors import InputError
from agentpref.evaluation.metrics import ALL, EvalSummary, Proportion


def require_matplotlib() -> Any:
    """pyplot on the Agg backend, or an InputError saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise InputError(
            "eval plots need matplotlib, which is not installed: pip install 'agentpref[eval]', "
            "or pass --no-plots to `agentpref eval`"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def _figure(path: str | Path, size: tuple[float, float]) -> Iterator[Any]:
    """Axes of a new figure, saved as a PNG at `path` when the block ends."""
    plt = require_matplotlib()
    # Labels are data: mathtext would fail on (or render) `$...$`, LaTeX would run them as code.
    with plt.rc_context({"text.parse_math": False, "text.usetex": False}):
        fig, ax = plt.subplots(figsize=size)
        try:
            yield ax
            out = Path(path)
            out.parent.mkdir(parents=True, exist_ok=True)
            fig.tight_layout()
            fig.savefig(out, format="png", dpi=120)
        finally:
            plt.close(fig)


def _err(p: Proportion) -> tuple[float, float, float]:
    """(value, lower error, upper error) for an error bar; zeros when there is nothing to show."""
    if p.value is None or p.low is None or p.high is None:
        return 0.0, 0.0, 0.0
    return p.value, p.value - p.low, p.high - p.value


def plot_accuracy(summary: EvalSummary, path: str | Path) -> Path:
    """Grouped bars: accuracy per split (and pooled, with several splits) per assessor, 95% CI bars."""
    splits = [*summary.splits, ALL] if len(summary.splits) > 1 else list(summary.splits)
    n_assessors = max(1, len(summary.assessors))
    width = 0.8 / n_assessors
    with _figure(path, (max(5.0, 1.4 * len(splits) * max(1, n_assessors / 2)), 4.0)) as ax:
        for i, assessor in enumerate(summary.assessors):
            xs, ys, lo, hi = [], [], [], []
            for j, split in enumerate(splits):
                m = summary.get(assessor, split)
                if m is None or m.accuracy.value is None:
                    continue
                v, el, eh = _err(m.accuracy)
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(v)
                lo.append(el)
                hi.append(eh)
            ax.bar(xs, ys, width=width, yerr=[lo, hi], capsize=3, label=assessor)
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
        ax.set_xticks(range(len(splits)), splits)
        ax.set_ylim(0, 1)
        ax.set_ylabel("pairwise accuracy (95% CI)")
        ax.set_title("Accuracy per split")
        ax.legend(fontsize="small")
    return Path(path)


def plot_refs(summary: EvalSummary, path: str | Path) -> Path:
    """Accuracy against the number of reference images, one line per assessor (all splits pooled)."""
    all_refs: set[int] = set()
    n = len(summary.assessors)
    with _figure(path, (5.5, 4.0)) as ax:
        for i, assessor in enumerate(summary.assessors):
            m = summary.get(assessor, ALL)
            if m is None:
                continue
            points = [(k, _err(p)) for k, p in sorted(m.by_refs.items()) if p.value is not None]
            if not points:
                continue
            all_refs.update(k for k, _ in points)
            # A small multiplicative dodge keeps the assessors' error bars from hiding each other.
            dodge = 2 ** (0.04 * (i - (n - 1) / 2))
            ax.errorbar(
                [k * dodge for k, _ in points],
                [e[0] for _, e in points],
                yerr=[[e[1] for _, e in points], [e[2] for _, e in points]],
                marker="o",
                capsize=3,
                label=assessor,
            )
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
        if all_refs:
            ticks = sorted(all_refs)
            if all(k > 0 for k in ticks) and max(ticks) / min(ticks) >= 4:
                ax.set_xscale("log", base=2)
            ax.set_xticks(ticks, [str(k) for k in ticks])
            ax.minorticks_off()
        ax.set_ylim(0, 1)
        ax.set_xlabel("number of reference images")
        ax.set_ylabel("pairwise accuracy (95% CI)")
        ax.set_title("Accuracy vs references")
        ax.legend(fontsize="small")
    return Path(path)
