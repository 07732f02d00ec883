"""Learning curve: how the CNN's accuracy grows with the number of training galaxies, against the classic
estimators on the same held-out galaxies.

One store, one by-model split: a fixed set of held-out galaxies (``test_fraction`` of the done models
of ``suites``, drawn with ``seed``) and the rest as the training pool, taken in a fixed random order so
that the N = 50 galaxies are inside the N = 100 ones and so on. For every N and target (``M_total``,
``M_5r_half``) an ensemble (:mod:`gcs_hpc.experiments.fit`) is trained on all the stored views of the
first N training galaxies and judged on ``n_views`` stored views of every held-out galaxy:

- ``bias``, ``scatter`` (standard deviation) and ``rms`` of ``log10(M_pred / M_true)`` over the held-out
  (galaxy, view) pairs, in dex;
- ``coverage_68``, ``coverage_95``: the share of those pairs whose true mass lies in the central 68%
  (95%) interval of the ensemble's mixture (None for a single point net).

The classic estimators see the same (galaxy, view) pairs (for M_total all the GCs; for M(<5 R_half)
the GCs inside 5 R_half of that view, with the outer radius 5 R_half), each calibrated by one
constant: the median of ``log10(M_true / M_est)`` over the views of the same N training galaxies (so
the comparison is fair: the CNN is fitted on those galaxies too). A constant does not change the
scatter, only the bias, so the classic scatter is a horizontal line of the curve.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc import figure, store
from gcs_hpc.config import check_range
from gcs_hpc.errors import ConfigError
from gcs_hpc.experiments.fit import FitConfig, predict_ensemble, train_ensemble
from gcs_hpc.experiments.sample import Sample, view_angles
from gcs_hpc.experiments.galaxy_views import observed_views, stored_views

#: Training-set sizes of the curve (those above the pool are dropped; the whole pool is added).
SIZES: tuple[int, ...] = (50, 100, 200, 500, 1000, 2000)
#: Margin added on both sides of a target's range when it has no store label range, dex.
RANGE_MARGIN_DEX = 0.05


def split_models(sample: Sample, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(training pool in its fixed random order, held-out rows sorted), as rows of ``sample``."""
    check_range("curve", "test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    perm = np.random.default_rng(seed).permutation(len(sample))
    n_test = max(1, int(round(test_fraction * len(sample))))
    if len(sample) - n_test < 2:
        raise ConfigError(f"curve: {len(sample)} done galaxies leave {len(sample) - n_test} for training; "
                          "need at least 2")
    return perm[n_test:], np.sort(perm[:n_test])


def target_range(sample: Sample, target: str) -> tuple[float, float]:
    """Label range (dex) of ``target``: the store's label range for M_total, else the sample's span."""
    attrs = sample.label_attrs
    if target == "M_total" and store.LABEL_LOG10_MASS_MIN in attrs:
        return float(attrs[store.LABEL_LOG10_MASS_MIN]), float(attrs[store.LABEL_LOG10_MASS_MAX])
    values = sample.log_mass[target][np.isfinite(sample.log_mass[target])]
    return float(values.min() - RANGE_MARGIN_DEX), float(values.max() + RANGE_MARGIN_DEX)


def error_stats(err: np.ndarray) -> dict[str, float]:
    """Bias, scatter (ddof 1), rms and count of finite errors (dex)."""
    err = np.asarray(err, dtype=np.float64).ravel()
    err = err[np.isfinite(err)]
    if len(err) < 2:
        return {"n": int(len(err)), "bias": float("nan"), "scatter": float("nan"), "rms": float("nan")}
    return {"n": int(len(err)), "bias": float(err.mean()), "scatter": float(err.std(ddof=1)),
            "rms": float(np.sqrt(np.mean(err ** 2)))}


def calibrated_classic(log_est: dict[str, np.ndarray], truth: np.ndarray, train: np.ndarray,
                       test: np.ndarray) -> dict[str, dict[str, float]]:
    """Each estimator's held-out errors after the constant fitted on ``train`` rows: stats plus ``offset``.

    ``log_est[name]`` is (n_rows, n_views) log10 Msun; ``truth`` (n_rows,); rows index both.
    """
    out = {}
    for name, est in log_est.items():
        resid = truth[train, None] - est[train]
        resid = resid[np.isfinite(resid)]
        offset = float(np.median(resid)) if len(resid) else float("nan")
        out[name] = {**error_stats(est[test] + offset - truth[test, None]), "offset": offset}
    return out


def cnn_stats(pred: Any, truth: np.ndarray) -> dict[str, Any]:
    """Bias/scatter/rms of the mixture median and the coverage of its 68% and 95% intervals."""
    med = pred.median()
    out: dict[str, Any] = error_stats(med - truth)
    for level in (0.68, 0.95):
        lo, hi = pred.interval(level)
        key = f"coverage_{round(100 * level)}"
        out[key] = None if np.all(np.isnan(lo)) else float(np.mean((truth >= lo) & (truth <= hi)))
    return out


def learning_curve(sample: Sample, fit: FitConfig, *, observation: Any = None, sizes: Sequence[int] = SIZES,
                   n_views: int = 4, train_views: int | None = None, test_fraction: float = 0.2,
                   seed: int = 0,
                   targets: Sequence[str] | None = None, keep_nets: bool = False,
                   log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and judge the curve (see module doc); returns a JSON-ready dict.

    ``observation``: None for the store's ideal maps, or an ObservationSpec whose draws make the
    training views (``train_views`` random directions per galaxy, default the store's angle count) and
    the held-out and calibration views (``n_views`` stored angles, one draw each), see
    :mod:`gcs_hpc.experiments.galaxy_views`. Keys: ``sizes``, ``n_test_galaxies``, ``views``, ``fit`` and per
    target ``curves[target]``: a list of ``{"n_train", "cnn": stats, "classic": {name: stats},
    "wall_s"}``; with ``keep_nets`` also ``_nets[target]``: the largest N's Keras models (not JSON).
    """
    targets = sample.targets if targets is None else tuple(targets)
    for t in targets:
        if t not in sample.log_mass:
            raise ConfigError(f"curve: target {t!r} is not in this store; allowed: "
                              f"{', '.join(sample.targets)}")
    pool, test = split_models(sample, test_fraction, seed)
    use = sorted({int(n) for n in sizes if 0 < n < len(pool)} | {len(pool)})
    angles = view_angles(sample.maps.shape[1], n_views)
    rows = np.concatenate([pool, test])
    with_classic = tuple(targets) if sample.phase_space is not None else ()
    name = "ideal (stored maps)" if observation is None else f"observation model {observation.name!r}"
    log(f"curve [{name}]: {len(pool)} training galaxies in the pool, {len(test)} held out, views "
        f"{angles.tolist()}; classic estimators on {len(rows)} galaxies")
    t0 = time.perf_counter()
    if observation is None:
        judged = stored_views(sample, rows, angles, with_classic)
        train_all = stored_views(sample, pool, np.arange(sample.maps.shape[1]))
    else:
        judged = observed_views(sample, rows, observation, n_views=len(angles), seed=seed + 1, angles=angles,
                                classic_targets=with_classic)
        train_all = observed_views(sample, pool, observation, n_views=train_views or sample.maps.shape[1],
                                   seed=seed + 2)
    views_s = time.perf_counter() - t0
    pos = {int(r): i for i, r in enumerate(rows)}
    at_test = np.array([pos[int(r)] for r in test])
    test_images = judged.images[at_test].reshape(-1, *judged.images.shape[2:])
    test_scale = None if judged.log_scale is None else judged.log_scale[at_test].reshape(-1)
    curves: dict[str, list[dict[str, Any]]] = {}
    kept: dict[str, list[Any]] = {}
    per_galaxy = train_all.images.shape[1]
    for target in targets:
        truth_all = sample.log_mass[target]
        truth = truth_all[rows]            # in judged-row order
        rng_dex = target_range(sample, target)
        log_est = judged.classic.get(target, {})
        out_rows = []
        for n in use:
            t1 = time.perf_counter()
            images = train_all.images[:n].reshape(-1, *train_all.images.shape[2:])
            scale = None if train_all.log_scale is None else train_all.log_scale[:n].reshape(-1)
            labels = np.repeat(truth_all[pool[:n]], per_galaxy)
            nets = train_ensemble(images, labels, rng_dex, fit, scale)
            pred = predict_ensemble(nets, test_images, rng_dex, fit, test_scale)
            cnn = cnn_stats(pred, np.repeat(truth_all[test], len(angles)))
            row = {"n_train": int(n), "cnn": cnn,
                   "classic": calibrated_classic(log_est, truth, np.arange(n), at_test),
                   "wall_s": time.perf_counter() - t1}
            out_rows.append(row)
            best = best_classic(row)
            log(f"curve {target} N={n}: CNN scatter {cnn['scatter']:.3f} dex, bias {cnn['bias']:+.3f}, "
                f"coverage 68/95 {cnn['coverage_68']}/{cnn['coverage_95']}"
                + (f"; best classic {best[0]} {best[1]:.3f} dex" if best else "")
                + f" ({row['wall_s']:.0f} s)")
            if keep_nets and n == use[-1]:
                kept[target] = nets
        curves[target] = out_rows
    result = {"observation": None if observation is None else observation.name, "sizes": use,
              "n_pool": int(len(pool)), "n_test_galaxies": int(len(test)),
              "test_models": sample.models[test].tolist(), "views": angles.tolist(), "seed": seed,
              "test_fraction": test_fraction, "fit": {**fit.__dict__, "head": fit.resolved_head},
              "label_ranges": {t: list(target_range(sample, t)) for t in targets},
              "views_s": views_s, "curves": curves}
    if keep_nets:
        result["_nets"] = kept
    return result


def best_classic(row: dict[str, Any]) -> tuple[str, float] | None:
    """(name, scatter) of the classic estimator with the smallest held-out scatter in one curve row."""
    items = [(k, v["scatter"]) for k, v in row["classic"].items() if np.isfinite(v["scatter"])]
    return min(items, key=lambda kv: kv[1]) if items else None


def plot_curve(result: dict[str, Any], path: Any) -> str:
    """Scatter and coverage against training galaxies, one column per target, classic lines dashed;
    return the title (training sizes drawn, held-out galaxies and views)."""
    plt = figure.pyplot()
    targets = list(result["curves"])
    fig, axes = plt.subplots(2, len(targets), figsize=(5.5 * len(targets), 7), squeeze=False,
                             constrained_layout=True)
    for j, target in enumerate(targets):
        rows = result["curves"][target]
        n = [r["n_train"] for r in rows]
        ax = axes[0, j]
        ax.plot(n, [r["cnn"]["scatter"] for r in rows], "o-", color="k", label="CNN (ensemble median)")
        for k, name in enumerate(rows[-1]["classic"]):
            ax.axhline(rows[-1]["classic"][name]["scatter"], ls="--", color=f"C{k}",
                       label=f"{name} (calibrated)")
        ax.set_xscale("log")
        ax.set_xlabel("training galaxies")
        ax.set_ylabel(f"scatter of log10(M/M_true), dex: {target}")
        ax.legend(fontsize=8)
        ax = axes[1, j]
        for level, marker in ((68, "o"), (95, "s")):
            cov = [r["cnn"][f"coverage_{level}"] for r in rows]
            if any(c is not None for c in cov):
                ax.plot(n, [np.nan if c is None else c for c in cov], marker + "-",
                        label=f"{level}% interval")
            ax.axhline(level / 100, ls=":", color="grey")
        ax.set_ylim(0, 1.02)
        ax.set_xscale("log")
        ax.set_xlabel("training galaxies")
        ax.set_ylabel("coverage on held-out views")
        ax.legend(fontsize=8)
    obs = result.get("observation")
    setting = "ideal maps" if obs is None else f"observation model {obs}"
    n_sizes = sorted({len(rows) for rows in result["curves"].values()})
    sizes = figure.count(n_sizes[0], "training size") if len(n_sizes) == 1 else \
        f"{'/'.join(map(str, n_sizes))} training sizes"
    fig.suptitle(f"Learning curve ({setting}): {sizes}, "
                 f"{result['n_test_galaxies']} held-out galaxies x {len(result['views'])} views")
    return figure.save(fig, path)
