"""``python -m gcs_hpc.experiments report``: docs/results.md from the results of a runs folder.

Reads ``<runs>/<scale>/*/result.json`` (written by :mod:`gcs_hpc.experiments.runner`) and the campaign
timing files; writes the analogues of the paper's Tables 2 and 3 beside the published values, errors in
dex with bootstrap standard errors, the noise test, the classic estimators on the same held-out
galaxies, the N_gc and smoothing study, the answers to the five questions (:mod:`.answers`), the compute
the paper scale needs, and the figures (PNG, ``docs/figures/``). Nothing is computed here that a result
file does not hold: the report only reads and formats.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.answers import answers
from gcs_hpc.experiments.compute import compute_section
from gcs_hpc.experiments.figures import summary_figures
from gcs_hpc.experiments.paper_values import PAPER_PARAMETERS, PAPER_TABLE
from gcs_hpc.experiments.spec import experiment_names
from gcs_hpc.experiments.tables import f, metric
from gcs_hpc.specs import get_preset
from gcs_hpc.units import TIME_GYR

FIGURES = "figures"
PAPER_RUNS = ("DL1", "DL2", "DL3", "DL4", "DL5", "unknown")


def load_results(runs: Path, scale: str) -> dict[str, dict[str, Any]]:
    """The result files of ``scale`` by experiment name, in the paper's order."""
    folder = Path(runs) / scale
    found = {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/result.json"))}
    if not found:
        raise ConfigError(f"no results under {str(folder)!r}: run python -m gcs_hpc.experiments run all "
                          f"--scale {scale} first")
    order = experiment_names()
    return {k: found[k] for k in sorted(found, key=lambda n: (order.index(n) if n in order else 99, n))}


def _runs_table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| experiment | store (campaign) | models done / failed | by suite | angles | preset | "
             "t_end disk, merger (Gyr) | label range log10 M | epochs | what |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        s, z = r["store_summary"], r["sizes"]
        po = z.get("preset_overrides") or {}
        preset = get_preset(z["preset"])
        t_disk = po.get("t_end_disk", preset.t_end_disk)
        t_merger = po.get("t_end_merger", preset.t_end_merger)
        lo, hi = s.get("label_log10_mass", [None, None])
        lines.append(f"| {name} | {r['campaign']} | {s['done']} / {s['failed']} | "
                     + ", ".join(f"{k} {v}" for k, v in s["done_by_suite"].items())
                     + f" | {s['n_angles']} | {z['preset']} | {t_disk * TIME_GYR:.2f}, "
                       f"{t_merger * TIME_GYR:.2f} | "
                       f"{lo}..{hi} | {z['epochs']} | {r['description']} |")
    return lines


def suite_caveats(results: dict[str, dict[str, Any]]) -> list[str]:
    """Which suites the by-model and by-image nets of experiments sharing a store with the 'unknown'
    suite trained and were tested on (``train_suites`` of their result; absent in results from before
    the suite filter, which used every suite)."""
    shared = {n: r for n, r in results.items()
              if "unknown" in (r.get("suites") or {}) and {x["split"] for x in r["nets"]} - {"suite"}}
    every = sorted(n for n, r in shared.items() if not r.get("train_suites"))
    filtered = sorted(n for n, r in shared.items() if r.get("train_suites"))
    lines = []
    if filtered:
        by = {n: " + ".join(results[n]["train_suites"]) for n in filtered}
        groups = {v: [n for n in filtered if by[n] == v] for v in by.values()}
        lines.append("- " + "; ".join(f"{', '.join(names)} train and test on the {suites} suites only"
                                      for suites, names in groups.items())
                     + " (experiment key train_suites, gcs_hpc.learn.train --suites), as the paper, although "
                     "their store also holds the 'unknown' mergers: those are held out for the 'unknown' "
                     "experiment, which trains on disk + merger and tests on them.")
    if every:
        verb = "uses" if len(every) == 1 else "use"
        lines.append(f"- {', '.join(every)} {verb} a store that also holds the 'unknown' mergers and no "
                     "suite filter, so the by-model and by-image splits draw train and test galaxies from "
                     "all its suites (disk, merger and 'unknown'), unlike the paper.")
    return lines


def _caveats(results: dict[str, dict[str, Any]], scale: str) -> list[str]:
    """What limits the numbers at this scale, from the sizes that ran."""
    sizes = [r["sizes"] for r in results.values()]
    n_models = sorted({z["n_models"] for z in sizes})
    n_test = sorted({m["n_models"] for r in results.values() for n in r["nets"]
                     for m in [n["metrics"].get("0", {})] if m})
    epochs = sorted({z["epochs"] for z in sizes})
    presets = sorted({z["preset"] for z in sizes})
    lines = [f"- Sizes: {', '.join(map(str, n_models))} models per store, {', '.join(presets)} preset, "
             f"{', '.join(map(str, epochs))} epochs (paper: 800-2000 models of ~1e6 particles, 100 angles, "
             f"1000 epochs). Test sets hold {', '.join(map(str, n_test))} galaxies, so the ± errors are "
             "large and "
             "differences of a few hundredths in accuracy are noise."]
    po = sizes[0].get("preset_overrides") or {}
    t_merger = po.get("t_end_merger", get_preset(sizes[0]["preset"]).t_end_merger)
    t_disk = po.get("t_end_disk", get_preset(sizes[0]["preset"]).t_end_disk)
    if t_merger < 10:
        lines.append(f"- Short runs: this scale stops disks after {t_disk:g} and mergers after {t_merger:g} "
                     f"simulation units ({t_disk * TIME_GYR:.2f} and {t_merger * TIME_GYR:.2f} Gyr; the "
                     "paper "
                     "relaxes mergers for up to 20 units), so the 'merger' maps show a primary with an "
                     "approaching companion, not a relaxed remnant, and the GCS kinematics are close to "
                     "their "
                     "initial equilibrium.")
    lines += suite_caveats(results)
    lines.append("- The masses span the stores' label ranges (about two decades in M_total: M_halo is drawn "
                 "log-uniformly in 1e11..1e13 Msun), so an accuracy of 1 - mean|E_i| punishes "
                 "over-prediction "
                 "much more than under-prediction; the dex columns are the symmetric measure, and the "
                 "predict-the-mean baseline shows what no skill scores.")
    return lines


def _table2(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| run | data | net | split | test galaxies / images | acc 1ch | acc 2ch | paper acc 1ch | "
             "paper acc 2ch | paper images |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in PAPER_RUNS:
        if name not in results:
            continue
        r = results[name]
        p = PAPER_TABLE.get(name)
        for split in _splits(r):
            data = _data_of(r, split)
            m1 = metric(r, split, 1)
            n = f"{m1['n_models']} / {m1['n_images']}" if m1 else "-"
            lines.append(f"| {name} | {data} | {r['net']} | {split} | {n} | "
                         f"{_acc(r, split, 1)} | {_acc(r, split, 2)} | "
                         + (f"{p['acc'][0]:.3f} | {p['acc'][1]:.3f} | {p['images']:,} |" if p
                            else "- | - | - |"))
    return lines


def _data_of(r: dict[str, Any], split: str) -> str:
    """The suites a split's nets trained and were tested on (the 'suite' split: train -> test)."""
    if split == "suite":
        return "disk, merger -> unknown"
    return ", ".join(r.get("train_suites") or r["store_summary"]["done_by_suite"])


def _table3(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| run | split | MAE 1ch | MAE 2ch | RMSE 1ch | RMSE 2ch | paper MAE 1ch | paper MAE 2ch | "
             "paper RMSE 1ch | paper RMSE 2ch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in PAPER_RUNS:
        if name not in results:
            continue
        r, p = results[name], PAPER_TABLE.get(name)
        for split in _splits(r):
            ours = " | ".join(f(metric(r, split, c), k) for k in ("mae", "rmse") for c in (1, 2))
            paper = (" | ".join(f"{p[k][c]:.3f}" for k in ("mae", "rmse") for c in (0, 1)) if p else
                     "- | - | - | -")
            lines.append(f"| {name} | {split} | {ours} | {paper} |")
    return lines


def _dex_table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| experiment | split | bias 1ch | scatter 1ch | bias 2ch | scatter 2ch | median abs E 2ch | "
             "predict-the-mean: acc, scatter |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        for split in _splits(r):
            m1, m2 = metric(r, split, 1), metric(r, split, 2)
            base = (m2 or m1 or {}).get("baseline_mean")
            lines.append(f"| {name} | {split} | {f(m1, 'bias_dex', '+.3f')} | {_pm(m1, 'scatter_dex')} | "
                         f"{f(m2, 'bias_dex', '+.3f')} | {_pm(m2, 'scatter_dex')} | "
                         f"{f(m2, 'median_abs_error')} | "
                         + (f"{base['accuracy']:.3f}, {base['scatter_dex']:.3f} |" if base else "- |"))
    return lines


def _noise_table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| net | trained with noise | split | test maps | acc 1ch | acc 2ch | scatter 1ch (dex) | "
             "scatter 2ch (dex) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        levels = r.get("eval_noise_kms", [0.0])
        if len(levels) < 2:
            continue
        for split in _splits(r):
            for noise in levels:
                key = f"{noise:g}"
                lines.append(f"| {name} ({r['net']}) | {r['noise_kms']:g} km/s | {split} | "
                             f"{'clean' if noise == 0 else f'{noise:g} km/s noise'} | "
                             f"{_acc(r, split, 1, key)} | {_acc(r, split, 2, key)} | "
                             f"{_pm(metric(r, split, 1, key), 'scatter_dex')} | "
                             f"{_pm(metric(r, split, 2, key), 'scatter_dex')} |")
    return lines


def _classic_tables(results: dict[str, dict[str, Any]]) -> list[str]:
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for name, r in results.items():
        c = r.get("classic")
        if not c:
            continue
        if "table" not in c:
            out += [f"- {name}: classic estimators not run ({c.get('error') or c.get('skipped')})", ""]
            continue
        key = (r["campaign"], c.get("split"))
        first = key not in seen
        seen.add(key)
        rows = [e for e in c["table"] if first or e["method"].startswith("cnn_")]
        out += [f"**{name}** (store {r['campaign']}, {c.get('split')} split: {len(c['models'])} held-out "
                f"galaxies x {len(c['views'])} views = {c['n_rows']} projections"
                + ("" if first else "; classic estimators as in the table above") + ")", "",
                "| method | n | bias vs M_total | scatter vs M_total | bias vs M(<r_out) | scatter vs "
                "M(<r_out) |",
                "|---|---|---|---|---|---|"]
        for e in rows:
            out.append(f"| {e['method']} | {e['n_M_total']} | {e['bias_dex_M_total']:+.3f} | "
                       f"{e['scatter_dex_M_total']:.3f} | {e['bias_dex_M_r_out']:+.3f} | "
                       f"{e['scatter_dex_M_r_out']:.3f} |")
        out.append("")
    return out


def _study_table(results: dict[str, dict[str, Any]], study: str, label: str) -> list[str]:
    lines = [f"| experiment | {label} | test galaxies | acc 1ch | acc 2ch | scatter 1ch (dex) | "
             "scatter 2ch (dex) | bias 2ch (dex) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        if r["study"] != study and not (study == "smoothing" and name == "ngc200"):
            continue
        value = (r["suites"].get("disk", {}) or {}).get("n_gc", 200) if study == "n_gc" else \
            f"{(r['maps'] or {}).get('smoothing', 0.12):g} R_d"
        m1, m2 = metric(r, "model", 1), metric(r, "model", 2)
        lines.append(f"| {name} | {value} | {f(m2 or m1, 'n_models', 'd')} | {_acc(r, 'model', 1)} | "
                     f"{_acc(r, 'model', 2)} | {_pm(m1, 'scatter_dex')} | {_pm(m2, 'scatter_dex')} | "
                     f"{f(m2, 'bias_dex', '+.3f')} |")
    return lines


def _splits(r: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(n["split"] for n in r["nets"]))


def _acc(r: dict[str, Any], split: str, channels: int, noise: str = "0") -> str:
    return _pm(metric(r, split, channels, noise), "accuracy")


def _pm(m: dict[str, Any] | None, key: str) -> str:
    if not m or m.get(key) is None:
        return "-"
    se = m.get(f"{key}_se")
    return f"{m[key]:.3f}" + (f" ± {se:.3f}" if se is not None else "")


def _copy_figures(results: dict[str, dict[str, Any]], fig_dir: Path) -> list[str]:
    lines = []
    for name, r in results.items():
        if r["study"] != "paper":
            continue
        for split, folder in r.get("eval_dirs", {}).items():
            for png in sorted(Path(folder).glob("*.png")):
                target = fig_dir / f"{name}_{split}_{png.name}"
                shutil.copyfile(png, target)
                lines.append(f"{FIGURES}/{target.name}")
    return lines


def write_report(runs: Path, scale: str, out: Path) -> Path:
    """Write the Markdown report ``out`` and its figures (``<out dir>/figures``); return ``out``."""
    results = load_results(runs, scale)
    out = Path(out)
    fig_dir = out.parent / FIGURES
    fig_dir.mkdir(parents=True, exist_ok=True)
    summary = summary_figures(results, fig_dir)
    copied = _copy_figures(results, fig_dir)
    missing = [n for n in experiment_names() if n not in results]
    params = {r["net"]: n["train"].get("parameters") for r in results.values() for n in r["nets"]
              if n["channels"] == 2}
    lines = [
        "# Results: the paper's experiments with gcs_hpc",
        "",
        f"Scale **{scale}**, written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by "
        f"`python -m gcs_hpc.experiments report --scale {scale}` from `{runs}/{scale}/*/result.json` "
        f"(made by `python -m gcs_hpc.experiments run all --scale {scale}`). Paper: Kaur, Bekki, Hassan & "
        "Datta (2021), MNRAS 508, 868, Tables 2 and 3 (their 80/20 split *by image*).",
        "",
        "Experiments run: " + ", ".join(results) + "." + (f" **Not run at this scale: {', '.join(missing)}.**"
                                                          if missing else ""),
        "",
        "Accuracy is 1 - mean |E_i| with E_i = (M_p - M_c)/M_c per test image; MAE and RMSE are on the 0..10 "
        "label scale (label = 10 (log10 M - lo)/(hi - lo), lo and hi from each store's attributes, so MAE "
        "values of stores with different mass ranges are not directly comparable; the paper does not state "
        "its range); bias and scatter are the mean and standard deviation of log10(M_p/M_c) in dex. "
        "± values are standard errors from a bootstrap over the test *galaxies* (the views of one galaxy "
        "are "
        "not independent). The `model` split keeps every view of a test galaxy out of training; `image` is "
        "the paper's random 80/20 split of images (views of one galaxy in both sets); `suite` trains on "
        "the disk and merger suites and tests on the 'unknown' suite.",
        "",
        "## What ran",
        "",
        *_runs_table(results),
        "",
        "Caveats at this scale:",
        "",
        *_caveats(results, scale),
        "",
        "Net parameter counts (2 channels): " + ", ".join(f"{k} {v:,} (paper {PAPER_PARAMETERS.get(k, 0):,})"
                                                          for k, v in params.items() if v) + ".",
        "",
        "## Answers",
        "",
        *answers(results),
        "",
        "## Table 2 analogue: accuracy",
        "",
        *_table2(results),
        "",
        "## Table 3 analogue: MAE and RMSE (label scale 0..10)",
        "",
        *_table3(results),
        "",
        "## Errors in dex",
        "",
        *_dex_table(results),
        "",
        "## Noise",
        "",
        "Test maps with Gaussian noise of the given sd added to every pixel of both channels (seeded, the "
        "same noisy maps for every net). The paper's DL5 fell to 0.81.",
        "",
        *_noise_table(results),
        "",
        "## CNN against the classic estimators on the same held-out galaxies",
        "",
        "Held-out galaxies of the split named (the first few of its test set), re-evolved exactly as the "
        "campaign ran them (`gcs_hpc.experiments.compare`) and seen along a few of the store's viewing angles. "
        "CNN rows (`cnn_<channels>ch_<net folder>`) predict M_total from the stored map of that view; the "
        "classic estimators (tracer mass estimator of Watkins, Evans & An 2010 with alpha = 0, with and "
        "without rotation; projected mass estimator of Heisler, Tremaine & Bahcall 1985, isotropic and "
        "radial; virial) weigh the GCs of that projection. Their natural target is the mass inside the "
        "outermost GC radius, M(<r_out); the CNN's is M_total: both columns are given.",
        "",
        *_classic_tables(results),
        "## N_gc and smoothing length (isolated disks, 2-conv net, by-model split)",
        "",
        "The paper shows these only as maps (its figure 4) and gives no accuracies; ngc200 uses DL1's store. "
        "Smoothing is the Gaussian sigma: 0.12 R_d (one pixel, our default), 2.5 R0 = 0.5 R_d and 5 R0 = "
        "1.0 R_d.",
        "",
        *_study_table(results, "n_gc", "N_gc"),
        "",
        *_study_table(results, "smoothing", "R_sm"),
        "",
        "## Compute",
        "",
        *compute_section(results, runs, scale),
        "",
        "## Figures",
        "",
        *[f"![{Path(p).stem}]({p})" for p in summary],
        "",
        "Per experiment (learn's figures 5 to 7: predicted vs true mass in 20 bins, histograms of E_i and "
        "cumulative |E_i| for one against two channels):",
        "",
        *[f"- [{Path(p).stem}]({p})" for p in copied],
        "",
    ]
    from gcs_hpc.experiments.workstation_report import BEGIN, END

    old = out.read_text() if out.is_file() else ""
    if BEGIN in old and END in old:  # keep the workstation section (python -m gcs_hpc.experiments workstation)
        lines += ["", old[old.index(BEGIN):old.index(END) + len(END)]]
    out.write_text("\n".join(lines))
    return out
