"""The workstation section of docs/results.md, from ``<runs>/workstation/analysis.json``.

The section sits between two marker lines (:data:`BEGIN`, :data:`END`); writing it replaces only what is
between them (or appends it), so the laptop-scale report around it stays as it is.
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

BEGIN = "<!-- workstation:begin (python -m gcs_hpc.experiments workstation report) -->"
END = "<!-- workstation:end -->"
#: The goal of issue 16: CNN scatter at most this fraction of the best calibrated classic estimator's.
GOAL_RATIO = 0.5
TARGET_NAMES = {"M_total": "M_total", "M_5r_half": "M(<5 R_half)"}
SETTING_NAMES = {"ideal": "observation model off (the store's ideal maps, all GCs)",
                 "observed": "observation model on (SLUGGS-like N_GC, velocity errors, coverage, "
                             "interlopers)"}


def _f(v: Any, fmt: str = ".3f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, fmt)


def _utc(t: float) -> str:
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def compute_lines(a: dict[str, Any]) -> list[str]:
    """What ran where, and for how long."""
    lines = [f"Machine: {a['machine']}, shared with other work (the campaign ran at `nice -n 19`)."]
    for s in a.get("campaign_sessions", []):
        hours = (s["end_utc"] - s["start_utc"]) / 3600
        n = s["done_end"] - s["done_start"]
        rate = n / hours if hours > 0 else float("nan")
        lines.append(f"- campaign session ({s['preset']} preset, {s.get('workers', '?')} workers): "
                     f"{_utc(s['start_utc'])} to {_utc(s['end_utc'])}, {n} models in {hours:.2f} h "
                     f"({rate:.0f} models/h, "
                     f"{3600 * s.get('workers', 1) / rate if rate else float('nan'):.1f}"
                     " worker-s per model on average, disks and mergers together)")
    c = a["curves"]
    lines.append(f"- analysis: {a['analysis_wall_s'] / 60:.1f} min (learning curves "
                 + ", ".join(f"{k} {v['wall_s'] / 60:.1f} min" for k, v in c.items())
                 + (f", SLUGGS {a['sluggs']['wall_s']:.0f} s" if "wall_s" in a.get("sluggs", {}) else "")
                 + ")")
    return lines


def curve_table(c: dict[str, Any], target: str) -> list[str]:
    """One row per training size: CNN bias/scatter/coverage, best calibrated classic scatter, ratio."""
    lines = ["| training galaxies | CNN bias | CNN scatter | CNN coverage 68% / 95% | best calibrated "
             "classic (scatter) | CNN / best classic |", "|---|---|---|---|---|---|"]
    for r in c["curves"][target]:
        best = min(((k, v["scatter"]) for k, v in r["classic"].items() if np.isfinite(v["scatter"])),
                   key=lambda kv: kv[1], default=None)
        cnn = r["cnn"]
        ratio = cnn["scatter"] / best[1] if best else float("nan")
        lines.append(f"| {r['n_train']} | {cnn['bias']:+.3f} | {cnn['scatter']:.3f} | "
                     f"{_f(cnn['coverage_68'], '.2f')} / {_f(cnn['coverage_95'], '.2f')} | "
                     + (f"{best[0]} ({best[1]:.3f})" if best else "n/a") + f" | {_f(ratio, '.2f')} |")
    return lines


def classic_table(c: dict[str, Any], target: str) -> list[str]:
    """Every classic estimator at the largest N: constant, bias and scatter after it."""
    r = c["curves"][target][-1]
    lines = ["| estimator | calibration constant (dex) | held-out bias | held-out scatter | views |",
             "|---|---|---|---|---|"]
    for name, v in r["classic"].items():
        lines.append(f"| {name} | {v['offset']:+.3f} | {v['bias']:+.3f} | {v['scatter']:.3f} | {v['n']} |")
    return lines


def goal_lines(a: dict[str, Any]) -> list[str]:
    """The verdict against the goal, per setting and target, at the largest N."""
    out = []
    for setting, c in a["curves"].items():
        for target, rows in c["curves"].items():
            r = rows[-1]
            best = min(((k, v["scatter"]) for k, v in r["classic"].items() if np.isfinite(v["scatter"])),
                       key=lambda kv: kv[1], default=None)
            if best is None:
                continue
            ratio = r["cnn"]["scatter"] / best[1]
            n_rows = [x["n_train"] for x in rows]
            s_rows = [x["cnn"]["scatter"] for x in rows]
            slope = (np.polyfit(np.log10(n_rows), np.log10(s_rows), 1)[0] if len(rows) >= 3 else float("nan"))
            out.append(f"- {SETTING_NAMES[setting].split(' (')[0]}, {TARGET_NAMES[target]}: CNN scatter "
                       f"{r['cnn']['scatter']:.3f} dex vs {best[0]} {best[1]:.3f} dex at N = {r['n_train']}: "
                       f"ratio {ratio:.2f} (goal <= {GOAL_RATIO}: "
                       + ("met" if ratio <= GOAL_RATIO else "not met") + f"); coverage 68/95 "
                       f"{_f(r['cnn']['coverage_68'], '.2f')}/{_f(r['cnn']['coverage_95'], '.2f')}; "
                       f"log-log slope of scatter vs N {_f(slope, '.2f')}"
                       + _extrapolation(slope, r["n_train"], r["cnn"]["scatter"], GOAL_RATIO * best[1]))
    return out


def _extrapolation(slope: float, n: int, scatter: float, goal: float) -> str:
    """If the scatter kept falling as N^slope: the training galaxies the goal would need (a power law
    fitted to a few points; an indication, not a promise)."""
    if not np.isfinite(slope) or scatter <= goal:
        return ""
    need = n * (goal / scatter) ** (1.0 / slope) if slope < 0 else float("inf")
    if need > 1.0e6:
        return ("; the curve is too flat for more galaxies alone to reach the goal (> 10^6 needed at this "
                "slope)")
    return f"; at that slope the goal needs ~{need:,.0f} training galaxies"


def section(a: dict[str, Any], figure_prefix: str) -> list[str]:
    """The Markdown section."""
    from gcs_hpc.experiments.sluggs import markdown_table

    lines = [BEGIN, "", "## Workstation scale: relaxed models, learning curves, SLUGGS", "",
             "Regenerate: `python -m gcs_hpc.experiments workstation all --runs runs` (campaign, resumable; "
             "analysis of the models done; this section). `... workstation analyse` and `... workstation "
             "report` redo only the later steps.", "",
             f"Scale reached: **{a['n_done']} of {a.get('n_models', 2000)}** tiny-preset models done in the "
             "store "
             f"(disks to t = 5, mergers to t = 20); the studies use the {a['n_used']} done disks and mergers "
             f"({', '.join(f'{k} {v}' for k, v in a['by_suite'].items())}); the unknown mergers stay out as "
             "in "
             "DL3-DL5.", "", *compute_lines(a), "", "### Against the goal", "", *goal_lines(a), ""]
    frac = a.get("gc_fraction_in_field")
    if frac:
        lines += ["The maps see part of each GC system: the median share of a galaxy's GCs inside the field "
                  "of "
                  f"view is {frac['ideal']:.2f} for the store's maps and {frac['observed']:.2f} for the "
                  "observation model's (before its N_GC draw); the classic estimators of M_total weigh every "
                  "GC "
                  "(of M(<5 R_half): those inside 5 R_half).", ""]
    for setting, c in a["curves"].items():
        lines += [f"### Learning curve, {SETTING_NAMES[setting]}", "",
                  f"{c['n_test_galaxies']} held-out galaxies x {len(c['views'])} views; ensembles of "
                  f"{c['fit']['members']} {c['fit']['arch']} nets ({c['fit']['head']} head, "
                  f"{c['fit']['channels']} channels, {c['fit']['steps']} steps of {c['fit']['batch_size']}); "
                  "classic estimators calibrated by one constant fitted on the same training galaxies.", "",
                  f"![learning curve {setting}]({figure_prefix}learning_curve_{setting}.png)", ""]
        for target in c["curves"]:
            lines += [f"**{TARGET_NAMES[target]}**", "", *curve_table(c, target), "",
                      *classic_table(c, target), ""]
    sl = a.get("sluggs", {})
    lines += ["### SLUGGS galaxies (Forbes et al. 2017)", ""]
    if "rows" in sl:
        names = sorted({k for r in sl["rows"] if "classic" in r for k in r["classic"]})
        lines += ["CNN: the observation-model ensembles at the largest N (maps 8 R_e wide, R_e in kpc as the "
                  "scale input). Classic: GCs inside 5 R_e, outer radius 5 R_e, raw (calibrated with the "
                  "constant fitted on the simulations). log10 Msun.", "",
                  *markdown_table(sl["rows"], names), "", f"![SLUGGS]({figure_prefix}sluggs.png)", ""]
    else:
        lines += [f"Not run: {sl.get('skipped')}", ""]
    res = a.get("resolution", {})
    lines += ["### Resolution check (tiny vs quick twins)", ""]
    if "targets" in res:
        lines += [f"{res['n_twins']} galaxies with twins; differences quick minus tiny, dex:", "",
                  "| target | CNN bias change | CNN scatter change | classic scatter changes | true mass "
                  "difference (mean, scatter) |", "|---|---|---|---|---|"]
        for t, e in res["targets"].items():
            cl = "; ".join(f"{k} {v['scatter']:+.3f}" for k, v in e["delta"]["classic"].items())
            tr = e["truth_quick_minus_tiny"]
            lines.append(f"| {TARGET_NAMES[t]} | {e['delta']['cnn']['bias']:+.3f} | "
                         f"{e['delta']['cnn']['scatter']:+.3f} | {cl} | {_f(tr['bias'], '+.3f')}, "
                         f"{_f(tr['scatter'])} |")
        lines.append("")
    else:
        lines += [f"Not run: {res.get('skipped')}", ""]
    lines += [END]
    return lines


def write_section(runs: str | Path, out: str | Path = "docs/results.md") -> Path:
    """Write the section into ``out`` (figures copied to ``<out dir>/figures/workstation/``)."""
    runs, out = Path(runs), Path(out)
    a = json.loads((runs / "workstation" / "analysis.json").read_text())
    fig_dir = out.parent / "figures" / "workstation"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for png in (runs / "workstation" / "figures").glob("*.png"):
        shutil.copyfile(png, fig_dir / png.name)
    text = "\n".join(section(a, "figures/workstation/")) + "\n"
    old = out.read_text() if out.is_file() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + text.rstrip("\n") + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + ("\n\n" if old else "") + text
    out.write_text(new)
    return out
