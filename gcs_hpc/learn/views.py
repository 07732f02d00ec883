"""Fresh views every epoch: maps re-made from the store's GC phase space under an observation model.

Training on the campaign's 100 fixed, ideal maps per model teaches a net the wrong problem: real
catalogues see fewer GCs, with velocity errors, over a limited radius, with interlopers
(:mod:`gcs_hpc.maps.observation`). With an observation model, every training image is made on the fly
from a model's stored GC phase space (schema version 2): a random viewing direction (isotropic, not only
the stored ones), a fresh observation draw, the map (:func:`gcs_hpc.maps.view_maps`, vectorised over the
whole batch). No two epochs see the same image.

- :class:`ObservedStoreMaps` is a :class:`gcs_hpc.learn.data.StoreMaps` whose maps come from the phase
  space: ``read_models`` gives each model's stored angles under one fixed observation draw per model
  (seeded by the model index: the held-out set, evaluation and OOD ranges stay the same across runs),
  :meth:`ObservedStoreMaps.fresh_views` gives new random views.
- :func:`iterate_view_batches` / :func:`training_dataset`: the training batches of one epoch of one
  worker (its shard's models, each drawn equally often), seeded by (seed, epoch, worker), as
  :func:`gcs_hpc.learn.data.training_dataset` with which they are interchangeable.

The length unit of a random view (``fov_unit = "R_half"`` or ``radius_unit = "R_half"``) is the stored
projected half-mass radius of the nearest stored direction (a line of sight and its opposite alike).
Whole batches are made in NumPy on the thread that feeds ``tf.data``; ``benchmarks/views.py`` measures
that one core makes maps faster than a conv2 training step consumes them.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from gcs_hpc.config import check_range
from gcs_hpc.errors import StoreError
from gcs_hpc.learn import data
from gcs_hpc.maps.binning import CHANNELS
from gcs_hpc.maps.observation import (ObservationSpec, isotropic_directions, load_observation, nearest_angle,
                                      view_maps)

#: Extra entry of the seed sequences of fresh views (apart from the fixed angle pipeline's streams).
VIEW_STREAM = 14
#: Extra entry of the seed of a model's fixed observation draw (``read_models``).
FIXED_STREAM = 1414


class ObservedStoreMaps(data.StoreMaps):
    """The maps of a store's models as an observation model sees them, made from the GC phase space.

    Parameters
    ----------
    path
        Store of schema version 2 (with ``gc_phase_space`` and ``r_half``).
    channels
        Net input channels (1: sigma; 2: sigma and V).
    observation
        The observation model, or the path of its YAML file.
    seed
        Seed of the fixed observation draws of ``read_models``.

    Raises
    ------
    StoreError
        If the store has no GC phase space (schema version 1).
    """

    def __init__(self, path: str | Path, channels: int, observation: ObservationSpec | str | Path,
                 seed: int = 0) -> None:
        super().__init__(path, channels)
        from gcs_hpc.store import read_map_spec

        self.observation = (observation if isinstance(observation, ObservationSpec)
                            else load_observation(observation))
        for name in ("gc_phase_space", "r_half"):
            if name not in self.ds.variables:
                raise StoreError(f"store {str(path)!r} has no {name!r} (schema version "
                                 f"{self.ds.attrs.get('schema_version')}); maps under an observation model "
                                 "are made from the GC phase space: re-run the campaign with this gcs_hpc")
        self.store_map_spec = read_map_spec(path)
        self.map_spec = self.observation.map_spec(self.store_map_spec)
        self.npix = self.map_spec.npix
        self.seed = int(seed)
        phase_space = np.asarray(self.ds["gc_phase_space"].values, dtype=np.float64)
        self.valid = np.isfinite(phase_space).all(axis=2)  # padding rows (and models not written)
        phase_space[~self.valid] = 0.0
        self.pos = np.ascontiguousarray(phase_space[..., :3])
        self.vel = np.ascontiguousarray(phase_space[..., 3:])
        self.r_half = np.asarray(self.ds["r_half"].values, dtype=np.float64)
        self.theta = np.asarray(self.ds["theta"].values, dtype=np.float64)
        self.phi = np.asarray(self.ds["phi"].values, dtype=np.float64)
        self.disk_size_kpc = None
        if self.map_spec.fov_unit == "R_d":
            from gcs_hpc.store.summary import read_disk_size

            self.disk_size_kpc = read_disk_size(self.ds)
        self._channels = [CHANNELS.index(c) for c in self.channel_names]

    def _check_written(self, models: np.ndarray) -> None:
        bad = models[~np.isfinite(self.r_half[models]).all(axis=1)]
        if len(bad):
            raise StoreError(f"store {str(self.path)!r}: models {bad.tolist()} have no GC phase space "
                             "written (not done)")

    def _maps(self, models: np.ndarray, theta: np.ndarray, phi: np.ndarray, r_half: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        maps, _ = view_maps(self.pos[models], self.vel[models], theta, phi, r_half, self.observation,
                            self.map_spec, rng, valid=self.valid[models],
                            disk_size_kpc=None if self.disk_size_kpc is None else self.disk_size_kpc[models])
        return np.asarray(maps[:, self._channels], dtype=np.float32)

    def read_models(self, models: Sequence[int]) -> np.ndarray:
        """Each model's stored angles under one fixed observation draw per model: (k, angle, channel, y, x)
        float32 km/s."""
        models = np.asarray(models, dtype=np.int64)
        self._check_written(models)
        out = np.empty((len(models), self.n_angles, len(self._channels), self.npix, self.npix), np.float32)
        every = np.arange(self.n_angles)
        for k, m in enumerate(models):
            rng = np.random.default_rng([self.seed, FIXED_STREAM, int(m)])
            out[k] = self._maps(np.full(self.n_angles, m), self.theta, self.phi, self.r_half[m, every], rng)
        self.models_read.update(int(m) for m in models)
        return out

    def fresh_views(self, models: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One new view of each entry of ``models`` (store indices, repeats allowed): a random direction
        and an observation draw. Returns maps (n, channel, y, x) float32 km/s and the views' R_half (kpc,
        the nearest stored direction's)."""
        models = np.asarray(models, dtype=np.int64)
        theta, phi = isotropic_directions(len(models), rng)
        r_half = self.r_half[models, nearest_angle(theta, phi, self.theta, self.phi)]
        maps = self._maps(models, theta, phi, r_half, rng)
        self.models_read.update(int(m) for m in np.unique(models))
        return maps, r_half


def _epoch_views(source: ObservedStoreMaps, images: np.ndarray, batch_size: int, steps: int, seed: int,
                 epoch: int, worker: int, noise_kms: float
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The batches of one epoch as (net inputs x, model indices, R_half of the views)."""
    check_range("learn", "batch_size", batch_size, 1, 1_000_000)
    check_range("learn", "steps", steps, 1, 10**9)
    check_range("learn", "noise_kms", noise_kms, 0.0, 1000.0)
    models = np.unique(np.asarray(images)[:, 0])
    if len(models) == 0:
        raise StoreError("iterate_view_batches: no models to draw views of")
    source._check_written(models)
    rng = np.random.default_rng([seed, epoch, worker, VIEW_STREAM])
    n = steps * batch_size
    order = np.concatenate([rng.permutation(models) for _ in range(-(-n // len(models)))])[:n]
    for step in range(steps):
        rows = order[step * batch_size:(step + 1) * batch_size]
        maps, r_half = source.fresh_views(rows, rng)
        if noise_kms > 0:
            maps = maps + rng.normal(0.0, noise_kms, size=maps.shape).astype(np.float32)
        yield data.maps_to_inputs(maps), rows, r_half


def _with_targets(source: data.StoreMaps, x: np.ndarray, rows: np.ndarray, r_half: np.ndarray
                  ) -> tuple[Any, np.ndarray]:
    """``(x, y)``, or ``((x, log10 R_half), y)`` when the net takes the scale (``source.image_scale``)."""
    y = source.labels[rows, None].astype(np.float32)
    if getattr(source, "image_scale", None) is not None:
        return (x, np.log10(r_half)[:, None].astype(np.float32)), y
    return x, y


def iterate_view_batches(source: ObservedStoreMaps, images: np.ndarray, batch_size: int, steps: int, *,
                         seed: int = 0, epoch: int = 0, worker: int = 0, noise_kms: float = 0.0
                         ) -> Iterator[tuple[Any, np.ndarray]]:
    """``steps`` batches of fresh views of the models of ``images`` ((model, angle) rows; the angles are
    not used): x (b, npix, npix, channels) float32 net inputs, y (b, 1) labels; ``((x, log10 R_half), y)``
    when the net takes the scale (``source.image_scale`` set). Every model is drawn equally often (a new
    permutation of the models each pass)."""
    for x, rows, r_half in _epoch_views(source, images, batch_size, steps, seed, epoch, worker, noise_kms):
        yield _with_targets(source, x, rows, r_half)


#: The background process's own ObservedStoreMaps (made once by its initializer).
_PROCESS_SOURCE: ObservedStoreMaps | None = None


def _init_process(path: str, channels: int, observation: ObservationSpec, seed: int) -> None:
    global _PROCESS_SOURCE
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _PROCESS_SOURCE = ObservedStoreMaps(path, channels, observation, seed)


def _whole_epoch(images: np.ndarray, batch_size: int, steps: int, seed: int, epoch: int, worker: int,
                 noise_kms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = list(_epoch_views(_PROCESS_SOURCE, images, batch_size, steps, seed, epoch, worker, noise_kms))
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))


class EpochMaker:
    """Makes whole epochs of fresh views in one background process (one core), an epoch ahead.

    The batches are those of :func:`iterate_view_batches`, bit for bit; they reach TensorFlow as arrays
    (``from_tensor_slices``), so no Python runs per training step and the map making never holds the
    training process's GIL. Memory: two epochs of inputs (``steps * batch_size * npix^2 * channels * 4``
    bytes each).
    """

    def __init__(self, source: ObservedStoreMaps) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                         initializer=_init_process,
                                         initargs=(str(source.path), len(source.channel_names),
                                                   source.observation, source.seed))
        # the process ends when the source is dropped (an epoch made ahead and never asked for is dropped)
        self._finalizer = weakref.finalize(source, self._pool.shutdown, wait=False, cancel_futures=True)
        self._ahead: tuple[np.ndarray, tuple, Any] | None = None

    def epoch(self, images: np.ndarray, batch_size: int, steps: int, seed: int, epoch: int, worker: int,
              noise_kms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, model indices, R_half) of one epoch; the next epoch starts in the background."""
        images = np.asarray(images)
        params = (batch_size, steps, seed, epoch, worker, noise_kms)
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] is images and ahead[1] == params:
            future = ahead[2]
        else:
            if ahead is not None:
                ahead[2].cancel()
            future = self._pool.submit(_whole_epoch, images, *params)
        result = future.result()
        following = (batch_size, steps, seed, epoch + 1, worker, noise_kms)
        self._ahead = (images, following, self._pool.submit(_whole_epoch, images, *following))
        return result

    def close(self) -> None:
        """Stop the background process (an epoch made ahead is dropped)."""
        self._ahead = None
        self._finalizer()


def training_dataset(source: ObservedStoreMaps, images: np.ndarray, batch_size: int, steps: int, *,
                     seed: int, epoch: int, worker: int, noise_kms: float = 0.0, cache_mb: float = 256.0,
                     background: bool = True) -> Any:
    """A ``tf.data.Dataset`` of one epoch's fresh-view batches (:func:`iterate_view_batches`); the
    signature of :func:`gcs_hpc.learn.data.training_dataset` (``cache_mb`` is not used).

    With ``background`` (default) the epoch is made by the source's :class:`EpochMaker` (a background
    process, one epoch ahead); otherwise by a generator on the tf.data thread, prefetched.
    """
    from gcs_hpc.learn import require_tensorflow

    tf = require_tensorflow()
    if background:
        maker = getattr(source, "epoch_maker", None)
        if maker is None:
            maker = source.epoch_maker = EpochMaker(source)
        x, rows, r_half = maker.epoch(images, batch_size, steps, seed, epoch, worker, noise_kms)
        source.models_read.update(int(m) for m in np.unique(rows))
        inputs, y = _with_targets(source, x, rows, r_half)
        return tf.data.Dataset.from_tensor_slices((inputs, y)).batch(batch_size).prefetch(2)
    shape = (batch_size, source.npix, source.npix, len(source.channel_names))

    def gen() -> Iterator[tuple[Any, np.ndarray]]:
        yield from iterate_view_batches(source, images, batch_size, steps, seed=seed, epoch=epoch,
                                        worker=worker, noise_kms=noise_kms)

    x_spec = tf.TensorSpec(shape, tf.float32)
    if getattr(source, "image_scale", None) is not None:
        x_spec = (x_spec, tf.TensorSpec((batch_size, 1), tf.float32))
    ds = tf.data.Dataset.from_generator(gen, output_signature=(
        x_spec, tf.TensorSpec((batch_size, 1), tf.float32)))
    return ds.prefetch(tf.data.AUTOTUNE)


def maps_source(store: str | Path, channels: int, observation: str | Path | None, seed: int = 0
                ) -> data.StoreMaps:
    """The maps a training run uses: the store's (``observation`` None) or an :class:`ObservedStoreMaps`."""
    if observation is None:
        return data.StoreMaps(store, channels)
    return ObservedStoreMaps(store, channels, observation, seed)


def dataset_for(source: data.StoreMaps) -> Any:
    """The epoch dataset builder for ``source``: fresh views for :class:`ObservedStoreMaps`, the store's
    fixed-angle maps otherwise."""
    return training_dataset if isinstance(source, ObservedStoreMaps) else data.training_dataset


def map_spec_of(source: data.StoreMaps) -> Any:
    """The definition of the maps ``source`` gives (the observation model's grid, or the store's)."""
    if isinstance(source, ObservedStoreMaps):
        return source.map_spec
    from gcs_hpc.store import read_map_spec

    return read_map_spec(source.path)


def observation_of(source: data.StoreMaps) -> dict | None:
    """The observation model of ``source`` as a plain dict (recorded with a trained net), or None."""
    if not isinstance(source, ObservedStoreMaps):
        return None
    from gcs_hpc.config import spec_to_dict

    return spec_to_dict(source.observation)
