"""The paper's Tables 2 and 3 at the workstation scale: disks and mergers together, split by model and by
image, one- and two-channel nets, with the observation model off and on, and the classic estimators on
the same held-out images.

Images. Off (``observation=None``, the paper's setting): the store's maps along every stored angle. On:
one observation draw per galaxy and stored angle (:func:`gcs_hpc.experiments.galaxy_views.observed_views`
along the stored angles, seeded), so every image is a new draw of which GCs have velocities, their
errors, the radial coverage and the interlopers.

Splits (``test_fraction``, ``seed``):

- ``model``: the learning curve's held-out galaxies (:func:`gcs_hpc.experiments.curves.split_models`
  with the same fraction and seed); every image of a held-out galaxy is a test image and none of its
  views is trained on;
- ``image``: the paper's random split of the images; views of one galaxy sit on both sides (leakage).

Per split and channel count an ensemble (:mod:`gcs_hpc.experiments.fit`) trains on the training images
with the paper's target, M_total (labels on the store's label range), and predicts the test images.
Metrics (:func:`dex_metrics`): those of :func:`gcs_hpc.learn.evaluate.error_metrics` (``accuracy`` =
1 - mean |E_i|, ``mae`` and ``rmse`` on the 0..10 label scale, ``bias_dex``, ``scatter_dex``,
``median_abs_error``), ``within_<tol>_dex`` (share of test images with |log10 M_p/M_c| <= tol, for
:data:`TOLERANCES_DEX`), standard errors of accuracy and scatter from a bootstrap over the test galaxies,
the coverage of the ensemble's 68% and 95% intervals and the predict-the-training-mean baseline. The
classic estimators run on the same test images (with the observation model: on the GCs that image saw,
with their velocity errors), each calibrated by one constant, the median of log10(M_true / M_est) over
at most :data:`CALIBRATION_IMAGES` random training images, and get the same metrics.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc.config import check_choice, check_range
from gcs_hpc.experiments.curves import cnn_stats, split_models, target_range
from gcs_hpc.experiments.fit import FitConfig, predict_ensemble, train_ensemble
from gcs_hpc.experiments.galaxy_views import Views, observed_views, stored_views
from gcs_hpc.experiments.sample import Sample
from gcs_hpc.store.labels import LABEL_MAX

#: The paper's target (Tables 2 and 3).
TARGET = "M_total"
SPLITS: tuple[str, ...] = ("model", "image")
CHANNELS: tuple[int, ...] = (1, 2)
#: Tolerances of the ``within_<tol>_dex`` shares.
TOLERANCES_DEX: tuple[float, ...] = (0.1, 0.2)
#: Training images (at most) whose classic estimates fit each estimator's calibration constant.
CALIBRATION_IMAGES = 2000
#: Bootstrap resamples of the test galaxies for the standard errors.
N_BOOTSTRAP = 200
#: Seed offset of the observation draws (the learning curve uses seed + 1 and seed + 2).
DRAW_SEED_OFFSET = 3


def split_masks(sample: Sample, split: str, test_fraction: float = 0.2, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) boolean masks over (galaxy row, stored angle) of ``sample``; see the module doc."""
    check_choice("tables", "split", split, SPLITS)
    check_range("tables", "test_fraction", test_fraction, 0.0, 1.0, low_open=True, high_open=True)
    shape = (len(sample), sample.maps.shape[1])
    test = np.zeros(shape, dtype=bool)
    if split == "model":
        _, held_out = split_models(sample, test_fraction, seed)
        test[held_out] = True
    else:
        n = shape[0] * shape[1]
        pick = np.random.default_rng(seed).permutation(n)[:max(1, int(round(test_fraction * n)))]
        test.flat[pick] = True
    return ~test, test


def calibration_mask(train: np.ndarray, seed: int, cap: int = CALIBRATION_IMAGES) -> np.ndarray:
    """At most ``cap`` random true entries of ``train`` (the classic estimators' calibration images)."""
    where = np.flatnonzero(train)
    keep = np.zeros(train.shape, dtype=bool)
    if len(where) > cap:
        where = np.random.default_rng(seed).choice(where, cap, replace=False)
    keep.flat[where] = True
    return keep


def dex_metrics(log_pred: np.ndarray, log_true: np.ndarray, label_range: Sequence[float],
                galaxy: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """The metrics of the module doc for predictions ``log_pred`` of ``log_true`` (log10 Msun, one per
    test image; non-finite predictions are left out and counted), ``galaxy`` the galaxy of each image."""
    from gcs_hpc.experiments.evaluation import bootstrap_errors
    from gcs_hpc.learn.evaluate import error_metrics

    log_pred, log_true = np.asarray(log_pred, float), np.asarray(log_true, float)
    ok = np.isfinite(log_pred)
    out: dict[str, Any] = {"n_images": int(ok.sum()), "n_left_out": int((~ok).sum()),
                           "n_galaxies": int(len(np.unique(galaxy[ok])))}
    if ok.sum() < 2:
        return out
    lp, lt = log_pred[ok], log_true[ok]
    lo, hi = (float(v) for v in label_range)
    out.update(error_metrics(10.0 ** lp, 10.0 ** lt, LABEL_MAX * (lp - lo) / (hi - lo),
                             LABEL_MAX * (lt - lo) / (hi - lo)))
    for tol in TOLERANCES_DEX:
        out[f"within_{tol:g}_dex"] = float(np.mean(np.abs(lp - lt) <= tol))
    out.update(bootstrap_errors(galaxy[ok], 10.0 ** lp, 10.0 ** lt, N_BOOTSTRAP, seed))
    return out


def classic_metrics(views: Views, truth: np.ndarray, calibrate: np.ndarray, test: np.ndarray,
                    label_range: Sequence[float], galaxy: np.ndarray) -> dict[str, dict[str, Any]]:
    """Each classic estimator on the ``test`` images after its constant fitted on the ``calibrate`` ones
    (masks over (row, view); ``truth`` and ``galaxy`` broadcast to that grid): metrics plus ``offset``."""
    out = {}
    for name, est in views.classic.get(TARGET, {}).items():
        resid = truth[calibrate] - est[calibrate]
        resid = resid[np.isfinite(resid)]
        offset = float(np.median(resid)) if len(resid) else float("nan")
        out[name] = {**dex_metrics(est[test] + offset, truth[test], label_range, galaxy[test]),
                     "offset": offset, "n_calibration": int(len(resid))}
    return out


def make_views(sample: Sample, observation: Any, classic: np.ndarray, seed: int) -> Views:
    """Every galaxy along every stored angle: stored maps, or one observation draw each; classic
    estimates of M_total where ``classic`` (rows, angles) is true."""
    rows, angles = np.arange(len(sample)), np.arange(sample.maps.shape[1])
    if observation is None:
        return stored_views(sample, rows, angles, (TARGET,), classic)
    return observed_views(sample, rows, observation, n_views=len(angles), seed=seed, angles=angles,
                          classic_targets=(TARGET,), classic_mask=classic)


def paper_tables(sample: Sample, fit: FitConfig, observation: Any = None, *,
                 splits: Sequence[str] = SPLITS, channels: Sequence[int] = CHANNELS,
                 test_fraction: float = 0.2, seed: int = 0,
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """The tables' cells for one setting (``observation`` None: the store's maps); JSON-ready.

    Keys: ``observation``, ``target``, ``label_range``, ``fit`` (``channels`` per cell), ``views_s``,
    ``wall_s`` and ``splits[split]``: ``n_train_images``, ``n_train_galaxies``, ``n_test_images``,
    ``n_test_galaxies``, ``classic`` ({estimator: metrics}), ``cnn`` ({channels as text: metrics})
    and ``wall_s``; for the ``model`` split also ``test_models`` (store indices of the held-out galaxies).
    """
    for c in channels:
        check_choice("tables", "channels", c, CHANNELS)
    t_start = time.perf_counter()
    masks = {s: split_masks(sample, s, test_fraction, seed) for s in splits}
    calib = {s: calibration_mask(train, seed + k) for k, (s, (train, _)) in enumerate(masks.items())}
    need = np.zeros((len(sample), sample.maps.shape[1]), dtype=bool)
    for s, (_, test) in masks.items():
        need |= test | calib[s]
    views = make_views(sample, observation, need, seed + DRAW_SEED_OFFSET)
    views_s = time.perf_counter() - t_start
    truth = np.broadcast_to(sample.log_mass[TARGET][:, None], need.shape)
    galaxy = np.broadcast_to(sample.models[:, None], need.shape)
    label_range = target_range(sample, TARGET)
    name = "ideal" if observation is None else observation.name
    out: dict[str, Any] = {"observation": None if observation is None else observation.name,
                           "target": TARGET, "label_range": list(label_range), "views_s": views_s,
                           "test_fraction": test_fraction, "seed": seed,
                           "fit": {**fit.__dict__, "head": fit.resolved_head, "channels": list(channels)},
                           "splits": {}}
    for s, (train, test) in masks.items():
        t0 = time.perf_counter()
        entry: dict[str, Any] = {
            "n_train_images": int(train.sum()), "n_train_galaxies": int(train.any(axis=1).sum()),
            "n_test_images": int(test.sum()), "n_test_galaxies": int(test.any(axis=1).sum()),
            "classic": classic_metrics(views, truth, calib[s], test, label_range, galaxy), "cnn": {}}
        if s == "model":
            entry["test_models"] = sample.models[test.any(axis=1)].tolist()
        scale = views.log_scale
        for c in channels:
            t1 = time.perf_counter()
            cfg = dataclasses.replace(fit, channels=int(c))
            nets = train_ensemble(views.images[train], truth[train], label_range, cfg,
                                  None if scale is None else scale[train])
            pred = predict_ensemble(nets, views.images[test], label_range, cfg,
                                    None if scale is None else scale[test])
            cell = dex_metrics(pred.median(), truth[test], label_range, galaxy[test], seed)
            stats = cnn_stats(pred, truth[test])
            cell.update({k: stats[k] for k in ("coverage_68", "coverage_95")})
            mean = np.full(int(test.sum()), float(np.mean(truth[train])))
            base = dex_metrics(mean, truth[test], label_range, galaxy[test], seed)
            cell["baseline_mean"] = {k: base.get(k) for k in ("accuracy", "mae", "rmse", "bias_dex",
                                                              "scatter_dex")}
            cell["wall_s"] = time.perf_counter() - t1
            entry["cnn"][str(c)] = cell
            log(f"tables [{name}] split {s}, {c} channel(s): accuracy "
                f"{cell.get('accuracy', float('nan')):.3f}, scatter "
                f"{cell.get('scatter_dex', float('nan')):.3f} dex ({cell['wall_s']:.0f} s)")
        entry["wall_s"] = time.perf_counter() - t0
        out["splits"][s] = entry
    out["wall_s"] = time.perf_counter() - t_start
    return out
