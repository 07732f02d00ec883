"""Small in-memory trainings for the workstation studies: K nets on the maps of N galaxies, one target.

The learning curve trains many nets on subsets of one store (50 .. 2000 galaxies, two targets); the
store-backed trainer (:func:`gcs_hpc.learn.train.train`, checkpoints, multi-worker) is built for one big
net, so this trains the same Keras nets (:func:`gcs_hpc.learn.nets.build_net`, the paper's layers) from
arrays already in memory. Targets are ``log10 M`` in dex, mapped linearly onto the paper's 0..10 label
scale over a range fixed by the caller (the store's label range for M_total), so every net of a curve
sees the same scale.

Head: ``"gaussian"`` (mean and log-variance, Gaussian negative log-likelihood; helper F's
:func:`gcs_hpc.learn.nets.per_image_loss`) where the installed nets have it, else ``"point"`` (squared
error). An ensemble of K members (seeds ``seed .. seed + K - 1``) is combined as the equal-weight mixture
of :class:`gcs_hpc.learn.posterior.MassPosterior`; K point nets give their spread as the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcs_hpc.config import check_choice, check_range
from gcs_hpc.errors import ConfigError
from gcs_hpc.store.labels import LABEL_MAX

#: Images per forward pass in predictions.
PREDICT_BATCH = 4096


def available_heads() -> tuple[str, ...]:
    """Heads the installed :mod:`gcs_hpc.learn.nets` builds (``point`` always)."""
    from gcs_hpc.learn import nets

    return tuple(getattr(nets, "HEADS", {"point": 1}))


@dataclass(frozen=True)
class FitConfig:
    """How each net of a study is trained.

    Attributes
    ----------
    arch, channels
        Net (``conv2``/``conv4``) and input channels (1: sigma, 2: sigma and V).
    head
        ``gaussian`` or ``point``; ``auto``: gaussian where available.
    members
        Nets per ensemble (K).
    steps
        Optimiser steps per net (at least ``min_epochs`` epochs over the training images).
    min_epochs
        Fewest passes over the training images.
    batch_size, learning_rate, seed
        Adam's batch size and rate; seed of the first member (member k: seed + k).
    noise_kms
        Gaussian noise per pixel added to training batches, km/s.
    """

    arch: str = "conv2"
    channels: int = 2
    head: str = "auto"
    members: int = 3
    steps: int = 3000
    min_epochs: int = 3
    batch_size: int = 64
    learning_rate: float = 1.0e-3
    seed: int = 0
    noise_kms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        check_choice("fit", "arch", self.arch, ("conv2", "conv4"))
        check_choice("fit", "channels", self.channels, (1, 2))
        check_choice("fit", "head", self.head, ("auto", "point", "gaussian"))
        check_range("fit", "members", self.members, 1, 100)
        check_range("fit", "steps", self.steps, 1, 10_000_000)
        check_range("fit", "min_epochs", self.min_epochs, 1, 100_000)
        check_range("fit", "batch_size", self.batch_size, 1, 100_000)
        check_range("fit", "learning_rate", self.learning_rate, 0.0, 10.0, low_open=True)
        check_range("fit", "noise_kms", self.noise_kms, 0.0, 1000.0)
        if self.head == "gaussian" and "gaussian" not in available_heads():
            raise ConfigError("fit.head = 'gaussian' needs gcs_hpc.learn.nets with a gaussian head; allowed "
                              f"here: {', '.join(available_heads())} or auto")

    @property
    def resolved_head(self) -> str:
        """The head actually trained."""
        if self.head != "auto":
            return self.head
        return "gaussian" if "gaussian" in available_heads() else "point"


@dataclass(frozen=True)
class Prediction:
    """An ensemble's prediction per image, in dex: mixture of ``members`` Gaussians (sd 0: points)."""

    mean: np.ndarray   # (n_images, K)
    sd: np.ndarray     # (n_images, K)
    lo: float
    hi: float

    def posterior(self) -> Any:
        """The :class:`gcs_hpc.learn.posterior.MassPosterior` mixture (label range attached)."""
        from gcs_hpc.learn.posterior import MassPosterior

        return MassPosterior(self.mean, self.sd, (self.lo, self.hi))

    def median(self) -> np.ndarray:
        """Median of the mixture per image, dex."""
        return np.asarray(self.posterior().median())

    def interval(self, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval per image, dex (NaN when one point net gives no spread)."""
        if np.all(self.sd == 0) and self.mean.shape[1] == 1:
            nan = np.full(len(self.mean), np.nan)
            return nan, nan
        lo, hi = self.posterior().interval(level)
        return np.asarray(lo), np.asarray(hi)


def _inputs(maps: np.ndarray, channels: int) -> np.ndarray:
    from gcs_hpc.learn.data import maps_to_inputs

    return maps_to_inputs(maps[:, :channels])


def _feed(x: np.ndarray, log_scale: np.ndarray | None) -> Any:
    """A net's input: the maps, or maps and scale (log10 kpc) for nets built with ``scale_input``."""
    if log_scale is None:
        return x
    return {"maps": x, "scale": np.asarray(log_scale, dtype=np.float32).reshape(-1, 1)}


def train_ensemble(maps: np.ndarray, log_mass: np.ndarray, label_range: tuple[float, float],
                   cfg: FitConfig, log_scale: np.ndarray | None = None) -> list[Any]:
    """Train ``cfg.members`` nets on images ``maps`` (n, 2, npix, npix) km/s with targets ``log_mass`` (n,)
    in dex, labels 10 (log M - lo) / (hi - lo); with ``log_scale`` (n,) (log10 of the map unit in kpc)
    the nets take it as a second input. Returns the Keras models."""
    import tensorflow as tf

    from gcs_hpc.learn import nets

    lo, hi = (float(v) for v in label_range)
    if not hi > lo:
        raise ConfigError(f"fit: label range {label_range} must have hi > lo")
    if len(maps) != len(log_mass) or len(maps) == 0:
        raise ConfigError(f"fit: {len(maps)} images and {len(log_mass)} targets; need equal, > 0")
    x_all = _inputs(maps, cfg.channels)
    y_all = (LABEL_MAX * (np.asarray(log_mass, dtype=np.float64) - lo) / (hi - lo))
    y_all = y_all.astype(np.float32)[:, None]
    head = cfg.resolved_head
    s_all = None if log_scale is None else np.asarray(log_scale, dtype=np.float32).reshape(-1)
    if s_all is not None and len(s_all) != len(x_all):
        raise ConfigError(f"fit: {len(x_all)} images and {len(s_all)} scales; need equal")
    n = len(x_all)
    steps = max(cfg.steps, cfg.min_epochs * math.ceil(n / cfg.batch_size))
    models = []
    for k in range(cfg.members):
        seed = cfg.seed + k
        kwargs: dict[str, Any] = {"head": head} if head != "point" else {}
        if s_all is not None:
            kwargs["scale_input"] = True
        model = nets.build_net(cfg.arch, cfg.channels, npix=maps.shape[-1], seed=seed, **kwargs)
        opt = tf.keras.optimizers.Adam(cfg.learning_rate)
        rng = np.random.default_rng(seed)

        @tf.function
        def step(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                pred = model(x, training=True)
                if head == "point":
                    loss = tf.reduce_mean(tf.square(pred - y))
                else:
                    loss = tf.reduce_mean(nets.per_image_loss(tf, head, pred, y))
            variables = model.trainable_variables
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        order = rng.permutation(n)
        at = 0
        for _ in range(steps):
            if at + cfg.batch_size > n:
                order, at = rng.permutation(n), 0
            idx = order[at:at + cfg.batch_size]
            at += cfg.batch_size
            x = x_all[idx]
            if cfg.noise_kms > 0:
                from gcs_hpc.learn.data import INPUT_SCALE_KMS

                x = x + rng.normal(0.0, cfg.noise_kms / INPUT_SCALE_KMS, x.shape).astype(np.float32)
            feed = _feed(x, None if s_all is None else s_all[idx])
            step(feed, tf.constant(y_all[idx]))
        models.append(model)
    return models


def predict_ensemble(models: list[Any], maps: np.ndarray, label_range: tuple[float, float], cfg: FitConfig,
                     log_scale: np.ndarray | None = None) -> Prediction:
    """Each member's mean and sd (dex) for images ``maps`` (and their ``log_scale``, as in training)."""
    lo, hi = (float(v) for v in label_range)
    x = _inputs(maps, cfg.channels)
    head = cfg.resolved_head
    means, sds = [], []
    for model in models:
        parts = []
        for i in range(0, len(x), PREDICT_BATCH):
            s = None if log_scale is None else np.asarray(log_scale)[i:i + PREDICT_BATCH]
            parts.append(np.asarray(model(_feed(x[i:i + PREDICT_BATCH], s), training=False)))
        out = np.concatenate(parts).astype(np.float64)
        if head == "point":
            mean, sd = out.reshape(len(out), -1)[:, 0], np.zeros(len(out))
        else:
            from gcs_hpc.learn.nets import split_outputs

            mean, sd = split_outputs(head, out)
        means.append(lo + mean * (hi - lo) / LABEL_MAX)
        sds.append(np.asarray(sd) * (hi - lo) / LABEL_MAX)
    return Prediction(np.stack(means, axis=1), np.stack(sds, axis=1), lo, hi)
