"""The CNN and the classic estimators on the same held-out simulated galaxies, whose masses are known.

For every held-out model of a campaign store (the trained net's test split, re-made from its metadata,
or given indices) the model is rebuilt from the campaign plan stored in the store's ``config_yaml`` and
evolved again exactly as the campaign did (bit-identical on the NumPy backend), then its GCs are seen as
an observer would see them along a few of the store's viewing angles: projected positions (kpc) and
line-of-sight velocities (km/s) in the stellar rest frame (:func:`gcs_hpc.maps.galaxy_frame`,
:func:`gcs_hpc.maps.project`, the same conventions as the maps). On each view:

- the CNN(s) predict M_total from the store's map of that (model, angle);
- each classic estimator (:func:`gcs_hpc.observe.estimators.default_estimators`) weighs all the GCs.

Errors are ``log10(M_estimated / M_true)`` in dex; the table gives their mean (bias) and standard
deviation (scatter) per method, against M_total (what the CNN is trained on) and against the mass inside
the GCs' outermost projected radius r_out (a sphere of that radius about the centre; what the classic
estimators claim to measure).

It re-runs simulations, reads the campaign plan and uses trained nets: an experiment, built on every
floor (it lived in observe, which now only turns real catalogues into maps and masses).

CLI::

    python -m gcs_hpc.experiments.compare --store campaign.zarr --model runs/conv4_1ch --model runs/conv4_2ch \\
        --n-views 3 --markdown table.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from gcs_hpc.config import check_range
from gcs_hpc.errors import GcsError, StoreError
from gcs_hpc.observe.estimators import MIN_TRACERS, default_estimators
from gcs_hpc.specs import ModelSpec


def campaign_models(attrs: dict[str, Any], m_total: np.ndarray) -> tuple[ModelSpec, ...]:
    """Re-draw the campaign plan from the store's ``config_yaml`` and check it is the store's.

    Raises
    ------
    StoreError
        If the plan cannot be re-made identically (config text or model masses differ).
    """
    from gcs_hpc.campaign.config import config_from_mapping, config_to_yaml
    from gcs_hpc.campaign.plan import plan_campaign

    text = attrs.get("config_yaml")
    if not text:
        raise StoreError("store has no config_yaml attribute: cannot rebuild its models")
    data = yaml.safe_load(text)
    n_models = int(data.pop("n_models"))
    data.pop("preset_resolved", None)
    data["suites"] = {name: {k: v for k, v in suite.items() if k != "n_models"}
                      for name, suite in data["suites"].items()}
    config = config_from_mapping(data, source="store config_yaml")
    if config_to_yaml(config, n_models) != text:
        raise StoreError("the store's config_yaml does not re-make the same campaign config")
    models = plan_campaign(config, n_models).models
    if len(models) != len(m_total) or not np.allclose([m.M_total for m in models], m_total, rtol=1e-9):
        raise StoreError("the re-made campaign plan does not match the store's M_total")
    return models


def observe_simulation(spec: ModelSpec, theta_deg: np.ndarray, phi_deg: np.ndarray, backend: str = "auto",
                       map_spec: Any = None) -> dict[str, Any]:
    """Rebuild and evolve one model as the campaign did (:func:`gcs_hpc.nbody.simulate.simulate`); return
    its GCs seen along each direction.

    Returns
    -------
    dict
        ``x``, ``y``, ``v`` of shape (n_views, n_gc) in kpc and km/s; ``enclosed_mass(r_kpc)`` callable
        giving the mass (Msun) in a sphere of radius r about the stellar centre; with ``map_spec``
        also ``maps`` (all the model's angles, as the campaign made them) to check the rebuild.
    """
    from gcs_hpc import units
    from gcs_hpc.maps import galaxy_frame, project
    from gcs_hpc.nbody.simulate import simulate

    final = simulate(spec, backend, model_name=f"compare {spec.suite} seed {spec.seed}").particles
    centre, velocity = galaxy_frame(final)
    gcs = final.gcs
    pos = units.sim_to_kpc(final.pos[gcs] - centre)
    vel = units.sim_to_kms(final.vel[gcs] - velocity)
    x, y, v = project(pos, vel, np.asarray(theta_deg), np.asarray(phi_deg))
    r_all = units.sim_to_kpc(np.linalg.norm(final.pos - centre, axis=1))
    order = np.argsort(r_all)
    r_sorted, m_cum = r_all[order], np.cumsum(units.sim_to_msun(final.mass[order]))

    def enclosed_mass(r_kpc: float) -> float:
        k = int(np.searchsorted(r_sorted, r_kpc, side="right"))
        return float(m_cum[k - 1]) if k > 0 else 0.0

    out = {"x": np.asarray(x), "y": np.asarray(y), "v": np.asarray(v), "enclosed_mass": enclosed_mass}
    if map_spec is not None:
        from gcs_hpc.galaxy import disk_size_kpc
        from gcs_hpc.maps import make_model_maps

        out["maps"] = np.asarray(make_model_maps(final, map_spec, disk_size_kpc(spec.galaxy))[0])
    return out


def _held_out(ds: Any, trained: list[Any], indices: Sequence[int] | None) -> np.ndarray:
    from gcs_hpc.learn.data import make_split, select_suites
    from gcs_hpc.store import done_models

    if indices is not None:
        return np.asarray(sorted(indices), dtype=np.int64)
    if not trained:
        raise StoreError("give --model (its test split names the held-out models) or --indices")
    split = trained[0].metadata.get("split", {})
    suites = trained[0].suites   # the net's suite filter (None: every suite)
    if not split:
        return select_suites(ds, done_models(ds), suites)
    return make_split(ds, split.get("kind", "model"), split.get("test_fraction", 0.2), split.get("seed", 0),
                      suites).models("test")


def compare(store: str | Path, trained: list[Any], *, n_views: int = 3, indices: Sequence[int] | None = None,
            max_models: int | None = None, n_bootstrap: int = 0, backend: str = "auto") -> dict[str, Any]:
    """Run the CNN(s) and the classic estimators on held-out simulated galaxies (see module notes).

    Returns
    -------
    dict
        ``rows``: one dict per (model, view) with the true masses and every method's estimate;
        ``table``: bias and scatter in dex per method.
    """
    from gcs_hpc.store import done_models, open_dataset, read_map_spec

    check_range("compare", "n_views", n_views, 1, 10_000)
    ds = open_dataset(store)
    map_spec = read_map_spec(store)
    for model in trained:
        if model.map_spec != map_spec:
            raise StoreError(f"model {model.path!r} was trained on maps made as {model.map_spec}, the store "
                             f"holds {map_spec}")
    specs = campaign_models(dict(ds.attrs), np.asarray(ds["M_total"].values))
    held = _held_out(ds, trained, indices)
    held = held[np.isin(held, done_models(ds))]
    if max_models is not None:
        held = held[:max_models]
    n_angles = int(ds.sizes["angle"])
    views = np.unique(np.linspace(0, n_angles - 1, min(n_views, n_angles)).round().astype(int))
    theta, phi = np.asarray(ds["theta"].values)[views], np.asarray(ds["phi"].values)[views]
    estimators = default_estimators()
    rows = []
    for index in held:
        seen = observe_simulation(specs[index], theta, phi, backend, map_spec)
        maps = np.asarray(ds["maps"].isel(model=int(index), angle=views).values)
        # the rebuilt galaxy is the one in the store: its maps at these views are the stored ones
        reproduced = bool(np.allclose(seen["maps"][views], maps, atol=1e-3))
        cnn = {f"cnn_{m.channels}ch_{Path(m.path).name}": m.predict_mass(maps) for m in trained}
        for k, angle in enumerate(views):
            x, y, v = seen["x"][k], seen["y"][k], seen["v"][k]
            r_out = float(np.max(np.hypot(x, y)))
            row: dict[str, Any] = {"model": int(index), "angle": int(angle), "suite": specs[index].suite,
                                   "M_total": specs[index].M_total, "r_out_kpc": r_out,
                                   "M_r_out": seen["enclosed_mass"](r_out), "n_gc": len(x),
                                   "maps_reproduced": reproduced}
            row.update({name: float(pred[k]) for name, pred in cnn.items()})
            if len(x) >= MIN_TRACERS:
                for label, est in estimators.items():
                    row[label] = est.estimate(x, y, v, n_bootstrap=n_bootstrap).mass_msun
            rows.append(row)
    methods = [*(f"cnn_{m.channels}ch_{Path(m.path).name}" for m in trained), *estimators]
    return {"store": str(store), "views": views.tolist(), "models": held.tolist(), "rows": rows,
            "table": bias_scatter(rows, methods)}


def bias_scatter(rows: list[dict[str, Any]], methods: Sequence[str]) -> list[dict[str, Any]]:
    """Bias (mean) and scatter (standard deviation) of log10(M_est / M_true) per method, in dex, against
    M_total and against M(< r_out)."""
    table = []
    for method in methods:
        entry: dict[str, Any] = {"method": method}
        for truth in ("M_total", "M_r_out"):
            err = np.array([np.log10(r[method] / r[truth]) for r in rows
                            if method in r and r[method] > 0 and r[truth] > 0])
            entry[f"n_{truth}"] = int(len(err))
            entry[f"bias_dex_{truth}"] = float(np.mean(err)) if len(err) else float("nan")
            entry[f"scatter_dex_{truth}"] = float(np.std(err, ddof=1)) if len(err) > 1 else float("nan")
        table.append(entry)
    return table


def markdown_table(table: list[dict[str, Any]]) -> str:
    """The bias/scatter table as Markdown."""
    lines = ["| method | bias vs M_total (dex) | scatter vs M_total (dex) | bias vs M(<r_out) (dex) | "
             "scatter vs M(<r_out) (dex) | views |", "|---|---|---|---|---|---|"]
    for e in table:
        lines.append(f"| {e['method']} | {e['bias_dex_M_total']:+.3f} | {e['scatter_dex_M_total']:.3f} | "
                     f"{e['bias_dex_M_r_out']:+.3f} | {e['scatter_dex_M_r_out']:.3f} | {e['n_M_total']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.experiments.compare",
                                description="CNN vs classic mass estimators on held-out simulated galaxies")
    p.add_argument("--store", required=True)
    p.add_argument("--model", action="append", default=[])
    p.add_argument("--indices", type=int, nargs="*", help="models to use instead of the test split")
    p.add_argument("--n-views", type=int, default=3)
    p.add_argument("--max-models", type=int)
    p.add_argument("--backend", default="auto",
                   help="N-body backend; must be the campaign's for bit-identical rebuilt runs")
    p.add_argument("--json", help="write the full result (rows and table) here")
    p.add_argument("--markdown", help="write the table here")
    args = p.parse_args(argv)
    try:
        trained = []
        if args.model:
            from gcs_hpc.learn.predict import load_trained

            trained = [load_trained(m) for m in args.model]
        result = compare(args.store, trained, n_views=args.n_views, indices=args.indices,
                         max_models=args.max_models, backend=args.backend)
    except (GcsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = markdown_table(result["table"])
    same = sum(r["maps_reproduced"] for r in result["rows"])
    text += (f"\n\nmaps reproduced for {same} of {len(result['rows'])} views"
             + ("" if same == len(result["rows"])
                else " (use the campaign's --backend to rebuild the same runs)"))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
