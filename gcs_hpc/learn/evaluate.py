"""Evaluate trained nets on their test images: the paper's metrics, errors in dex, figures 5 to 7.

Metrics (``metrics.json``), with E_i = (M_p - M_c) / M_c for every test image i, masses in Msun:

``accuracy``
    1 - mean |E_i| (the paper's section 4.2: 98% accuracy means predictions deviate by 2%).
``mae``, ``rmse``
    Mean absolute and root mean square error of the net's output on the 0..10 label scale.
``bias_dex``, ``scatter_dex``
    Mean and standard deviation of log10(M_p / M_c).
``baseline_mean``
    The same metrics for predicting, for every image, the mean label of the training images (the
    bar to beat).

The test images are the training run's test split when the store is the one the net was trained on
(same config hash; the split is re-made with the run's suite filter); on any other store every done image
of the suites the net was trained on (all suites when it had no filter) is a test image
(``split.kind = "whole-store"``).

Every store (``--store``, ``--ood-store``) must make its maps as the net's training maps were made: one
whose map definition differs (fov, fov_unit, npix, smoothing, empty_fill:
:meth:`gcs_hpc.specs.MapSpec.differences`, the check :mod:`gcs_hpc.observe` applies too) is refused
before anything is written. Its number of viewing angles and its label bounds may differ (masses are
compared in Msun, the net's output converted with its own label scale).

Posteriors (issue 15): ``--model`` may be a single net or an ensemble folder
(:mod:`gcs_hpc.learn.ensemble`). The point metrics use the posterior median. ``calibration`` holds the
coverage of the 68% and 95% intervals, the PIT histogram and its KS distance
(:mod:`gcs_hpc.learn.calibration`); ``ood`` the fraction of test images flagged out of distribution
(:mod:`gcs_hpc.learn.ood`). The same two, under ``ood_suite``, for the store's models of suites the net
was not trained on (e.g. ``unknown`` for a net trained with ``--suites disk,merger``), and under
``ood_store`` for every done image of a second store (``--ood-store``, e.g. galaxies outside the training
ranges). ``calibration.png`` shows the PIT histograms and coverage curves.

CLI::

    python -m gcs_hpc.learn.evaluate --store S --model DIR --out DIR [--compare DIR2] [--ood-store S2]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from gcs_hpc import figure
from gcs_hpc.cli import with_help_defaults
from gcs_hpc.errors import ConfigError, GcsError
from gcs_hpc.fileperm import add_umask_option, umask
from gcs_hpc.learn import calibration, data, ood, targets
from gcs_hpc.learn.posterior import MassPosterior
from gcs_hpc.learn.predict import TrainedModel, load_predictor, load_trained  # noqa: F401
from gcs_hpc.learn.outputs import store_config_hash

#: Bins of true mass in the predicted-vs-true figure (the paper's 20).
N_MASS_BINS = 20
METRICS_FILE = "metrics.json"
PLOT_FILES = {"pred_vs_true": "predicted_vs_true.png", "error_hist": "error_histogram.png",
              "error_cdf": "error_cumulative.png", "calibration": "calibration.png"}


def error_metrics(mass_pred: np.ndarray, mass_true: np.ndarray, label_pred: np.ndarray,
                  label_true: np.ndarray) -> dict:
    """Accuracy, MAE, RMSE (label scale) and bias/scatter in dex; see the module doc."""
    mass_pred, mass_true = np.asarray(mass_pred, float), np.asarray(mass_true, float)
    e = (mass_pred - mass_true) / mass_true
    dex = np.log10(mass_pred / mass_true)
    dl = np.asarray(label_pred, float) - np.asarray(label_true, float)
    return {"accuracy": float(1.0 - np.mean(np.abs(e))), "mae": float(np.mean(np.abs(dl))),
            "rmse": float(np.sqrt(np.mean(dl ** 2))), "bias_dex": float(np.mean(dex)),
            "scatter_dex": float(np.std(dex)), "median_abs_error": float(np.median(np.abs(e)))}


def test_images(trained: TrainedModel, source: data.StoreMaps) -> tuple[np.ndarray, dict]:
    """Test images of ``trained`` in ``source``'s store, and the split's description."""
    meta = trained.metadata
    if meta.get("store_config_hash") == store_config_hash(source.attrs):
        s = meta["split"]
        split = data.make_split(source.ds, s["kind"], s["test_fraction"], s["seed"], trained.suites)
        return split.test, split.describe()
    models = data.select_suites(source.ds, data.done_models(source.ds), trained.suites)
    images = data.images_of(models, source.n_angles)
    if len(images) == 0:
        raise ConfigError(f"store {str(source.path)!r} has no done model of the suites "
                          f"{list(trained.suites or [])} the net {trained.path!r} was trained on")
    return images, {"kind": "whole-store", "n_test_images": int(len(images)),
                    "n_test_models": int(len(np.unique(images[:, 0]))),
                    "suites": None if trained.suites is None else list(trained.suites)}


def predict_with_flags(trained: TrainedModel, source: data.StoreMaps, images: np.ndarray,
                       cache_mb: float = 256.0) -> tuple[MassPosterior, list[list[str]]]:
    """Posteriors of ``images`` (model, angle) rows, read block-wise from the store, and the
    out-of-distribution reasons of each (:func:`gcs_hpc.learn.ood.flag_reasons`)."""
    parts, reasons = [], [[] for _ in range(len(images))]
    scales = getattr(source, "image_scale", None)
    order = np.empty(len(images), dtype=np.int64)
    done = 0
    for rows, maps in ood.iter_image_blocks(source, images, cache_mb):
        log_scale = None if scales is None else scales[images[rows, 0], images[rows, 1]]
        post = trained.predict_posterior(maps, log_scale=log_scale)
        for i, r in zip(rows, ood.flag_reasons(maps, post, trained.metadata.get("ood"), log_scale)):
            reasons[i] = r
        parts.append(post)
        order[done:done + len(rows)] = rows
        done += len(rows)
    joined = MassPosterior(np.concatenate([p.mean_dex for p in parts]),
                           np.concatenate([p.sd_dex for p in parts]), parts[0].label_range)
    return joined.select(np.argsort(order)), reasons


def predict_images(trained: TrainedModel, source: data.StoreMaps, images: np.ndarray,
                   cache_mb: float = 256.0) -> np.ndarray:
    """Net output (label scale; an ensemble's median) for ``images`` (model, angle) rows."""
    from gcs_hpc import store as store_api

    post, _ = predict_with_flags(trained, source, images, cache_mb)
    return np.asarray(store_api.mass_to_label(10.0 ** post.median(), trained.metadata["label_attrs"]))


def check_map_definition(trained: TrainedModel, store: str | Path) -> None:
    """Refuse a store whose maps are made differently from the net's training maps.

    Raises
    ------
    ConfigError
        Naming the store, the net and every differing field (store value != net value).
    """
    from gcs_hpc.store import read_map_spec

    diff = trained.map_spec.differences(read_map_spec(store))
    if diff:
        raise ConfigError(f"store {str(store)!r} makes maps differently from the net {trained.path!r} was "
                          f"trained on: {', '.join(diff)} (store != net); allowed: a store made with the "
                          "net's map definition (map_spec in its metadata.json)")


def _source_for(trained: TrainedModel, store: str | Path) -> data.StoreMaps:
    """The store's maps, pointed at the net's target and scale input (:func:`targets.attach`); refuses a
    store with another map definition (:func:`check_map_definition`)."""
    check_map_definition(trained, store)
    source = data.StoreMaps(store, trained.channels)
    meta = trained.metadata
    targets.attach(source, meta.get("target", "M_total"), meta.get("enclosed_radius", "5_r_half"),
                   bool(meta.get("scale_input", False)))
    return source


def posterior_metrics(trained: TrainedModel, source: data.StoreMaps, images: np.ndarray) -> dict:
    """Calibration and out-of-distribution fraction of ``trained`` on ``images`` (the PIT kept aside)."""
    post, reasons = predict_with_flags(trained, source, images)
    truth = np.log10(source.target_mass_msun[images[:, 0]])
    cal = calibration.calibration_metrics(post, truth, images[:, 0])
    return {"calibration": cal, "ood": ood.summarise(reasons),
            "_pit": calibration.pit_values(post, truth), "_posterior": post, "_reasons": reasons}


def ood_suite_images(trained: TrainedModel, source: data.StoreMaps) -> np.ndarray:
    """Done images of the store's suites the net was not trained on (empty when it saw every suite)."""
    if trained.suites is None:
        return np.empty((0, 2), dtype=np.int64)
    done = data.done_models(source.ds)
    suite = data.string_coord(source.ds, "suite")
    return data.images_of(done[~np.isin(suite[done], trained.suites)], source.n_angles)


def evaluate_model(trained: TrainedModel, store: str | Path) -> dict:
    """Predictions and metrics of one trained net (or ensemble) on its test images of ``store``."""
    from gcs_hpc import store as store_api

    source = _source_for(trained, store)
    images, split = test_images(trained, source)
    found = posterior_metrics(trained, source, images)
    attrs = trained.metadata["label_attrs"]  # the net's label scale (another store may have another)
    mass_true = source.target_mass_msun[images[:, 0]]
    label_true = np.asarray(store_api.mass_to_label(mass_true, attrs), float)
    mass_pred = 10.0 ** found["_posterior"].median()
    label_pred = np.asarray(store_api.mass_to_label(mass_pred, attrs), float)
    metrics = error_metrics(mass_pred, mass_true, label_pred, label_true)
    base_label = np.full(len(images), float(trained.metadata["train_label_mean"]))
    base_mass = np.asarray(store_api.label_to_mass(base_label, attrs), float)
    metrics["baseline_mean"] = error_metrics(base_mass, mass_true, base_label, label_true)
    metrics.update({"n_models": int(len(np.unique(images[:, 0]))), "n_images": int(len(images)),
                    "split": split, "arch": trained.metadata["arch"], "channels": trained.channels,
                    "model": trained.path, "store": str(store), "target": trained.target,
                    "head": trained.head, "calibration": found["calibration"], "ood": found["ood"]})
    pits = {"held-out": found["_pit"]}
    suite_images = ood_suite_images(trained, source)
    if len(suite_images):
        extra = posterior_metrics(trained, source, suite_images)
        suites = data.string_coord(source.ds, "suite")[np.unique(suite_images[:, 0])]
        metrics["ood_suite"] = {"suites": sorted(set(suites.tolist())), "calibration": extra["calibration"],
                                "ood": extra["ood"]}
        pits["OOD suite"] = extra["_pit"]
    return {"metrics": metrics, "mass_pred": mass_pred, "mass_true": mass_true, "pits": pits}


def evaluate_ood_store(trained: TrainedModel, store: str | Path) -> tuple[dict, np.ndarray]:
    """Calibration and OOD flags of ``trained`` on every done image of another store (and its PIT)."""
    source = _source_for(trained, store)
    images = data.images_of(data.done_models(source.ds), source.n_angles)
    if len(images) == 0:
        raise ConfigError(f"--ood-store {str(store)!r} has no done model")
    found = posterior_metrics(trained, source, images)
    dex = found["_posterior"].median() - np.log10(source.target_mass_msun[images[:, 0]])
    return ({"store": str(store), "calibration": found["calibration"], "ood": found["ood"],
             "bias_dex": float(np.mean(dex)), "scatter_dex": float(np.std(dex))}, found["_pit"])


def _label(trained_metrics: dict) -> str:
    n = trained_metrics["channels"]
    return f"{trained_metrics['arch']}, {n} channel{'s' if n > 1 else ''}"


def mass_bins(mass_true: np.ndarray, mass_pred: np.ndarray,
              n_bins: int = N_MASS_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre (Msun), mean and sd of the predicted mass in the bins of log10 true mass that hold images:
    ``n_bins`` equal bins from the smallest to the largest true mass, empty bins left out."""
    lo, hi = np.log10(mass_true.min()), np.log10(mass_true.max())
    edges = np.linspace(lo, hi + 1e-9 if hi > lo else lo + 1e-3, n_bins + 1)
    idx = np.clip(np.digitize(np.log10(mass_true), edges) - 1, 0, n_bins - 1)
    held = np.unique(idx)
    centre = 10 ** (0.5 * (edges[held] + edges[held + 1]))
    mean = np.array([mass_pred[idx == b].mean() for b in held])
    sd = np.array([mass_pred[idx == b].std() for b in held])
    return centre, mean, sd


def _images_drawn(errors: dict[str, np.ndarray]) -> str:
    """'N images' (one net, or every net the same N), else 'name: N, name: M images'."""
    counts = {name: len(e) for name, e in errors.items()}
    if len(set(counts.values())) == 1:
        n = next(iter(counts.values()))
        return figure.count(n, "image") + (" per net" if len(counts) > 1 else "")
    return ", ".join(f"{name}: {n}" for name, n in counts.items()) + " images"


def plot_predicted_vs_true(path: Path, mass_true: np.ndarray, mass_pred: np.ndarray, label: str) -> str:
    """Figure 5 of the paper: mean and sd of the predicted mass in bins of true mass (up to
    ``N_MASS_BINS``; the title counts the bins that hold images and the images); return the title."""
    plt = figure.pyplot()
    from matplotlib.ticker import NullFormatter

    centre, mean, sd = mass_bins(mass_true, mass_pred)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.errorbar(centre, mean, yerr=sd, fmt="o", capsize=3, label=label)
    line = [mass_true.min(), mass_true.max()]
    ax.plot(line, line, "k--", lw=1, label="M_p = M_c")
    ax.set(xscale="log", yscale="log", xlabel="true mass M_c [Msun]", ylabel="predicted mass M_p [Msun]",
           title=f"predicted vs true: {figure.count(len(centre), 'mass bin')} with images "
                 f"(of {N_MASS_BINS}), {figure.count(len(mass_true), 'image')}; mean, sd")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.legend()
    fig.tight_layout()
    return figure.save(fig, path)


def plot_errors(hist_path: Path, cdf_path: Path, errors: dict[str, np.ndarray]) -> tuple[str, str]:
    """Figures 6 and 7: histograms of E_i and cumulative distributions of |E_i|, one curve per net;
    return the two titles."""
    plt = figure.pyplot()
    allv = np.concatenate(list(errors.values()))
    bins = np.linspace(np.percentile(allv, 0.5), np.percentile(allv, 99.5) + 1e-9, 41)
    drawn = _images_drawn(errors)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, e in errors.items():
        ax.hist(e, bins=bins, histtype="step", lw=1.5, density=True, label=name)
    ax.set(xlabel="E_i = (M_p - M_c) / M_c", ylabel="normalised number of images",
           title=f"errors E_i, {drawn}")
    ax.legend()
    fig.tight_layout()
    hist_title = figure.save(fig, hist_path)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, e in errors.items():
        a = np.sort(np.abs(e))
        ax.plot(a, np.arange(1, len(a) + 1) / len(a), label=name)
    ax.set(xlabel="|E_i|", ylabel="cumulative fraction of images", title=f"cumulative |E_i|, {drawn}")
    ax.legend()
    fig.tight_layout()
    return hist_title, figure.save(fig, cdf_path)


def evaluate(store: str | Path, model: str | Path, out: str | Path,
             compare: str | Path | None = None, ood_store: str | Path | None = None) -> dict:
    """Evaluate ``model`` (and ``compare``, e.g. the other channel count) on ``store`` (and its
    calibration on ``ood_store``); write ``metrics.json`` and the PNG figures into ``out``; return the
    metrics."""
    out = Path(out)
    trained = load_predictor(model)
    other = None if compare is None else load_predictor(compare)
    for net, where in ((trained, store), (other, store), (trained, ood_store)):  # all before any writing
        if net is not None and where is not None:
            check_map_definition(net, where)
    main = evaluate_model(trained, store)
    results = {"main": main}
    if other is not None:
        results["compare"] = evaluate_model(other, store)
    out.mkdir(parents=True, exist_ok=True)
    metrics = dict(main["metrics"])
    if compare is not None:
        metrics["compare"] = results["compare"]["metrics"]
    plot_predicted_vs_true(out / PLOT_FILES["pred_vs_true"], main["mass_true"], main["mass_pred"],
                           _label(main["metrics"]))
    errors = {_label(r["metrics"]) + ("" if k == "main" else " (compare)"):
              (r["mass_pred"] - r["mass_true"]) / r["mass_true"] for k, r in results.items()}
    plot_errors(out / PLOT_FILES["error_hist"], out / PLOT_FILES["error_cdf"], errors)
    pits = dict(main["pits"])
    if ood_store is not None:
        metrics["ood_store"], pits["OOD store"] = evaluate_ood_store(trained, ood_store)
    calibration.plot_calibration(out / PLOT_FILES["calibration"], pits)
    metrics["plots"] = {k: str(out / v) for k, v in PLOT_FILES.items()}
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=1))
    return metrics


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="python -m gcs_hpc.learn.evaluate", description=__doc__.split("\n")[0])
    p.add_argument("--store", required=True,
                   help="zarr store to evaluate on (the net's own, or one with the same map definition)")
    p.add_argument("--model", required=True, help="folder written by python -m gcs_hpc.learn.train")
    p.add_argument("--compare", default=None, help="second trained model (e.g. other channel count)")
    p.add_argument("--out", required=True, help="folder for metrics.json and the figures")
    p.add_argument("--ood-store", default=None,
                   help="second store (e.g. galaxies outside the training ranges) for calibration and "
                        "OOD flags")
    add_umask_option(p, "metrics.json and the figures")
    return with_help_defaults(p)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status (2 for bad input, with the reason on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        with umask(args.umask, "evaluate"):
            m = evaluate(args.store, args.model, args.out, args.compare, args.ood_store)
    except GcsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = ("accuracy", "mae", "rmse", "bias_dex", "scatter_dex", "n_models", "n_images")
    print(json.dumps({k: m[k] for k in keys}))
    cal = m["calibration"]
    ood = f"out of distribution: {m['ood']['fraction_flagged']:.3f}"
    if cal["median_width_95_dex"] == 0.0:  # one point net: its intervals have no width, coverage means nothing
        print("calibration: none (a single point net gives no intervals: train with --head gaussian, or an "
              f"ensemble with python -m gcs_hpc.learn.ensemble); {ood}")
    else:
        print(f"calibration: 68% interval covers {cal['coverage_68']:.3f}, 95% covers {cal['coverage_95']:.3f} "
              f"({cal['n_members']} member(s)); {ood}")
    print(f"metrics: {Path(args.out) / METRICS_FILE}; plots: {', '.join(m['plots'].values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
