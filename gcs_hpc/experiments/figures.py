"""The report's summary figures (PNG): accuracies per experiment and split, the N_gc and smoothing
study, and the CNN against the classic estimators."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gcs_hpc import figure
from gcs_hpc.experiments.paper_values import PAPER_TABLE
from gcs_hpc.experiments.tables import metric


def accuracy_figure(results: dict[str, dict[str, Any]], path: Path) -> str:
    """Accuracy with bootstrap errors, per experiment, split and channel count; the paper's as stars;
    return the title."""
    plt = figure.pyplot()
    combos = [(s, c) for s in ("model", "image", "suite") for c in (1, 2)]
    names = list(results)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    width = 0.8 / len(combos)
    n_bars, drawn = 0, set()
    for k, (split, c) in enumerate(combos):
        x, y, e = [], [], []
        for i, name in enumerate(names):
            m = metric(results[name], split, c)
            if m:
                x.append(i + (k - len(combos) / 2 + 0.5) * width)
                y.append(m["accuracy"])
                e.append(m.get("accuracy_se", 0.0))
                drawn.add(name)
        n_bars += len(x)
        if x:
            ax.bar(x, y, width, yerr=e, capsize=2, label=f"{split} split, {c}ch")
    for i, name in enumerate(names):
        if name in PAPER_TABLE:
            ax.plot([i - 0.2, i + 0.2], PAPER_TABLE[name]["acc"], "k*", ms=9,
                    label="paper (1ch, 2ch; by image)" if i == 0 else None)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set(ylabel="accuracy = 1 - mean |E_i|",
           title=f"accuracy by split and channels: {figure.count(n_bars, 'bar')}, "
                 f"{len(drawn)} of {figure.count(len(names), 'experiment')}")
    lo = min([b.get_height() for b in ax.patches] + [0.5])
    ax.set_ylim(max(0.0, lo - 0.1), 1.0)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return figure.save(fig, path)


def study_figure(results: dict[str, dict[str, Any]], path: Path) -> bool:
    """Scatter in dex against N_gc and against smoothing length (by-model split)."""
    plt = figure.pyplot()
    studies = {"n_gc": [("ngc200", 200), ("ngc2000", 2000), ("ngc20000", 20000)],
               "smoothing": [("ngc200", 0.12), ("smooth2.5R0", 0.5), ("smooth5R0", 1.0)]}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    drew = False
    for ax, (study, members) in zip(axes, studies.items()):
        n_points = 0
        for c, marker in ((1, "o-"), (2, "s-")):
            pts = [(v, metric(results[n], "model", c)) for n, v in members if n in results]
            pts = [(v, m) for v, m in pts if m]
            n_points += len(pts)
            if pts:
                drew = True
                ax.errorbar([v for v, _ in pts], [m["scatter_dex"] for _, m in pts],
                            yerr=[m.get("scatter_dex_se", 0.0) for _, m in pts], fmt=marker, capsize=3,
                            label=f"{c} channel{'s' if c > 1 else ''}")
        ax.set(xscale="log", xlabel="N_gc" if study == "n_gc" else "R_sm [R_d]",
               ylabel="scatter of log10(M_p/M_c) [dex]",
               title=f"{study} study (by-model split): {figure.count(n_points, 'point')}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    if drew:
        figure.save(fig, path)
    else:
        plt.close(fig)
    return drew


def classic_figure(results: dict[str, dict[str, Any]], path: Path) -> bool:
    """Bias +- scatter (dex, against M_total and M(<r_out)) of every method, first comparison of each
    store."""
    plt = figure.pyplot()
    panels = []
    seen = set()
    for name, r in results.items():
        c = r.get("classic")
        if c and "table" in c and (r["campaign"], c.get("split")) not in seen and r["study"] == "paper":
            seen.add((r["campaign"], c.get("split")))
            panels.append((name, c["table"]))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (name, table) in zip(axes[0], panels):
        y = np.arange(len(table))
        for dy, truth, colour in ((-0.15, "M_total", "C0"), (0.15, "M_r_out", "C1")):
            ax.errorbar([e[f"bias_dex_{truth}"] for e in table], y + dy,
                        xerr=[e[f"scatter_dex_{truth}"] for e in table], fmt="o", color=colour, capsize=3,
                        label=f"vs {truth.replace('M_r_out', 'M(<r_out)')}")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y, [e["method"].replace("cnn_", "CNN ") for e in table], fontsize=7)
        views = sorted({e["n_M_total"] for e in table})
        n_views = str(views[0]) if len(views) == 1 else f"{views[0]} to {views[-1]}"
        ax.set(xlabel="bias ± scatter of log10(M_est/M_true) [dex]",
               title=f"{name}: {figure.count(len(table), 'method')} on the same {n_views} views")
        ax.legend(fontsize=7)
    fig.tight_layout()
    figure.save(fig, path)
    return True


def summary_figures(results: dict[str, dict[str, Any]], fig_dir: Path) -> list[str]:
    """Write the summary figures into ``fig_dir``; return their paths relative to its parent."""
    out = []
    accuracy_figure(results, fig_dir / "accuracy_by_experiment.png")
    out.append(f"{fig_dir.name}/accuracy_by_experiment.png")
    if study_figure(results, fig_dir / "ngc_smoothing_scatter.png"):
        out.append(f"{fig_dir.name}/ngc_smoothing_scatter.png")
    if classic_figure(results, fig_dir / "cnn_vs_classic.png"):
        out.append(f"{fig_dir.name}/cnn_vs_classic.png")
    return out
