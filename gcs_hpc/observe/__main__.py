"""``python -m gcs_hpc.observe``: one observed galaxy's GCs -> maps, CNN masses and classic masses.

Example (SLUGGS data: cite Forbes et al. 2017, AJ 153, 114)::

    python -m gcs_hpc.observe --catalog forbes2017_gc_velocities.tsv \\
        --galaxies forbes2017_galaxies.tsv --galaxy "NGC 4494" \\
        --model runs/conv2_1ch --model runs/conv2_2ch --json --out ngc4494/

Everything is computed before anything is written: on any error (bad catalogue, unknown galaxy, too few
GCs, a model whose map definition differs from the store's or another model's) the command exits with
status 2, a one-line message on stderr, and ``--out`` untouched.

Input checks (:mod:`gcs_hpc.observe.catalog` documents the catalogue's): duplicate GC identifiers are
refused unless ``--drop-duplicate-ids`` (first row of each kept, the count printed); GCs without a velocity
(blank VizieR cells) are left out with a warning on stderr that counts them (``n_gc_without_velocity``
in the JSON); velocities more than 5000 km/s from the systemic one are refused (m/s read as km/s);
``--n-bootstrap`` must be >= 2; every reported mass must be finite (the JSON is strict: never ``NaN`` or
``Infinity``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc import figure
from gcs_hpc.cli import with_help_defaults
from gcs_hpc.config import check_range, spec_to_dict
from gcs_hpc.errors import CatalogError, GcsError
from gcs_hpc.fileperm import add_umask_option, parse_umask, umask
from gcs_hpc.observe.catalog import read_catalog
from gcs_hpc.observe.estimators import default_estimators
from gcs_hpc.observe.galaxies import Galaxy, find_galaxy, read_galaxy_table
from gcs_hpc.observe.observed_maps import FILL_POLICIES, MIN_GCS_FOR_MAP, ObservedMaps, make_observed_maps
from gcs_hpc.observe.project import project_catalog
from gcs_hpc.specs import SURVEY_MAPS, MapSpec

#: Map definition used when neither a model nor a store gives one: the default campaign's survey grid
#: (8 R_e wide, 10 x 10, one-pixel smoothing), one view.
DEFAULT_MAP_SPEC = dataclasses.replace(SURVEY_MAPS, n_angles=1)
#: Fewest bootstrap resamples that give an error bar.
MIN_BOOTSTRAP = 2


def warn(message: str) -> None:
    """One warning line on stderr (the JSON on stdout stays clean)."""
    print(f"warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.observe", description=__doc__.splitlines()[0])
    p.add_argument("--catalog", required=True, help="GC catalogue: VizieR TSV or CSV (RA, Dec, v, v_err)")
    p.add_argument("--galaxies", help="galaxy table: SLUGGS VizieR TSV or CSV (name, distance_mpc, "
                   "v_sys_kms, ra_deg, dec_deg[, r_eff_arcsec, position_angle_deg])")
    p.add_argument("--galaxy", required=True, help="galaxy name, e.g. 'NGC 4494'")
    g = p.add_argument_group("galaxy metadata by hand (instead of or overriding --galaxies)")
    g.add_argument("--distance-mpc", type=float, help="distance, Mpc")
    g.add_argument("--vsys", type=float, help="systemic velocity, km/s")
    g.add_argument("--ra", type=float, help="centre RA, deg")
    g.add_argument("--dec", type=float, help="centre Dec, deg")
    g.add_argument("--reff-arcsec", type=float, help="effective radius, arcsec")
    g.add_argument("--pa", type=float, help="major-axis position angle, deg east of north")
    p.add_argument("--model", action="append", default=[], help="trained model folder (repeatable)")
    p.add_argument("--store", help="training store: its map definition must equal the models'")
    p.add_argument("--disk-size-kpc", type=float, help="assumed R_d in kpc when the maps use fov_unit R_d")
    p.add_argument("--align-major-axis", action="store_true",
                   help="put the major axis (needs --pa or a PA column) along the map's x axis")
    p.add_argument("--r-max-kpc", type=float,
                   help="use only GCs within this projected radius (kpc) for the classic estimators")
    p.add_argument("--min-gcs", type=int, default=MIN_GCS_FOR_MAP, help="fewest GCs (default %(default)s)")
    p.add_argument("--n-bootstrap", type=int, default=200,
                   help=f"bootstrap resamples for the error bars, >= {MIN_BOOTSTRAP} (default %(default)s)")
    p.add_argument("--drop-duplicate-ids", action="store_true",
                   help="keep the first row of each repeated GC identifier instead of refusing the catalogue")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", help="folder for the V and sigma maps (PNG), created only on success")
    add_umask_option(p, "the --out folder and its PNGs")
    return with_help_defaults(p)


def resolve_galaxy(args: argparse.Namespace) -> Galaxy:
    """The galaxy from the table, with any by-hand values overriding it."""
    by_hand = {"distance_mpc": args.distance_mpc, "v_sys_kms": args.vsys, "ra_deg": args.ra,
               "dec_deg": args.dec, "r_eff_arcsec": args.reff_arcsec, "position_angle_deg": args.pa}
    base: dict[str, Any] = {"name": args.galaxy}
    if args.galaxies:
        found = find_galaxy(read_galaxy_table(args.galaxies), args.galaxy, source=repr(args.galaxies))
        base.update(spec_to_dict(found))
    base.update({k: v for k, v in by_hand.items() if v is not None})
    missing = [k for k in ("distance_mpc", "v_sys_kms", "ra_deg", "dec_deg") if base.get(k) is None]
    if missing:
        raise CatalogError(f"galaxy {args.galaxy!r}: no {', '.join(missing)}; give --galaxies FILE or "
                           "--distance-mpc, --vsys, --ra, --dec")
    return Galaxy(**base)


def resolve_map_spec(models: list[Any], store: str | None) -> tuple[MapSpec, str]:
    """One map definition shared by every model (and the store, if given), and where it came from.

    Raises
    ------
    ConfigError
        If two of them differ; the message names the differing fields.
    """
    from gcs_hpc.errors import ConfigError

    specs: list[tuple[str, MapSpec]] = [(f"model {m.path!r}", m.map_spec) for m in models]
    if store:
        from gcs_hpc.store import read_map_spec

        specs.insert(0, (f"store {store!r}", read_map_spec(store)))
    if not specs:
        return DEFAULT_MAP_SPEC, "default (no model or store given)"
    ref_name, ref = specs[0]
    for name, spec in specs[1:]:
        diff = ref.differences(spec)
        if diff:
            raise ConfigError(f"{name} makes maps differently from {ref_name}: " + ", ".join(diff))
    return ref, ref_name


def cnn_masses(models: list[Any], observed: ObservedMaps) -> list[dict[str, Any]]:
    """The mass posterior each net (or ensemble) gives for each fill policy (the masked maps cannot enter
    a net): ``mass_msun`` is the median; ``posterior`` holds the 68% and 95% intervals in Msun and dex
    (:meth:`gcs_hpc.learn.posterior.MassPosterior.summaries`); ``target`` says which mass (M_total or
    M(<5_r_half), whose radius in kpc is ``radius_kpc``); ``ood`` lists why the map is unlike the net's
    training maps (:func:`gcs_hpc.learn.ood.flag_reasons`; empty: in distribution). Nets with a scale
    input get the map scale in kpc (the galaxy's R_e for ``fov_unit: R_half``)."""
    from gcs_hpc.learn.predict import flag_reasons
    from gcs_hpc.learn.predict import radius_kpc as radius_to_kpc

    rows = []
    for model in models:
        scale_kpc = observed.scale_kpc if model.scale_input else None
        log_scale = None if scale_kpc is None else np.log10([scale_kpc])
        target = model.target
        radius_kpc = None
        if model.metadata.get("target", "M_total") != "M_total":
            r_half = observed.scale_kpc if observed.map_spec.fov_unit == "R_half" else None
            radius_kpc = radius_to_kpc(str(model.metadata.get("enclosed_radius")), r_half)
        for policy in FILL_POLICIES:
            if policy == "masked":
                continue
            image = observed.filled(policy)[None, :model.channels]
            posterior = model.predict_posterior(image, scale_kpc=scale_kpc)
            summary = posterior.summaries()[0]
            reasons = flag_reasons(image, posterior, model.metadata.get("ood"), log_scale)[0]
            rows.append({"model": model.path, "channels": model.channels, "fill": policy, "target": target,
                         "radius_kpc": radius_kpc, "mass_msun": summary["median_msun"],
                         "posterior": summary, "ood": reasons})
    return rows


def write_pngs(out: Path, observed: ObservedMaps, galaxy: Galaxy) -> list[str]:
    """V and sigma maps of every fill policy, one PNG each."""
    plt = figure.pyplot()
    out.mkdir(parents=True, exist_ok=True)
    half = 0.5 * observed.map_spec.fov
    n_pixels = int(observed.empty.size)
    n_filled = n_pixels - int(observed.empty.sum())
    written = []
    for policy in FILL_POLICIES:
        maps = observed.filled(policy)
        fig, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
        for ax, image, label, cmap in ((axes[0], maps[1], "V (km/s)", "RdBu_r"),
                                       (axes[1], maps[0], "sigma (km/s)", "viridis")):
            shown = ax.imshow(image, origin="lower", extent=(-half, half, -half, half), cmap=cmap)
            fig.colorbar(shown, ax=ax, label=label)
            ax.set_xlabel(f"x, west ({observed.map_spec.fov_unit})")
            ax.set_ylabel(f"y, north ({observed.map_spec.fov_unit})")
        fig.suptitle(f"{galaxy.name}: kinematics of {observed.n_in_field} GCs in the field, "
                     f"{n_filled} of {n_pixels} pixels with data, empty pixels {policy}")
        path = out / f"{galaxy.name}_maps_{policy}.png"
        figure.save(fig, path)
        written.append(str(path))
    return written


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Compute everything for one galaxy (writes nothing)."""
    check_range("observe", "min_gcs", args.min_gcs, 1, 1_000_000)
    check_range("observe", "n_bootstrap", args.n_bootstrap, MIN_BOOTSTRAP, 100_000)
    catalog = read_catalog(args.catalog).for_galaxy(args.galaxy)
    n_duplicates = 0
    if args.drop_duplicate_ids:
        catalog, n_duplicates = catalog.drop_duplicate_ids()
        if n_duplicates:
            warn(f"{n_duplicates} rows of repeated GC identifiers in {args.catalog!r} dropped "
                 "(--drop-duplicate-ids: first row of each kept)")
    else:
        catalog.check_unique_ids()
    if catalog.no_velocity:
        lines = [line for line, _ in catalog.no_velocity]
        shown = ", ".join(map(str, lines[:10])) + (f" and {len(lines) - 10} more" if len(lines) > 10 else "")
        warn(f"{len(lines)} GCs of {args.galaxy} in {args.catalog!r} have a blank velocity or error (lines "
             f"{shown}); not used")
    galaxy = resolve_galaxy(args)
    if len(catalog) < args.min_gcs:
        raise CatalogError(f"galaxy {galaxy.name}: {len(catalog)} GCs with velocities in {args.catalog!r}; "
                           f"allowed: >= {args.min_gcs} (--min-gcs)")
    gcs = project_catalog(catalog, galaxy, align_major_axis=args.align_major_axis)
    models = []
    if args.model:
        from gcs_hpc.learn.predict import load_predictor

        models = [load_predictor(path) for path in args.model]
    map_spec, spec_source = resolve_map_spec(models, args.store)
    observed = make_observed_maps(gcs, galaxy, map_spec, disk_size_kpc=args.disk_size_kpc,
                                  min_gcs=args.min_gcs)
    sample = np.ones(len(gcs), dtype=bool)
    if args.r_max_kpc is not None:
        check_range("observe", "r_max_kpc", args.r_max_kpc, 0.0, 1.0e5, low_open=True)
        sample = gcs.R_kpc <= args.r_max_kpc
        if int(sample.sum()) < args.min_gcs:
            raise CatalogError(f"galaxy {galaxy.name}: {int(sample.sum())} GCs within --r-max-kpc "
                               f"{args.r_max_kpc}; allowed: >= {args.min_gcs} (--min-gcs)")
    classic = {label: est.estimate(gcs.x_kpc[sample], gcs.y_kpc[sample], gcs.v_los_kms[sample],
                                   gcs.v_err_kms[sample], n_bootstrap=args.n_bootstrap,
                                   seed=args.seed).to_dict()
               for label, est in default_estimators().items()}
    rows = cnn_masses(models, observed)
    check_finite(rows, classic)
    return {
        "galaxy": spec_to_dict(galaxy),
        "catalog": str(args.catalog),
        "n_gc": len(catalog),
        "n_gc_without_velocity": len(catalog.no_velocity),
        "n_duplicate_rows_dropped": n_duplicates,
        "R_max_kpc": float(np.max(gcs.R_kpc)),
        "maps": {"map_spec": spec_to_dict(map_spec), "from": spec_source, "scale_kpc": observed.scale_kpc,
                 "n_in_field": observed.n_in_field, "n_empty_pixels": int(observed.empty.sum())},
        "cnn": rows,
        "cnn_note": None if models else "no --model given: CNN masses not computed",
        "estimators": classic,
        "_observed": observed,
    }


def check_finite(cnn_rows: list[dict[str, Any]], classic: dict[str, dict[str, Any]]) -> None:
    """Refuse any non-finite mass (it would print as ``inf`` and make the JSON invalid).

    Raises
    ------
    CatalogError
        Naming the net or estimator and the value.
    """
    for row in cnn_rows:
        if not np.isfinite(row["mass_msun"]):
            raise CatalogError(f"model {row['model']!r} ({row['fill']}) predicts mass {row['mass_msun']!r} "
                               "Msun; "
                               "allowed: a finite mass (are the maps' velocities in km/s?)")
    for label, est in classic.items():
        for key in ("mass_msun", "mass_err_msun", "mass_p16_msun", "mass_p84_msun"):
            if not np.isfinite(est[key]):
                raise CatalogError(f"estimator {label}: {key} = {est[key]!r}; allowed: a finite mass (check "
                                   "the catalogue's velocities, in km/s, and positions)")


def format_table(result: dict[str, Any]) -> str:
    lines = [f"{result['galaxy']['name']}: {result['n_gc']} GCs, R_max {result['R_max_kpc']:.1f} kpc, "
             f"{result['maps']['n_in_field']} in the map field, {result['maps']['n_empty_pixels']} empty pixels"]
    from gcs_hpc.learn.predict import format_interval

    for row in result["cnn"]:
        where = f" within {row['radius_kpc']:.1f} kpc" if row.get("radius_kpc") else ""
        lines.append(f"  CNN {row['channels']}ch {row['fill']:>6} {row['target']}{where}: "
                     f"{format_interval(row['posterior'])}  ({row['model']})")
        for reason in row["ood"]:
            lines.append(f"      OUT OF DISTRIBUTION: {reason}")
    if result["cnn_note"]:
        lines.append(f"  {result['cnn_note']}")
    for label, est in result["estimators"].items():
        lines.append(f"  {label:>15}: {est['mass_msun']:.3e} +- {est['mass_err_msun']:.2e} Msun "
                     f"within {est['r_out_kpc']:.1f} kpc")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        parse_umask(args.umask, "observe")
        result = run(args)
        observed = result.pop("_observed")
        if args.out:
            galaxy = Galaxy(**result["galaxy"])
            with umask(args.umask, "observe"):
                result["pngs"] = write_pngs(Path(args.out), observed, galaxy)
    except (GcsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, allow_nan=False) if args.json else format_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
