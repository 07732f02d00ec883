"""From the zarr store to training batches: splits, worker shards, a lazy reader and a tf.data pipeline.

Only models with ``status == "done"`` are used. Images are (model, angle) pairs. Splits:

``model`` (default)
    A random ``test_fraction`` of the models goes to the test set with all its viewing angles: no galaxy
    is seen in both sets.
``image``
    The paper's random 80/20 split of images (views of one galaxy land in both sets: leakage; kept for
    comparison with the paper).
``suite``
    Train on the ``disk`` and ``merger`` suites, test on ``unknown`` (the paper's "completely unknown" set).

``suites`` (model and image splits) restricts the models of both sets to the named campaign suites, e.g.
``("disk", "merger")`` for the paper's DL3 to DL5 on a store that also holds the ``unknown`` suite;
``None`` (default) uses every done model. The ``suite`` split fixes its own suites and takes no filter.

A worker's shard that fits ``memory_mb`` is read once and served from memory (:func:`epoch_dataset`).
A larger one streams (:mod:`gcs_hpc.learn.stream`): the epoch is planned in blocks of whole models
(``cache_mb`` of maps, one read each; models shuffled, then the images of each block), the blocks are
read ahead in parallel by ``tf.data`` and picked, scaled and batched by TF ops. :func:`iterate_batches`
is the same plan in NumPy (the reference the tests compare with). Maps are read a whole model chunk at a
time (:class:`gcs_hpc.store.chunks.ChunkReader`). Inputs are the maps in km/s divided by the simulation
velocity unit (:data:`gcs_hpc.units.VELOCITY_KMS`, so 5 km/s is ~0.04, as in the paper), channels last;
labels are :func:`gcs_hpc.store.mass_to_label` of ``M_total`` (the 0..10 scale whose bounds the store's
attributes hold). Noise augmentation adds Gaussian noise of ``noise_kms`` km/s to every pixel at training
time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from gcs_hpc.config import check_choice, check_range
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn import stream
from gcs_hpc.store.read import channels_for, done_models, open_dataset, string_coord  # noqa: F401
from gcs_hpc.units import VELOCITY_KMS

# Splits and shards live in gcs_hpc.learn.split; importable from here as before.
from gcs_hpc.learn.split import (SPLITS, TEST_SUITE, TRAIN_SUITES, Split, check_suites,  # noqa: E402,F401
                                 images_of, make_split, select_suites, shard_images, steps_per_epoch)
#: Store channel names, in store order, used by a net with 1 or 2 input channels.
CHANNELS_BY_COUNT: dict[int, tuple[str, ...]] = {n: channels_for(n) for n in (1, 2)}
#: Velocity scale dividing the maps before they enter a net (km/s).
INPUT_SCALE_KMS = VELOCITY_KMS


#: The store is read through gcs_hpc.store (kept importable from here for older callers).
open_store = open_dataset


class StoreMaps:
    """Lazy access to the maps and labels of a store for a net with ``channels`` input channels.

    Attributes
    ----------
    models_read
        Every model index read so far (to prove a worker read only its shard).
    """

    def __init__(self, path: str | Path, channels: int) -> None:
        from gcs_hpc import store

        check_choice("learn", "channels", channels, CHANNELS_BY_COUNT)
        self.path = Path(path)
        self.ds = open_store(path)
        self.attrs = dict(self.ds.attrs)
        self.channel_names = CHANNELS_BY_COUNT[channels]
        store_channels = [str(c) for c in self.ds["channel"].values]
        missing = [c for c in self.channel_names if c not in store_channels]
        if missing:
            raise StoreError(f"store {str(path)!r} has channels {store_channels}; missing {missing}")
        self._channel_index = [store_channels.index(c) for c in self.channel_names]
        self.mass_msun = np.asarray(self.ds["M_total"].values, dtype=np.float64)
        self.labels = np.asarray(store.mass_to_label(self.mass_msun, self.attrs), dtype=np.float32)
        self.npix = int(self.ds.sizes["y"])
        self.n_angles = int(self.ds.sizes["angle"])
        self.models_read: set[int] = set()

    @property
    def model_nbytes(self) -> int:
        """Bytes of one model's maps as read (all angles, the selected channels)."""
        return self.n_angles * len(self.channel_names) * self.npix * self.npix * 4

    def read_models(self, models: Sequence[int]) -> np.ndarray:
        """Maps of ``models`` (sorted indices), shape (k, angle, channel, y, x) float32 in km/s."""
        models = np.asarray(models, dtype=np.int64)
        if getattr(self, "_chunks", None) is None:  # whole-model chunk files, no zarr event loop per chunk
            from gcs_hpc.store.chunks import ChunkReader

            self._chunks = ChunkReader(self.path, "maps")
        block = self._chunks.read(models)
        if self._channel_index != list(range(block.shape[2])):
            block = block[:, :, self._channel_index]
        block = np.asarray(block, dtype=np.float32)
        if not np.isfinite(block).all():
            bad = models[~np.isfinite(block).reshape(len(models), -1).all(axis=1)]
            raise StoreError(f"store {str(self.path)!r}: non-finite map values in models {bad.tolist()}")
        self.models_read.update(int(m) for m in models)
        return block


class MemoryMaps(StoreMaps):
    """The same interface over maps already in memory (the baseline of benchmarks/learn_pipeline.py)."""

    def __init__(self, path: str | Path, channels: int) -> None:
        super().__init__(path, channels)
        self._all = np.asarray(self.ds["maps"].isel(channel=self._channel_index).values, dtype=np.float32)

    def read_models(self, models: Sequence[int]) -> np.ndarray:
        models = np.asarray(models, dtype=np.int64)
        self.models_read.update(int(m) for m in models)
        return self._all[models]


def iterate_batches(source: StoreMaps, images: np.ndarray, batch_size: int, *, steps: int | None = None,
                    shuffle: bool = True, seed: int = 0, epoch: int = 0, worker: int = 0,
                    noise_kms: float = 0.0, cache_mb: float = 256.0,
                    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(x, y)`` batches of ``images``: x (b, npix, npix, channels) float32 scaled inputs, y (b, 1).

    Parameters
    ----------
    source
        Where the maps come from (:class:`StoreMaps` reads lazily from zarr).
    images
        (n, 2) rows of (model, angle).
    batch_size
        Images per batch; with ``steps`` every batch is full, otherwise the last may be short.
    steps
        Number of batches to yield (None: all images once).
    shuffle
        Shuffle the order of models and of images within a block (seeded by seed, epoch, worker):
        :func:`gcs_hpc.learn.stream.epoch_plan`, the order the streaming ``tf.data`` pipeline serves.
    noise_kms
        Standard deviation of the Gaussian noise added to every pixel, km/s (0: none; NumPy draws, not
        the TF draws of the pipelines).
    cache_mb
        Memory for one block of models read at once.
    """
    check_range("learn", "batch_size", batch_size, 1, 1_000_000)
    check_range("learn", "noise_kms", noise_kms, 0.0, 1000.0)
    plan = stream.epoch_plan(images, stream.block_size(cache_mb, source.model_nbytes), shuffle=shuffle,
                             seed=seed, epoch=epoch, worker=worker)
    noise_rng = np.random.default_rng([seed, epoch, worker, 2])
    # Nets with a scale input (issue 15, gcs_hpc.learn.targets.attach) get ((maps, log10 scale), label).
    scales = getattr(source, "image_scale", None)
    pool_x = np.empty((0, len(source.channel_names), source.npix, source.npix), np.float32)
    pool_rows = np.empty((0, 2), np.int64)
    emitted = 0

    def batch(x: np.ndarray, rows: np.ndarray) -> tuple[Any, np.ndarray]:
        x_b = _to_inputs(x, noise_rng, noise_kms)
        y_b = source.labels[rows[:, 0], None]
        return (x_b if scales is None else (x_b, scales[rows[:, 0], rows[:, 1], None])), y_b

    for k, block in enumerate(plan.blocks):
        if steps is not None and emitted >= steps:
            return
        rows = plan.block_rows(k)
        maps = source.read_models(block)
        pool_x = np.concatenate([pool_x, maps[np.searchsorted(block, rows[:, 0]), rows[:, 1]]])
        pool_rows = np.concatenate([pool_rows, rows])
        n_full = len(pool_rows) // batch_size
        if steps is not None:
            n_full = min(n_full, steps - emitted)
        for b in range(n_full):
            sl = slice(b * batch_size, (b + 1) * batch_size)
            yield batch(pool_x[sl], pool_rows[sl])
        emitted += n_full
        pool_x, pool_rows = pool_x[n_full * batch_size:], pool_rows[n_full * batch_size:]
    if steps is not None and emitted < steps:
        raise ConfigError(f"only {emitted} full batches of {batch_size} in {len(images)} images; "
                          f"{steps} steps were asked for")
    if steps is None and len(pool_rows):
        yield batch(pool_x, pool_rows)


def _to_inputs(maps: np.ndarray, rng: np.random.Generator, noise_kms: float) -> np.ndarray:
    """(b, c, y, x) maps in km/s -> (b, y, x, c) net inputs, noise added in km/s before scaling."""
    if noise_kms > 0:
        maps = maps + rng.normal(0.0, noise_kms, size=maps.shape).astype(np.float32)
    return np.ascontiguousarray(np.moveaxis(maps, 1, -1) / np.float32(INPUT_SCALE_KMS))


def maps_to_inputs(maps: np.ndarray) -> np.ndarray:
    """Maps (n, channel, y, x) in km/s -> net inputs (n, y, x, channel), as the pipeline makes them."""
    return _to_inputs(np.asarray(maps, dtype=np.float32), np.random.default_rng(0), 0.0)


def shard_nbytes(source: StoreMaps, images: np.ndarray) -> int:
    """Bytes of the maps of the models of ``images`` (what the in-memory pipeline would hold)."""
    return int(len(np.unique(images[:, 0]))) * source.model_nbytes


def epoch_order(images: np.ndarray, *, seed: int, epoch: int, worker: int) -> np.ndarray:
    """Row indices of ``images`` in the order one epoch serves them: the order of :func:`iterate_batches`
    when the worker's shard fits in one block (same generator, same draws)."""
    rng = np.random.default_rng([seed, epoch, worker])
    rng.permutation(np.unique(images[:, 0]))  # the model order draw of iterate_batches (one block: no effect)
    return rng.permutation(len(images))


def _shard_inputs(source: StoreMaps, images: np.ndarray, tf: Any = None) -> tuple[Any, Any, Any]:
    """Net inputs (n, y, x, c) float32, labels (n, 1) and scales (n, 1) or None of ``images``, read from
    ``source`` once and kept on it for later epochs (keyed by the images); NumPy arrays, or with ``tf``
    (the tensorflow module) tensors, kept as such (no new copy of the shard per epoch)."""
    key = (images.shape, hash(np.ascontiguousarray(images).tobytes()), tf is not None)
    cached = getattr(source, "_shard_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    models = np.unique(images[:, 0])
    maps = source.read_models(models)
    x = maps_to_inputs(maps[np.searchsorted(models, images[:, 0]), images[:, 1]])
    y = np.asarray(source.labels[images[:, 0]], np.float32)[:, None]
    scales = getattr(source, "image_scale", None)
    s = None if scales is None else np.asarray(scales[images[:, 0], images[:, 1]], np.float32)[:, None]
    if tf is not None:
        x, y, s = (None if a is None else tf.convert_to_tensor(a, tf.float32) for a in (x, y, s))
    source._shard_cache = (key, (x, y, s))  # one shard per worker: replaces any previous one
    return x, y, s


def epoch_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, steps: int, *, seed: int, epoch: int,
                  worker: int = 0, noise_kms: float = 0.0, scale: np.ndarray | None = None,
                  order: np.ndarray | None = None) -> Any:
    """A ``tf.data.Dataset`` of ``steps`` batches of one epoch over images already in memory.

    Parameters
    ----------
    x, y
        Net inputs (n, y, x, channel) float32 (maps over :data:`INPUT_SCALE_KMS`) and labels (n, 1);
        NumPy arrays or tensors (used as they are, not copied).
    batch_size, steps
        Full batches of ``batch_size``; ``steps`` of them (at most ``n // batch_size``).
    seed, epoch, worker
        Seed the shuffle (:func:`epoch_order`, unless ``order`` is given) and the noise: the same three
        give the same batches, bit for bit.
    noise_kms
        Gaussian noise added to every pixel, km/s, by a stateless TF op seeded per batch.
    scale
        (n, 1) log10 scale inputs of nets with a scale input: batches are then ``((x, scale), y)``.
    order
        Row order of the epoch (default: :func:`epoch_order` of ``seed``, ``epoch``, ``worker``).
    """
    from gcs_hpc.learn import require_tensorflow

    tf = require_tensorflow()
    check_range("learn", "batch_size", batch_size, 1, 1_000_000)
    check_range("learn", "noise_kms", noise_kms, 0.0, 1000.0)
    n = len(y)
    if steps < 1 or steps * batch_size > n:
        raise ConfigError(f"only {n // batch_size} full batches of {batch_size} in {n} images; "
                          f"{steps} steps were asked for")
    if order is None:
        order = np.random.default_rng([seed, epoch, worker]).permutation(n)
    order = np.asarray(order[:steps * batch_size], np.int64)
    x_t, y_t = tf.convert_to_tensor(x, tf.float32), tf.convert_to_tensor(y, tf.float32)
    s_t = None if scale is None else tf.convert_to_tensor(scale, tf.float32)
    sigma = np.float32(noise_kms / INPUT_SCALE_KMS)
    noise_seed = stream.noise_seed(seed, epoch, worker)  # the streaming pipeline's noise, too
    shape = (batch_size,) + tuple(x.shape[1:])

    @tf.autograph.experimental.do_not_convert  # plain TF ops: no AutoGraph parse per epoch
    def gather(step: Any, idx: Any) -> Any:
        xb = tf.gather(x_t, idx)
        if noise_kms > 0:
            xb = xb + sigma * tf.random.stateless_normal(shape, seed=noise_seed + step, dtype=tf.float32)
        yb = tf.gather(y_t, idx)
        return ((xb, tf.gather(s_t, idx)), yb) if s_t is not None else (xb, yb)

    ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True).enumerate()
    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


#: Shards whose maps take at most this many MiB are loaded once and served from memory.
MEMORY_BUDGET_MB = 2048.0


def training_dataset(source: StoreMaps, images: np.ndarray, batch_size: int, steps: int, *,
                     seed: int, epoch: int, worker: int, noise_kms: float = 0.0,
                     cache_mb: float = 256.0, memory_mb: float = MEMORY_BUDGET_MB) -> Any:
    """A ``tf.data.Dataset`` of ``steps`` shuffled, noisy, prefetched batches of one epoch of a worker.

    A shard whose maps fit in ``memory_mb`` (:func:`shard_nbytes`) is read once (kept on ``source`` for
    later epochs) and served by :func:`epoch_dataset`: the images of :func:`iterate_batches` in the same
    order (when the shard fits its ``cache_mb`` block), noise drawn by TF. Larger shards stream
    (:func:`gcs_hpc.learn.stream.streaming_dataset`): blocks of ``cache_mb`` of models read ahead in
    parallel, the order of :func:`iterate_batches`, the noise of the in-memory path.
    """
    check_range("learn", "memory_mb", memory_mb, 0.0, 1.0e7)
    if shard_nbytes(source, images) <= memory_mb * 2**20:
        from gcs_hpc.learn import require_tensorflow

        x, y, scale = _shard_inputs(source, images, require_tensorflow())
        order = epoch_order(images, seed=seed, epoch=epoch, worker=worker)
        return epoch_dataset(x, y, batch_size, steps, seed=seed, epoch=epoch, worker=worker,
                             noise_kms=noise_kms, scale=scale, order=order)
    return stream.streaming_dataset(source, images, batch_size, steps, seed=seed, epoch=epoch,
                                    worker=worker, noise_kms=noise_kms, cache_mb=cache_mb,
                                    input_scale_kms=INPUT_SCALE_KMS)


#: The streaming pipeline (stores larger than the memory budget).
streaming_dataset = stream.streaming_dataset
