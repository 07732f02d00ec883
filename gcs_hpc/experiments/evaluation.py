"""Evaluation of an experiment's nets: learn's evaluation on clean test maps, and on noisy ones.

Clean maps go through :func:`gcs_hpc.learn.evaluate.evaluate` (``metrics.json`` and the figures 5 to 7
of the paper). For test maps with Gaussian noise per pixel (the paper's DL5 test: noise on the maps a net
is asked about) the same functions of :mod:`gcs_hpc.learn.evaluate` run on a reader that adds the noise,
seeded, as the maps are read: :class:`NoisyStoreMaps`.
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


def evaluate_noisy(model_dir: str | Path, store: str | Path, noise_kms: float, seed: int = 0) -> dict[str, Any]:
    """Metrics of the net in ``model_dir`` on its test images of ``store`` with noisy maps.

    Returns the same keys as :func:`gcs_hpc.learn.evaluate.evaluate_model`'s metrics, plus
    ``eval_noise_kms``.
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
    metrics.update({"n_models": int(len(np.unique(images[:, 0]))), "n_images": int(len(images)),
                    "split": split, "arch": trained.metadata["arch"], "channels": trained.channels,
                    "model": str(model_dir), "store": str(store), "eval_noise_kms": float(noise_kms)})
    return metrics


def evaluate_clean(model_dirs: Sequence[Path], store: Path, out: Path) -> dict[int, dict[str, Any]]:
    """Run learn's evaluation (metrics.json, figures) for one net, or two compared (1 vs 2 channels);
    return the metrics per channel count."""
    from gcs_hpc.learn.evaluate import evaluate

    metrics = evaluate(store, model_dirs[0], out, compare=model_dirs[1] if len(model_dirs) > 1 else None)
    by_channels = {int(metrics["channels"]): {k: v for k, v in metrics.items() if k != "compare"}}
    if "compare" in metrics:
        by_channels[int(metrics["compare"]["channels"])] = metrics["compare"]
    for m in by_channels.values():
        m["eval_noise_kms"] = 0.0
    return by_channels
