"""Every SLUGGS galaxy through the observation pipeline: CNN M(<5 R_e) and M_total with intervals beside
the classic estimators' M(<5 R_e), galaxy by galaxy (data: Forbes et al. 2017, AJ 153, 114).

The nets are the ensembles trained on maps drawn under the observation model (the SLUGGS model by
default: maps 8 R_half wide in units of the projected half-mass radius, the scale R_half in kpc as a
second input), so a real galaxy needs only its measured effective radius R_e: no guessed disk size.
Each galaxy's catalogue is projected (:func:`gcs_hpc.observe.project.project_catalog`) and binned with
the same map maker (:func:`gcs_hpc.observe.observed_maps.make_observed_maps`, empty pixels 0 km/s as in
training). The classic estimators weigh the GCs inside 5 R_e with the outer radius 5 R_e and their
velocity errors (bootstrap 68% intervals), raw and with the constant calibration fitted on the
simulated training galaxies for the same target.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from gcs_hpc import figure
from gcs_hpc.errors import GcsError
from gcs_hpc.experiments.fit import FitConfig, predict_ensemble
from gcs_hpc.experiments.sample import estimators_within

#: The classic estimators and the CNN's enclosed-mass target use this many R_e.
R_E_FACTOR = 5.0
#: Fewest GCs inside the map's field for a galaxy to be mapped (the observation model's lowest n_gc).
MIN_GCS = 20


def _posterior_row(pred: Any) -> dict[str, Any]:
    med = float(pred.median()[0])
    row = {"median_log10": med}
    for level in (0.68, 0.95):
        lo, hi = pred.interval(level)
        row[f"interval_{round(100 * level)}_log10"] = [float(lo[0]), float(hi[0])]
    return row


def run_sluggs(catalog_path: str | Path, galaxies_path: str | Path, nets: dict[str, list[Any]],
               label_ranges: dict[str, tuple[float, float]], fit: FitConfig, map_spec: Any,
               offsets: dict[str, float] | None = None, n_bootstrap: int = 200,
               log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """One row per galaxy of the catalogue: CNN posteriors (``cnn[target]``), classic M(<5 R_e) (raw,
    68% bootstrap interval, calibrated with ``offsets[name]`` dex), or ``skipped`` with the reason."""
    from gcs_hpc.observe.catalog import read_catalog
    from gcs_hpc.observe.galaxies import find_galaxy, read_galaxy_table
    from gcs_hpc.observe.observed_maps import make_observed_maps
    from gcs_hpc.observe.project import project_catalog

    catalog = read_catalog(catalog_path)
    table = read_galaxy_table(galaxies_path)
    rows = []
    for name in catalog.galaxies:
        row: dict[str, Any] = {"galaxy": name}
        try:
            gcs_cat = catalog.for_galaxy(name)
            galaxy = find_galaxy(table, name, source=repr(str(galaxies_path)))
            r_e = galaxy.r_eff_kpc
            gcs = project_catalog(gcs_cat, galaxy)
            row.update({"n_gc": len(gcs), "r_eff_kpc": r_e, "distance_mpc": galaxy.distance_mpc,
                        "R_max_over_R_e": float(np.max(gcs.R_kpc) / r_e)})
            observed = make_observed_maps(gcs, galaxy, map_spec, min_gcs=MIN_GCS)
            image = observed.filled("T1")[None]
            row["n_in_field"] = observed.n_in_field
            scale = None if map_spec.fov_unit == "R_d" else np.array([np.log10(observed.scale_kpc)])
            row["cnn"] = {t: _posterior_row(predict_ensemble(m, image, label_ranges[t], fit, scale))
                          for t, m in nets.items()}
            r_out = R_E_FACTOR * r_e
            inside = gcs.R_kpc <= r_out
            row["n_inside_5re"] = int(inside.sum())
            classic = {}
            for label, est in estimators_within(r_out).items():
                try:
                    e = est.estimate(gcs.x_kpc[inside], gcs.y_kpc[inside], gcs.v_los_kms[inside],
                                     gcs.v_err_kms[inside], n_bootstrap=n_bootstrap, seed=0)
                except (GcsError, ValueError) as exc:
                    classic[label] = {"error": str(exc)}
                    continue
                log_m = float(np.log10(e.mass_msun)) if e.mass_msun > 0 else float("nan")
                off = (offsets or {}).get(label, float("nan"))
                classic[label] = {"log10": log_m, "p16_log10": _log(e.mass_p16_msun),
                                  "p84_log10": _log(e.mass_p84_msun),
                                  "calibrated_log10": log_m + off if np.isfinite(off) else None}
            row["classic"] = classic
        except GcsError as exc:
            row["skipped"] = str(exc)
        rows.append(row)
        if "skipped" in row:
            log(f"sluggs {name}: skipped ({row['skipped']})")
        else:
            m5 = row["cnn"].get("M_5r_half", {}).get("median_log10")
            log(f"sluggs {name}: {row['n_gc']} GCs, CNN log M(<5 R_e) {m5 if m5 is None else round(m5, 2)}")
    return rows


def _log(value: float) -> float:
    return float(np.log10(value)) if np.isfinite(value) and value > 0 else float("nan")


def markdown_table(rows: list[dict[str, Any]], classic_names: list[str]) -> list[str]:
    """The galaxy-by-galaxy table (log10 Msun; CNN median and 68% interval)."""
    head = ("| galaxy | N_GC | R_e (kpc) | CNN log M(<5 R_e) [68%] | "
            + " | ".join(f"{n} (cal.)" for n in classic_names) + " | CNN log M_total [68%] |")
    lines = [head, "|" + "---|" * (5 + len(classic_names))]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['galaxy']} | {r.get('n_gc', '')} | | skipped: {r['skipped'][:90]} |"
                         + " |" * len(classic_names) + " |")
            continue
        cells = [r["galaxy"], str(r["n_gc"]), f"{r['r_eff_kpc']:.1f}"]
        for t in ("M_5r_half",):
            c = r["cnn"].get(t)
            cells.append("" if c is None else f"{c['median_log10']:.2f} [{c['interval_68_log10'][0]:.2f}, "
                                              f"{c['interval_68_log10'][1]:.2f}]")
        for n in classic_names:
            c = r["classic"].get(n, {})
            if "log10" not in c:
                cells.append("n/a")
                continue
            cal = c.get("calibrated_log10")
            cells.append(f"{c['log10']:.2f}" + ("" if cal is None else f" ({cal:.2f})"))
        c = r["cnn"].get("M_total")
        cells.append("" if c is None else f"{c['median_log10']:.2f} [{c['interval_68_log10'][0]:.2f}, "
                                          f"{c['interval_68_log10'][1]:.2f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_sluggs(rows: list[dict[str, Any]], path: str | Path) -> str:
    """CNN M(<5 R_e) with 68% intervals and the classic estimators (raw), galaxy by galaxy; CNN M_total;
    return the title (galaxies and classic estimates drawn)."""
    plt = figure.pyplot()
    done = [r for r in rows if "skipped" not in r and "M_5r_half" in r["cnn"]]
    done.sort(key=lambda r: r["cnn"]["M_5r_half"]["median_log10"])
    x = np.arange(len(done))
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.45 * len(done) + 2), 8), constrained_layout=True,
                             sharex=True)
    ax = axes[0]
    med = np.array([r["cnn"]["M_5r_half"]["median_log10"] for r in done])
    lo = np.array([r["cnn"]["M_5r_half"]["interval_68_log10"][0] for r in done])
    hi = np.array([r["cnn"]["M_5r_half"]["interval_68_log10"][1] for r in done])
    ax.errorbar(x, med, yerr=[med - lo, hi - med], fmt="o", color="k", label="CNN ensemble (68%)")
    names = sorted({k for r in done for k, v in r["classic"].items() if "log10" in v})
    for k, name in enumerate(names):
        ax.plot(x + 0.12 * (k + 1), [r["classic"].get(name, {}).get("log10", np.nan) for r in done],
                "^", color=f"C{k}", label=f"{name} (raw)")
    ax.set_ylabel("log10 M(<5 R_e) / Msun")
    ax.legend(fontsize=7, ncol=3)
    ax = axes[1]
    if all("M_total" in r["cnn"] for r in done):
        med = np.array([r["cnn"]["M_total"]["median_log10"] for r in done])
        lo = np.array([r["cnn"]["M_total"]["interval_68_log10"][0] for r in done])
        hi = np.array([r["cnn"]["M_total"]["interval_68_log10"][1] for r in done])
        ax.errorbar(x, med, yerr=[med - lo, hi - med], fmt="s", color="C3", label="CNN M_total (68%)")
        ax.legend(fontsize=8)
    ax.set_ylabel("log10 M_total / Msun")
    ax.set_xticks(x, [r["galaxy"] for r in done], rotation=70, fontsize=8)
    n_classic = sum("log10" in r["classic"].get(name, {}) for r in done for name in names)
    fig.suptitle(f"SLUGGS galaxies (Forbes et al. 2017): CNN masses of {len(done)} of "
                 f"{figure.count(len(rows), 'galaxy', 'galaxies')}, "
                 f"{figure.count(n_classic, 'classic estimate')}")
    return figure.save(fig, path)
