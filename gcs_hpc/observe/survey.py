"""What a real survey sees: per galaxy, the number of GCs with velocities, their velocity errors and
radial extent; the figures behind the observation model's SLUGGS defaults (``configs/observation/
sluggs.yaml``), written to ``docs/observations.md``.

CLI (regenerates the page from the catalogues; Forbes et al. 2017, AJ 153, 114)::

    python -m gcs_hpc.observe.survey [--catalog ../shared/data/forbes2017_gc_velocities.tsv] \
        [--galaxies ../shared/data/forbes2017_galaxies.tsv] [--out docs/observations.md]

Per galaxy: ``n_gc`` (GCs with a velocity), the median velocity error and the spread of the errors
(standard deviation of log10 error, dex), the effective radius R_e, and the projected radii of the
GCs (innermost, median, outermost) in kpc and in R_e. The survey summary gives the quantiles over
galaxies that :func:`suggested_observation` turns into an observation model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc.errors import GcsError
from gcs_hpc.observe.catalog import GCCatalog, read_catalog
from gcs_hpc.observe.galaxies import Galaxy, find_galaxy, read_galaxy_table
from gcs_hpc.observe.project import project_catalog

DEFAULT_DATA = Path("..") / "shared" / "data"
DEFAULT_CATALOG = DEFAULT_DATA / "forbes2017_gc_velocities.tsv"
DEFAULT_GALAXIES = DEFAULT_DATA / "forbes2017_galaxies.tsv"


def galaxy_figures(catalog: GCCatalog, galaxy: Galaxy) -> dict[str, Any]:
    """The figures of one galaxy's GCs (see the module notes); radii in kpc and R_e."""
    gcs = project_catalog(catalog.for_galaxy(galaxy.name), galaxy)
    radius = gcs.R_kpc
    err = gcs.v_err_kms
    positive = err[err > 0]
    r_eff = galaxy.r_eff_kpc
    return {"galaxy": galaxy.name, "n_gc": len(gcs), "v_err_median_kms": float(np.median(err)),
            "v_err_spread_dex": float(np.std(np.log10(positive))) if len(positive) > 1 else 0.0,
            "r_eff_kpc": r_eff, "r_min_kpc": float(radius.min()), "r_median_kpc": float(np.median(radius)),
            "r_max_kpc": float(radius.max()), "r_min_re": float(radius.min() / r_eff),
            "r_median_re": float(np.median(radius) / r_eff), "r_max_re": float(radius.max() / r_eff)}


def survey(catalog: GCCatalog, galaxies: dict[str, Galaxy]) -> list[dict[str, Any]]:
    """:func:`galaxy_figures` of every galaxy of the catalogue, sorted by name."""
    return [galaxy_figures(catalog, find_galaxy(galaxies, name)) for name in sorted(catalog.galaxies)]


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Quantiles over the galaxies: N_gc (min, 10%, median, 90%, max), the median of the galaxies'
    median errors and spreads, and the medians of their innermost and outermost radii in R_e."""
    n = np.array([r["n_gc"] for r in rows])
    med = {k: float(np.median([r[k] for r in rows])) for k in
           ("v_err_median_kms", "v_err_spread_dex", "r_min_re", "r_median_re", "r_max_re", "r_max_kpc")}
    return {"n_galaxies": len(rows), "n_gc_total": int(n.sum()),
            "n_gc_quantiles": [float(q) for q in np.percentile(n, [0, 10, 50, 90, 100])],
            "v_err_median_range_kms": [min(r["v_err_median_kms"] for r in rows),
                                       max(r["v_err_median_kms"] for r in rows)], **{f"median_{k}": v
                                                                                    for k, v in med.items()}}


def suggested_observation(stats: dict[str, Any]) -> dict[str, Any]:
    """Observation-model values from the survey summary: N_gc between the 10% and 90% quantiles rounded
    outwards to 10, lognormal errors at the median median and median spread, coverage from the median
    innermost to the median outermost radius in R_e (one decimal, and whole R_e outside)."""
    lo, hi = stats["n_gc_quantiles"][1], stats["n_gc_quantiles"][3]
    return {"n_gc": [int(10 * np.floor(lo / 10)), int(10 * np.ceil(hi / 10))],
            "v_err_median_kms": round(stats["median_v_err_median_kms"], 1),
            "v_err_spread_dex": round(stats["median_v_err_spread_dex"], 2),
            "r_inner": round(stats["median_r_min_re"], 1), "r_outer": float(round(stats["median_r_max_re"]))}


def render(rows: Sequence[dict[str, Any]], catalog_path: str, galaxies_path: str) -> str:
    """docs/observations.md as Markdown text."""
    stats = summary(rows)
    sug = suggested_observation(stats)
    q = stats["n_gc_quantiles"]
    lines = [
        "# What SLUGGS sees: the observation model's defaults",
        "",
        "Regenerate with `python -m gcs_hpc.observe.survey --out docs/observations.md` (reads "
        f"`{catalog_path}` and `{galaxies_path}`: Forbes et al. 2017, AJ 153, 114, the SLUGGS survey; cite "
        "it wherever these figures are used). One galaxy of the survey (NGC 3115) is withheld from the data.",
        "",
        "Training maps are made from each model's GC phase space under an observation model "
        "(`gcs_hpc.maps.observation`, `configs/observation/*.yaml`, `--observation` of "
        "`python -m gcs_hpc.learn.train`). `configs/observation/sluggs.yaml` takes its figures from the "
        "table below; `ideal.yaml` is the paper's (every GC, exact velocities).",
        "",
        "## Survey summary",
        "",
        f"- {stats['n_galaxies']} galaxies, {stats['n_gc_total']} GCs with velocities.",
        f"- GCs per galaxy: min {q[0]:.0f}, 10% {q[1]:.0f}, median {q[2]:.0f}, 90% {q[3]:.0f}, "
        f"max {q[4]:.0f}.",
        f"- Velocity errors: per-galaxy medians {stats['v_err_median_range_kms'][0]:.1f} to "
        f"{stats['v_err_median_range_kms'][1]:.1f} km/s (median {stats['median_v_err_median_kms']:.1f}); "
        f"spread of log10 error within a galaxy, median {stats['median_v_err_spread_dex']:.2f} dex.",
        f"- Radial extent (projected): innermost GC at a median {stats['median_r_min_re']:.2f} R_e, median "
        f"GC at {stats['median_r_median_re']:.2f} R_e, outermost at {stats['median_r_max_re']:.1f} R_e "
        f"({stats['median_r_max_kpc']:.0f} kpc).",
        "",
        "Suggested observation model (`suggested_observation`): "
        f"`n_gc: {sug['n_gc']}`, `v_err: lognormal`, `v_err_median_kms: {sug['v_err_median_kms']}`, "
        f"`v_err_spread_dex: {sug['v_err_spread_dex']}`, `radius_unit: R_half`, `r_inner: {sug['r_inner']}`, "
        f"`r_outer: {sug['r_outer']}`. The interloper fraction (2%, 300 km/s) is an assumption, not a "
        "measurement: the catalogues are cleaned of obvious contaminants.",
        "",
        "## Per galaxy",
        "",
        "| galaxy | N_gc | median err (km/s) | spread (dex) | R_e (kpc) | R min / median / max (kpc) "
        "| R min / median / max (R_e) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['galaxy']} | {r['n_gc']} | {r['v_err_median_kms']:.1f} "
                     f"| {r['v_err_spread_dex']:.2f} "
                     f"| {r['r_eff_kpc']:.2f} | {r['r_min_kpc']:.1f} / {r['r_median_kpc']:.1f} / "
                     f"{r['r_max_kpc']:.1f} | {r['r_min_re']:.2f} / {r['r_median_re']:.2f} / "
                     f"{r['r_max_re']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for bad input)."""
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.observe.survey", description=__doc__.split("\n")[0])
    p.add_argument("--catalog", default=str(DEFAULT_CATALOG), help="GC velocities (VizieR TSV or CSV)")
    p.add_argument("--galaxies", default=str(DEFAULT_GALAXIES), help="galaxy table (VizieR TSV or CSV)")
    p.add_argument("--out", default=None, help="write the Markdown page here (default: print it)")
    args = p.parse_args(argv)
    try:
        rows = survey(read_catalog(args.catalog), read_galaxy_table(args.galaxies))
    except (GcsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = render(rows, args.catalog, args.galaxies)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
