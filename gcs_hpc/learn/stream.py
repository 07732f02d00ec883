"""Streaming training batches from a store larger than memory: an epoch plan and parallel block reads.

An epoch is planned up front in NumPy (:func:`epoch_plan`, index arithmetic only): the worker's models
are shuffled and cut into blocks of whole models (``cache_mb`` of maps each); each block's images are
shuffled; the blocks' images, one block after the other, are the epoch's serving order, cut into batches
(a batch at a block boundary takes the end of one block and the start of the next). With a single block
this is the order of the in-memory pipeline (:func:`gcs_hpc.learn.data.epoch_order`, same draws).

:func:`streaming_dataset` serves that plan with ``tf.data``: ``Dataset.range`` over the blocks, mapped
with ``num_parallel_calls`` and ``deterministic=True`` to a read of the block's models
(``tf.numpy_function`` around ``source.read_models``: a file read and a zstd decode per model,
:mod:`gcs_hpc.store.chunks`); the block's images are picked, put channels last and scaled by TF ops,
outside the GIL; ``rebatch`` cuts batches across blocks; labels, scale inputs and the per-batch noise
(the stateless, seeded noise of the in-memory path) are joined by step. So while TF works on one block,
the next ones are being read, and the same seed, epoch and worker give the same batches bit for bit,
whatever the thread timing.
``tf.data.Dataset.from_generator``, used before, ran the whole pipeline in one Python generator under
the GIL (tensorflow#56258).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.errors import ConfigError
from gcs_hpc.units import VELOCITY_KMS

#: Blocks read ahead of the one being served (memory: about this many + 1 blocks of ``cache_mb``).
READS_IN_FLIGHT = 2


@dataclass(frozen=True)
class EpochPlan:
    """The serving order of one epoch: blocks of whole models and the images served from each.

    Attributes
    ----------
    blocks
        Sorted model indices of each block, in reading order.
    rows
        (n, 2) (model, angle) rows in serving order: the images of block 0 (shuffled), then of block 1...
    starts
        Index into ``rows`` where each block's images start (length ``len(blocks) + 1``).
    """

    blocks: tuple[np.ndarray, ...] = field(repr=False)
    rows: np.ndarray = field(repr=False)
    starts: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.starts) != len(self.blocks) + 1 or self.starts[-1] != len(self.rows):
            raise ConfigError(f"epoch plan: {len(self.starts)} block starts for {len(self.blocks)} blocks "
                              f"and {len(self.rows)} rows; need one start per block plus the end")

    def block_rows(self, k: int) -> np.ndarray:
        """(model, angle) rows served from block ``k``, in serving order."""
        return self.rows[self.starts[k]:self.starts[k + 1]]

    def first(self, n: int) -> "EpochPlan":
        """The plan cut to its first ``n`` images (the blocks needed for them; the last one cut)."""
        if not 0 < n <= len(self.rows):
            raise ConfigError(f"epoch plan of {len(self.rows)} images cannot serve {n}")
        k = int(np.searchsorted(self.starts, n, side="left"))  # blocks 0..k-1 hold the first n rows
        starts = np.append(self.starts[:k], n)
        return EpochPlan(self.blocks[:k], self.rows[:n], starts)


def block_size(cache_mb: float, model_nbytes: int) -> int:
    """Whole models per block: as many as ``cache_mb`` MiB of maps hold, at least one."""
    check_range("learn", "cache_mb", cache_mb, 0.0, 1.0e6, low_open=True)
    return max(1, int(cache_mb * 2**20 // model_nbytes))


def epoch_plan(images: np.ndarray, models_per_block: int, *, shuffle: bool = True, seed: int = 0,
               epoch: int = 0, worker: int = 0) -> EpochPlan:
    """Plan one epoch of ``images`` ((n, 2) rows of (model, angle)) in blocks of ``models_per_block`` models.

    With ``shuffle`` the models are permuted, then the images of each block, by one generator seeded with
    ``(seed, epoch, worker)`` (first the model permutation, then one permutation per block, in order);
    without, models and images keep the order of ``images``' sorted models.
    """
    check_range("learn", "models_per_block", models_per_block, 1, 10**9)
    images = np.asarray(images, dtype=np.int64)
    rng = np.random.default_rng([seed, epoch, worker])
    models = np.unique(images[:, 0])
    if shuffle:
        models = rng.permutation(models)
    # Each image's block (its model's position in the model order // models_per_block); a stable sort
    # groups the images by block, each block's in the order of ``images``.
    position = np.empty(int(models.max()) + 1 if len(models) else 0, np.int64)
    position[models] = np.arange(len(models))
    block_of = position[images[:, 0]] // models_per_block
    grouped = images[np.argsort(block_of, kind="stable")]
    n_blocks = -(-len(models) // models_per_block)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(block_of, minlength=n_blocks))])
    blocks, parts = [], []
    for k in range(n_blocks):
        rows = grouped[bounds[k]:bounds[k + 1]]
        blocks.append(np.sort(models[k * models_per_block:(k + 1) * models_per_block]))
        parts.append(rows[rng.permutation(len(rows))] if shuffle else rows)
    starts = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    rows = np.concatenate(parts) if parts else np.empty((0, 2), np.int64)
    return EpochPlan(tuple(blocks), rows, starts)


def noise_seed(seed: int, epoch: int, worker: int) -> np.ndarray:
    """Base seed (2 int64) of the stateless per-batch noise; batch ``step`` uses ``noise_seed + step``."""
    return np.random.default_rng([seed, epoch, worker, 1]).integers(0, 2**31 - 1, size=2)


def streaming_dataset(source: Any, images: np.ndarray, batch_size: int, steps: int, *, seed: int,
                      epoch: int, worker: int, noise_kms: float = 0.0, cache_mb: float = 256.0,
                      reads_in_flight: int = READS_IN_FLIGHT, input_scale_kms: float = VELOCITY_KMS) -> Any:
    """A ``tf.data.Dataset`` of ``steps`` batches of one epoch of ``images``, read block by block.

    Parameters
    ----------
    source
        A :class:`gcs_hpc.learn.data.StoreMaps` (``read_models``, ``labels``, ``model_nbytes``, ``npix``,
        ``n_angles``, ``channel_names``; ``image_scale`` for nets with a scale input).
    images, batch_size, steps
        (n, 2) (model, angle) rows; ``steps`` full batches of ``batch_size`` of them.
    seed, epoch, worker
        Seed the plan (:func:`epoch_plan`) and the noise (:func:`noise_seed`).
    noise_kms
        Gaussian noise added to every pixel, km/s.
    cache_mb
        MiB of maps per block (one read).
    reads_in_flight
        Blocks read concurrently / ahead (memory: about ``reads_in_flight + 1`` blocks).
    input_scale_kms
        The maps are divided by this (km/s) to make the net inputs.
    """
    from gcs_hpc.learn import require_tensorflow

    tf = require_tensorflow()
    check_range("learn", "batch_size", batch_size, 1, 1_000_000)
    check_range("learn", "noise_kms", noise_kms, 0.0, 1000.0)
    check_range("learn", "reads_in_flight", reads_in_flight, 1, 64)
    n = steps * batch_size
    if steps < 1 or n > len(images):
        raise ConfigError(f"only {len(images) // batch_size} full batches of {batch_size} in {len(images)} "
                          f"images; {steps} steps were asked for")
    plan = epoch_plan(images, block_size(cache_mb, source.model_nbytes), seed=seed, epoch=epoch,
                      worker=worker).first(n)
    n_angles, channels, npix = int(source.n_angles), len(source.channel_names), int(source.npix)
    # Which image of each block's read goes where: flat (model-in-block, angle) indices, ragged by block.
    picks = [np.searchsorted(b, plan.block_rows(k)[:, 0]) * n_angles + plan.block_rows(k)[:, 1]
             for k, b in enumerate(plan.blocks)]
    picks_t = tf.RaggedTensor.from_row_splits(np.concatenate(picks).astype(np.int64), plan.starts)
    blocks = plan.blocks
    scale = tf.constant(np.float32(input_scale_kms))

    def read(k: np.int64) -> np.ndarray:
        return np.ascontiguousarray(source.read_models(blocks[int(k)]), dtype=np.float32)

    @tf.autograph.experimental.do_not_convert  # plain TF ops: no AutoGraph parse (per-epoch build time)
    def block_inputs(k: Any) -> Any:
        maps = tf.numpy_function(read, [k], tf.float32, name="read_block")
        maps = tf.reshape(maps, (-1, channels, npix, npix))
        x = tf.transpose(tf.gather(maps, picks_t[k]), (0, 2, 3, 1))
        return x / scale

    x_ds = tf.data.Dataset.range(len(blocks)).map(block_inputs, num_parallel_calls=reads_in_flight,
                                                  deterministic=True)
    x_ds = x_ds.rebatch(batch_size, drop_remainder=True)
    rows = plan.rows
    y = np.asarray(source.labels[rows[:, 0]], np.float32)[:, None]
    scales = getattr(source, "image_scale", None)
    s = None if scales is None else np.asarray(scales[rows[:, 0], rows[:, 1]], np.float32)[:, None]
    y_ds = tf.data.Dataset.from_tensor_slices(y if s is None else (y, s)).batch(batch_size)
    sigma = np.float32(noise_kms / input_scale_kms)
    base_seed = noise_seed(seed, epoch, worker)
    shape = (batch_size, npix, npix, channels)

    @tf.autograph.experimental.do_not_convert
    def join(step: Any, xb: Any, labels: Any) -> Any:
        xb = tf.ensure_shape(xb, shape)
        if noise_kms > 0:
            xb = xb + sigma * tf.random.stateless_normal(shape, seed=base_seed + step, dtype=tf.float32)
        if s is None:
            return xb, labels
        yb, sb = labels
        return (xb, sb), yb

    @tf.autograph.experimental.do_not_convert
    def join_pair(step: Any, pair: Any) -> Any:
        return join(step, *pair)

    ds = tf.data.Dataset.zip(x_ds, y_ds).enumerate()
    ds = ds.map(join_pair, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)
