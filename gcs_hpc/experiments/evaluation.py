"""Evaluation of an experiment's nets on their test images, clean or with noisy maps.

:func:`evaluate_net` runs the functions of :mod:`gcs_hpc.learn.evaluate` (test images re-made from the
net's split, predictions, the paper's metrics and errors in dex) on a reader that adds Gaussian noise per
pixel, seeded, as the maps are read (:class:`NoisyStoreMaps`; noise 0 gives the clean maps), and adds
standard errors from a bootstrap over test galaxies. :func:`write_figures` runs learn's own evaluation
(``metrics.json``, the paper's figures 5 to 7 as PNG) on the clean maps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.learn import data


class NoisyStoreMaps(data.StoreMaps):
    """:class:`gcs_hpc.learn.data.StoreMaps` whose maps carry Gaussian noise of ``noise_kms`` per pixel.

    The noise of model ``m`` is drawn from a generator seeded by ``(seed, m)``, so a map gets the same
    noise whichever block it is read in, and two nets evaluated with one seed see the same noisy maps
    (their first ``channels`` channels).
    """

    def __init__(self, path: str | Path, channels: int, noise_kms: float, seed: int = 0) -> None:
        check_range("evaluation", "noise_kms", noise_kms, 0.0, 1000.0)
        super().__init__(path, channels)
        self.noise_kms = float(noise_kms)
        self.seed = int(seed)
        self._n_store_channels = int(self.ds.sizes["channel"])

    def read_models(self, models: Sequence[int]) -> np.ndarray:
        block = super().read_models(models)
        if self.noise_kms == 0:
            return block
        noisy = np.empty_like(block)
        shape = (block.shape[1], self._n_store_channels) + block.shape[3:]
        for k, m in enumerate(np.asarray(models, dtype=np.int64)):
            rng = np.random.default_rng([self.seed, int(m)])
            noise = rng.normal(0.0, self.noise_kms, size=shape).astype(np.float32)
            noisy[k] = block[k] + noise[:, self._channel_index]
        return noisy


def evaluate_net(model_dir: str | Path, store: str | Path, noise_kms: float = 0.0, seed: int = 0,
                 n_bootstrap: int = 1000) -> dict[str, Any]:
    """Metrics of the net in ``model_dir`` on its test images of ``store``, maps with ``noise_kms`` noise.

    Returns the keys of :func:`gcs_hpc.learn.evaluate.error_metrics` (accuracy, mae, rmse, bias_dex,
    scatter_dex, median_abs_error), ``baseline_mean`` (predicting the training mean), ``n_models``,
    ``n_images``, ``split``, ``eval_noise_kms``, and the standard errors ``accuracy_se`` and
    ``scatter_dex_se`` from a bootstrap over the test *galaxies* (their views are not independent).
    """
    from gcs_hpc import store as store_api
    from gcs_hpc.learn import evaluate
    from gcs_hpc.learn.predict import load_trained

    trained = load_trained(model_dir)
    source = NoisyStoreMaps(store, trained.channels, noise_kms, seed)
    images, split = evaluate.test_images(trained, source)
    label_pred = evaluate.predict_images(trained, source, images)
    label_true = source.labels[images[:, 0]].astype(float)
    attrs = trained.metadata["label_attrs"]
    mass_pred = np.asarray(store_api.label_to_mass(label_pred, attrs), float)
    mass_true = source.mass_msun[images[:, 0]]
    metrics = evaluate.error_metrics(mass_pred, mass_true, label_pred, label_true)
    base_label = np.full(len(images), float(trained.metadata["train_label_mean"]))
    base_mass = np.asarray(store_api.label_to_mass(base_label, attrs), float)
    metrics["baseline_mean"] = evaluate.error_metrics(base_mass, mass_true, base_label, label_true)
    metrics.update(bootstrap_errors(images[:, 0], mass_pred, mass_true, n_bootstrap, seed))
    metrics.update({"n_models": int(len(np.unique(images[:, 0]))), "n_images": int(len(images)),
                    "split": split, "arch": trained.metadata["arch"], "channels": trained.channels,
                    "model": str(model_dir), "store": str(store), "eval_noise_kms": float(noise_kms)})
    return metrics


def bootstrap_errors(model_of_image: np.ndarray, mass_pred: np.ndarray, mass_true: np.ndarray,
                     n_bootstrap: int = 1000, seed: int = 0) -> dict[str, float]:
    """Standard errors of accuracy and scatter (dex) from resampling whole test galaxies."""
    models, inverse = np.unique(model_of_image, return_inverse=True)
    e = np.abs(mass_pred - mass_true) / mass_true
    dex = np.log10(mass_pred / mass_true)
    rng = np.random.default_rng(seed)
    acc, scat = [], []
    for _ in range(n_bootstrap):
        pick = rng.integers(0, len(models), len(models))
        weight = np.bincount(pick, minlength=len(models))[inverse]
        acc.append(1.0 - np.average(e, weights=weight))
        mean = np.average(dex, weights=weight)
        scat.append(np.sqrt(np.average((dex - mean) ** 2, weights=weight)))
    return {"accuracy_se": float(np.std(acc)), "scatter_dex_se": float(np.std(scat))}


def write_figures(model_dirs: Sequence[Path], store: Path, out: Path) -> dict[str, Any]:
    """learn's evaluation of one net, or two compared (1 vs 2 channels): ``metrics.json`` and the paper's
    figures 5 to 7 as PNG in ``out``; returns its metrics (a cross-check of :func:`evaluate_net`)."""
    from gcs_hpc.learn.evaluate import evaluate

    return evaluate(store, model_dirs[0], out, compare=model_dirs[1] if len(model_dirs) > 1 else None)
