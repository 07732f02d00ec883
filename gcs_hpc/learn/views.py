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
        self.pos, self.vel = phase_space[..., :3], phase_space[..., 3:]
        self.r_half = np.asarray(self.ds["r_half"].values, dtype=np.float64)
        self.theta = np.asarray(self.ds["theta"].values, dtype=np.float64)
        self.phi = np.asarray(self.ds["phi"].values, dtype=np.float64)
        self.disk_size_kpc = None
        if self.map_spec.fov_unit == "R_d":
            from gcs_hpc.galaxy import disk_size_kpc
            from gcs_hpc.specs import GalaxySpec

            self.disk_size_kpc = np.array([disk_size_kpc(GalaxySpec(M_halo=float(m)))
                                           for m in self.ds["M_halo"].values])
        self._channels = [CHANNELS.index(c) for c in self.channel_names]

    def _check_written(self, models: np.ndarray) -> None:
        bad = models[~np.isfinite(self.r_half[models]).all(axis=1)]
        if len(bad):
            raise StoreError(f"store {str(self.path)!r}: models {bad.tolist()} have no GC phase space "
                             "written (not done)")

    def _maps(self, models: np.ndarray, theta: np.ndarray, phi: np.ndarray, r_half: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
        maps, _ = view_maps(self.pos[models], self.vel[models], theta, phi, r_half, self.observation,
                            self.map_spec, rng,
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


def iterate_view_batches(source: ObservedStoreMaps, images: np.ndarray, batch_size: int, steps: int, *,
                         seed: int = 0, epoch: int = 0, worker: int = 0, noise_kms: float = 0.0
                         ) -> Iterator[tuple[Any, np.ndarray]]:
    """``steps`` batches of fresh views of the models of ``images`` ((model, angle) rows; the angles are
    not used): x (b, npix, npix, channels) float32 net inputs, y (b, 1) labels; ``((x, log10 R_half), y)``
    when the net takes the scale (``source.image_scale`` set). Every model is drawn equally often (a new
    permutation of the models each pass)."""
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
    with_scale = getattr(source, "image_scale", None) is not None
    for step in range(steps):
        rows = order[step * batch_size:(step + 1) * batch_size]
        maps, r_half = source.fresh_views(rows, rng)
        if noise_kms > 0:
            maps = maps + rng.normal(0.0, noise_kms, size=maps.shape).astype(np.float32)
        x = data.maps_to_inputs(maps)
        y = source.labels[rows, None].astype(np.float32)
        yield ((x, np.log10(r_half)[:, None].astype(np.float32)) if with_scale else x), y


def training_dataset(source: ObservedStoreMaps, images: np.ndarray, batch_size: int, steps: int, *,
                     seed: int, epoch: int, worker: int, noise_kms: float = 0.0, cache_mb: float = 256.0) -> Any:
    """A ``tf.data.Dataset`` of one epoch's fresh-view batches (:func:`iterate_view_batches`), prefetched;
    the signature of :func:`gcs_hpc.learn.data.training_dataset` (``cache_mb`` is not used)."""
    from gcs_hpc.learn import require_tensorflow

    tf = require_tensorflow()
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
