"""Run experiments: campaign store (built or reused) -> nets trained -> evaluated on both splits ->
classic estimators on the same held-out galaxies -> ``<runs>/<scale>/<name>/result.json``.

Layout under ``runs`` (gitignored)::

    <scale>/stores/<campaign>.zarr, .yaml, .timing.json     one store per distinct campaign config
    <scale>/<name>/nets/<name>-<split>-<c>ch/               trained nets (gcs_hpc.learn.train)
    <scale>/<name>/eval/<split>/                            metrics.json and figures (gcs_hpc.learn.evaluate)
    <scale>/compare/<campaign>-<split>[-<suites>].json      CNN and classic estimators, same galaxies
    <scale>/<name>/result.json                              everything the report reads

Every stage reuses what is there: a complete store is not rerun, a trained net with the same training
config is not retrained (a killed training resumes from its checkpoint).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from gcs_hpc.errors import GcsError
from gcs_hpc.experiments.campaigns import build_store, store_paths
from gcs_hpc.experiments.spec import ExperimentSpec, check_shared_stores, load_experiments

#: Splits whose held-out galaxies the classic estimators are run on, in order of preference.
COMPARE_SPLITS = ("model", "suite")
#: Seed of the noise added to test maps (one seed: every net sees the same noisy maps).
EVAL_NOISE_SEED = 12345
DEFAULT_RUNS = Path("runs")


def net_dir(runs: Path, scale: str, spec: ExperimentSpec, split: str, channels: int) -> Path:
    """Folder of one trained net; its name is unique over all experiments (compare labels use it)."""
    return Path(runs) / scale / spec.name / "nets" / f"{spec.name}-{split}-{channels}ch"


def train_config(spec: ExperimentSpec, scale: str, store: Path, split: str, channels: int, out: Path) -> Any:
    """The :class:`gcs_hpc.learn.train.TrainConfig` of one net of ``spec`` (its suite filter included)."""
    from gcs_hpc.learn.train import TrainConfig

    sizes = spec.scale(scale)
    return TrainConfig(store=str(store), arch=spec.net, channels=channels, epochs=sizes.epochs, out=str(out),
                       split=split, noise_kms=spec.noise_kms, batch_size=sizes.batch_size, seed=0,
                       suites=spec.suites_for(split))


def _stored_config(out: Path) -> dict[str, Any] | None:
    """The training config saved in ``out`` (a run from before the suite filter counts as
    ``suites = None``, which is what it used), or None."""
    from gcs_hpc.learn.train import CONFIG_FILE

    if not (out / CONFIG_FILE).is_file():
        return None
    old = json.loads((out / CONFIG_FILE).read_text())
    old.setdefault("suites", None)
    return old


def trained_already(cfg: Any) -> bool:
    """Whether ``cfg.out`` holds a finished net trained with exactly ``cfg``."""
    from gcs_hpc.learn.train import METADATA_FILE

    out = Path(cfg.out)
    old = _stored_config(out)
    return old is not None and (out / METADATA_FILE).is_file() and old == json.loads(
        json.dumps(dataclasses.asdict(cfg)))


def outdated(cfg: Any) -> bool:
    """Whether ``cfg.out`` holds a net (finished or not) of another config than ``cfg`` in a key training
    cannot resume across (e.g. the experiment's suite filter changed): it must be trained afresh."""
    from gcs_hpc.learn.train import RESUMABLE_CHANGES

    old = _stored_config(Path(cfg.out))
    new = json.loads(json.dumps(dataclasses.asdict(cfg)))
    return old is not None and any(old.get(k) != v for k, v in new.items() if k not in RESUMABLE_CHANGES)


def train_net(spec: ExperimentSpec, scale: str, store: Path, split: str, channels: int, out: Path,
              log: Callable[[str], None]) -> dict[str, Any]:
    """Train one net with :func:`gcs_hpc.learn.train.train` (skipped when already trained with this
    config); return its training summary (epochs, final loss, wall time, images/s)."""
    from gcs_hpc.learn.cluster import WorkerCluster
    from gcs_hpc.learn.train import METADATA_FILE, train

    sizes = spec.scale(scale)
    cfg = train_config(spec, scale, store, split, channels, out)
    if trained_already(cfg):
        log(f"[{spec.name}] net {out.name}: trained already, reused")
    else:
        if outdated(cfg):
            log(f"[{spec.name}] net {out.name}: trained with another config, removed to train afresh")
            shutil.rmtree(out)
        suites = "every suite" if cfg.suites is None else "suites " + "+".join(cfg.suites)
        log(f"[{spec.name}] training {out.name} ({spec.net}, {channels} channel(s), split {split}, "
            f"{suites}, {sizes.epochs} epochs, noise {spec.noise_kms} km/s)")
        train(cfg, cluster=WorkerCluster(("localhost:0",), 0), log=lambda m: None)
    log_lines = (out / "logs" / "worker-0.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in log_lines if line]
    by_epoch = {r["epoch"]: r for r in records}  # a resumed run appends; the last record of an epoch counts
    history = [by_epoch[k] for k in sorted(by_epoch)]
    meta = json.loads((out / METADATA_FILE).read_text())
    return {"epochs": len(history), "final_loss": history[-1]["loss"] if history else None,
            "first_loss": history[0]["loss"] if history else None,
            "wall_s": float(sum(h["wall_s"] for h in history)),
            "images_per_s": float(np.mean([h["images_per_s"] for h in history])) if history else None,
            "parameters": meta.get("parameters"), "split": meta.get("split"),
            "log_records": len(records), "single_writer": len(records) == len(history)}


def evaluate_split(spec: ExperimentSpec, scale: str, store: Path, split: str, runs: Path
                   ) -> dict[int, dict[str, Any]]:
    """Metrics of every channel count's net of ``split``, per test-noise level: {channels: {noise: m}}."""
    from gcs_hpc.experiments.evaluation import evaluate_net, write_figures

    dirs = [net_dir(runs, scale, spec, split, c) for c in sorted(spec.channels)]
    out = Path(runs) / scale / spec.name / "eval" / split
    cache = out / "metrics_by_net.json"
    digests = [json.loads((d / "metadata.json").read_text()).get("weights_sha256") for d in dirs]
    key = {"nets": [[d.name, h] for d, h in zip(dirs, digests)],
           "eval_noise_kms": list(spec.eval_noise_kms), "seed": EVAL_NOISE_SEED, "store": str(store)}
    if cache.is_file() and (out / "metrics.json").is_file():
        old = json.loads(cache.read_text())
        if old.get("key") == key:  # same nets, same test maps: the metrics are the same
            return {int(c): m for c, m in old["metrics"].items()}
    write_figures(dirs, store, out)
    metrics = {c: {f"{noise:g}": evaluate_net(d, store, noise, EVAL_NOISE_SEED)
                   for noise in spec.eval_noise_kms}
               for c, d in zip(sorted(spec.channels), dirs)}
    cache.write_text(json.dumps({"key": key, "metrics": metrics}, indent=1, default=float))
    return metrics


def compare_split(spec: ExperimentSpec) -> str | None:
    """The split whose held-out galaxies the classic estimators see (None: no comparison)."""
    if not spec.compare:
        return None
    return next((s for s in COMPARE_SPLITS if s in spec.splits), None)


def run_comparison(group: list[ExperimentSpec], scale: str, store: Path, split: str, runs: Path,
                   log: Callable[[str], None]) -> dict[str, Any]:
    """CNNs of ``group`` (same store, split and suite filter, hence the same held-out galaxies) and the
    classic estimators on those galaxies, via :func:`gcs_hpc.experiments.compare.compare`; written to
    ``<runs>/<scale>/compare/<campaign>-<split>[-<suites>].json``."""
    from gcs_hpc.learn.predict import load_trained
    from gcs_hpc.experiments.compare import compare

    sizes = group[0].scale(scale)
    suites = group[0].suites_for(split)
    name = f"{group[0].campaign}-{split}" + ("" if suites is None else "-" + "+".join(suites))
    path = Path(runs) / scale / "compare" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    if sizes.compare_models == 0:
        return {"skipped": "compare_models = 0 at this scale"}
    trained = [load_trained(net_dir(runs, scale, s, split, c)) for s in group for c in sorted(s.channels)]
    key = {"nets": sorted([Path(t.path).name, t.metadata.get("weights_sha256")] for t in trained),
           "n_views": sizes.compare_views, "max_models": sizes.compare_models, "store": str(store)}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("cache_key") == key:
            log(f"[{', '.join(s.name for s in group)}] classic estimators: same nets and galaxies, reused")
            return old
    log(f"[{', '.join(s.name for s in group)}] classic estimators and {len(trained)} CNNs on up to "
        f"{sizes.compare_models} held-out galaxies x {sizes.compare_views} views (models re-run)")
    t0 = time.perf_counter()
    result = compare(store, trained, n_views=sizes.compare_views, max_models=sizes.compare_models,
                     backend=sizes.backend)
    result["wall_s"] = time.perf_counter() - t0
    result["split"] = split
    result["cache_key"] = key
    path.write_text(json.dumps(result, indent=1, default=float))
    return result


def _store_summary(store: Path) -> dict[str, Any]:
    from gcs_hpc.store import (LABEL_LOG10_MASS_MAX, LABEL_LOG10_MASS_MIN, STATUS_DONE, STATUS_FAILED,
                               done_models, open_dataset, status_counts, store_attrs, string_coord)

    ds = open_dataset(store)
    suite = string_coord(ds, "suite")
    attrs = store_attrs(store)
    done = done_models(ds)
    counts = status_counts(ds)
    maps = np.asarray(ds["maps"].isel(model=done).values) if len(done) else np.zeros((0, 1, 2, 1, 1))
    occupied = (np.asarray(ds["counts"].isel(model=done).values) > 0 if len(done)
                else np.zeros((0, 1, 1, 1), bool))
    sigma, v = maps[:, :, 0][occupied], maps[:, :, 1][occupied]
    done_suite = suite[done]
    return {"n_models": int(len(suite)), "done": counts[STATUS_DONE],
            "failed": counts[STATUS_FAILED], "n_angles": int(ds.sizes["angle"]),
            "done_by_suite": {s: int((done_suite == s).sum()) for s in np.unique(suite)},
            "label_log10_mass": [attrs.get(LABEL_LOG10_MASS_MIN), attrs.get(LABEL_LOG10_MASS_MAX)],
            "map_spec": attrs.get("map_spec"),
            "map_sigma_median_kms": float(np.median(sigma)) if sigma.size else None,
            "map_abs_v_median_kms": float(np.median(np.abs(v))) if v.size else None}


def run(names: str | list[str], scale: str, runs: Path = DEFAULT_RUNS,
        log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run the experiments ``names`` (``"all"``) at ``scale``; return (and write) their results."""
    runs = Path(runs)
    specs = load_experiments(names)
    for spec in specs:
        spec.scale(scale)  # every experiment defines the scale, before anything runs
    groups = check_shared_stores(specs, scale)
    stores: dict[str, Path] = {}
    timings: dict[str, dict[str, float]] = {s.name: {} for s in specs}
    for campaign, group in groups.items():  # all campaigns first: N-body before TensorFlow
        t0 = time.perf_counter()
        stores[campaign] = build_store(group[0], scale, runs, log)
        timings[group[0].name]["campaign_s"] = time.perf_counter() - t0

    results: dict[str, dict[str, Any]] = {}
    for spec in specs:
        store = stores[spec.campaign]
        t0 = time.perf_counter()
        nets = []
        for split in spec.splits:
            for c in sorted(spec.channels):
                out = net_dir(runs, scale, spec, split, c)
                nets.append({"split": split, "channels": c, "dir": str(out),
                             "train": train_net(spec, scale, store, split, c, out, log)})
        timings[spec.name]["train_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for split in spec.splits:
            metrics = evaluate_split(spec, scale, store, split, runs)
            for net in nets:
                if net["split"] == split:
                    net["metrics"] = metrics[net["channels"]]
        timings[spec.name]["evaluate_s"] = time.perf_counter() - t0
        m0 = nets[0]["metrics"].get("0") or next(iter(nets[0]["metrics"].values()))
        log(f"[{spec.name}] " + "; ".join(
            f"{n['split']} {n['channels']}ch acc {next(iter(n['metrics'].values()))['accuracy']:.3f}"
            for n in nets) + f" ({m0['n_models']} test galaxies)")
        results[spec.name] = {
            "name": spec.name, "description": spec.description, "study": spec.study, "net": spec.net,
            "campaign": spec.campaign, "scale": scale, "sizes": dataclasses.asdict(spec.scale(scale)),
            "noise_kms": spec.noise_kms, "eval_noise_kms": list(spec.eval_noise_kms),
            "train_suites": None if spec.train_suites is None else list(spec.train_suites),
            "suites": spec.suites, "maps": spec.maps, "store": str(store),
            "store_summary": _store_summary(store),
            "campaign_timing": str(store_paths(runs, scale, spec.campaign)["timing"]), "nets": nets,
            "eval_dirs": {s: str(runs / scale / spec.name / "eval" / s) for s in spec.splits},
            "classic": None, "timings": timings[spec.name]}

    comparisons: dict[tuple[str, str, tuple[str, ...] | None], list[ExperimentSpec]] = {}
    for spec in specs:
        split = compare_split(spec)
        if split is not None:  # one held-out set per store, split and suite filter
            comparisons.setdefault((spec.campaign, split, spec.suites_for(split)), []).append(spec)
    for (campaign, split, _suites), group in comparisons.items():
        t0 = time.perf_counter()
        try:
            result = run_comparison(group, scale, stores[campaign], split, runs, log)
        except (GcsError, ValueError, KeyError) as exc:  # keep every other result; say why
            log(f"[{', '.join(s.name for s in group)}] classic estimators failed: {type(exc).__name__}: "
                f"{exc}")
            result = {"error": f"{type(exc).__name__}: {exc}"}
        for spec in group:
            results[spec.name]["classic"] = _classic_for(spec, result, scale)
            results[spec.name]["timings"]["compare_s"] = time.perf_counter() - t0

    for spec in specs:
        path = runs / scale / spec.name / "result.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results[spec.name], indent=1, default=float))
    return [results[s.name] for s in specs]


def _classic_for(spec: ExperimentSpec, result: dict[str, Any], scale: str) -> dict[str, Any]:
    """This experiment's share of a comparison: its own CNNs and every classic estimator."""
    if "rows" not in result:
        return result
    from gcs_hpc.experiments.compare import bias_scatter
    from gcs_hpc.observe.estimators import default_estimators

    prefix = f"{spec.name}-"
    cnn = sorted({k for r in result["rows"] for k in r if k.startswith("cnn_") and prefix in k})
    methods = cnn + list(default_estimators())
    return {"split": result.get("split"), "models": result["models"], "views": result["views"],
            "n_rows": len(result["rows"]), "table": bias_scatter(result["rows"], methods),
            "wall_s": result.get("wall_s")}
