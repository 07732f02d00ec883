"""Load a trained net and its metadata, and predict total masses in Msun for kinematic maps.

Used by :mod:`gcs_hpc.learn.evaluate` and by the observe helper (real GC catalogues -> maps -> mass)::

    trained = load_trained("runs/conv4_2ch")
    masses = trained.predict_mass(maps)   # maps (n, 2 or 1, npix, npix) in km/s, store channel order
    posterior = trained.predict_posterior(maps, scale_kpc=r_half_kpc)   # median, 68%/95% intervals

:func:`load_predictor` loads a single net or a deep ensemble (:mod:`gcs_hpc.learn.ensemble`); both
answer ``predict_posterior`` with a :class:`~gcs_hpc.learn.posterior.MassPosterior`. Nets trained with
``scale_input`` (maps in units of R_half) need the physical scale of every map (``scale_kpc``: R_half or
the galaxy's R_e, in kpc).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcs_hpc.config import spec_from_mapping
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn.data import CHANNELS_BY_COUNT, INPUT_SCALE_KMS, maps_to_inputs
from gcs_hpc.learn.ood import flag_reasons
from gcs_hpc.learn.posterior import MassPosterior, format_interval, from_labels
from gcs_hpc.learn.targets import radius_kpc
from gcs_hpc.specs import MapSpec

#: learn's public prediction API: what the observe floor may use (tests/test_architecture.py).
__all__ = ["METADATA_FILE", "MODEL_FILE", "MassPosterior", "TrainedModel", "flag_reasons", "format_interval",
           "load_predictor", "load_trained", "radius_kpc"]

METADATA_FILE = "metadata.json"
MODEL_FILE = "model.keras"
#: Images per forward pass.
PREDICT_BATCH = 4096


@dataclass(frozen=True)
class TrainedModel:
    """A trained net with what is needed to use it.

    Attributes
    ----------
    net
        The Keras model (input (npix, npix, channels) scaled maps, output the 0..10 label).
    metadata
        The training run's ``metadata.json``.
    map_spec
        How the training maps were made; new maps must be made the same way.
    channels
        1 (sigma) or 2 (sigma, V).
    """

    net: Any = field(repr=False)
    metadata: dict = field(repr=False)
    map_spec: MapSpec
    channels: int
    path: str = ""

    @property
    def suites(self) -> tuple[str, ...] | None:
        """Campaign suites the net was trained and tested on (``None``: every suite of its store).

        :func:`gcs_hpc.learn.evaluate.test_images` re-makes the split with them; a mass predicted for a
        galaxy unlike these suites (e.g. a merger outside their ranges) is an extrapolation.
        """
        suites = self.metadata.get("suites", self.metadata.get("split", {}).get("suites"))
        return None if suites is None else tuple(str(n) for n in suites)

    @property
    def head(self) -> str:
        """``"point"`` (the paper's nets) or ``"gaussian"``."""
        return str(self.metadata.get("head", "point"))

    @property
    def scale_input(self) -> bool:
        """Whether the net takes log10 of the map scale in kpc as a second input."""
        return bool(self.metadata.get("scale_input", False))

    @property
    def target(self) -> str:
        """``"M_total"`` or ``"M(<5_r_half)"``-style name of what the net predicts."""
        from gcs_hpc.learn.targets import target_name

        return target_name(str(self.metadata.get("target", "M_total")),
                           str(self.metadata.get("enclosed_radius", "5_r_half")))

    def _log_scale(self, n: int, scale_kpc: Any, log_scale: Any) -> np.ndarray | None:
        if not self.scale_input:
            return None
        if log_scale is None:
            if scale_kpc is None:
                raise ConfigError(f"net {self.path!r} takes the physical map scale (R_half in kpc) as a "
                                  "second input; pass scale_kpc (e.g. the galaxy's R_e in kpc)")
            scale = np.broadcast_to(np.asarray(scale_kpc, dtype=np.float64), (n,))
            if not np.all(np.isfinite(scale) & (scale > 0)):
                raise ConfigError(f"scale_kpc = {scale_kpc!r} is out of range; allowed: finite > 0 kpc")
            log_scale = np.log10(scale)
        return np.broadcast_to(np.asarray(log_scale, dtype=np.float32), (n,)).reshape(n, 1)

    def predict_outputs(self, maps: np.ndarray, scale_kpc: Any = None, log_scale: Any = None
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sd) of the label (0..10 scale) for ``maps``; sd is 0 for a point net."""
        from gcs_hpc.learn.nets import split_outputs

        raw = self._raw(maps, self._log_scale(len(np.atleast_1d(maps)), scale_kpc, log_scale))
        return split_outputs(self.head, raw)

    def predict_posterior(self, maps: np.ndarray, scale_kpc: Any = None,
                          log_scale: Any = None) -> MassPosterior:
        """Posterior of log10 M for each map (one component; a point net's has zero width)."""
        mean, sd = self.predict_outputs(maps, scale_kpc, log_scale)
        return from_labels(mean, sd, self.metadata["label_attrs"])

    def predict_label(self, maps: np.ndarray, scale_kpc: Any = None) -> np.ndarray:
        """The net's output (mean) on the 0..10 label scale for ``maps`` (see :meth:`predict_mass`)."""
        return self.predict_outputs(maps, scale_kpc)[0]

    def _raw(self, maps: np.ndarray, log_scale: np.ndarray | None) -> np.ndarray:
        maps = np.asarray(maps, dtype=np.float32)
        npix = self.map_spec.npix
        if maps.ndim != 4 or maps.shape[1] not in (1, 2) or maps.shape[2:] != (npix, npix):
            raise ConfigError(f"maps have shape {maps.shape}; expected (n, 2 or 1, {npix}, {npix}) "
                              f"with channels in store order {list(CHANNELS_BY_COUNT[2])}")
        if maps.shape[1] < self.channels:
            raise ConfigError(f"maps have {maps.shape[1]} channel; the {self.channels}-channel net needs "
                              f"{list(CHANNELS_BY_COUNT[self.channels])}")
        if not np.isfinite(maps).all():
            raise ConfigError("maps contain NaN or inf; fill empty pixels first (map_spec.empty_fill)")
        inputs = maps_to_inputs(maps[:, :self.channels])
        out = []
        for i in range(0, len(inputs), PREDICT_BATCH):
            x = inputs[i:i + PREDICT_BATCH]
            x = x if log_scale is None else [x, log_scale[i:i + PREDICT_BATCH]]
            out.append(np.asarray(self.net(x, training=False)))
        width = 1 if self.head == "point" else 2
        return np.concatenate(out).reshape(-1, width) if out else np.empty((0, width))

    def predict_mass(self, maps: np.ndarray, scale_kpc: Any = None) -> np.ndarray:
        """Masses (of the net's target, Msun) for ``maps`` (n, 2 or 1, npix, npix), km/s, store channel
        order [sigma, V]; a 1-channel net uses the first (sigma). The mean of a gaussian head (its
        median); unclipped (:meth:`predict_posterior` clips and flags)."""
        from gcs_hpc import store

        return np.asarray(store.label_to_mass(self.predict_label(maps, scale_kpc),
                                              self.metadata["label_attrs"]), dtype=np.float64)


def load_trained(path: str | Path) -> TrainedModel:
    """Load ``model.keras`` and ``metadata.json`` written by :mod:`gcs_hpc.learn.train` from ``path``."""
    path = Path(path)
    meta_path, model_path = path / METADATA_FILE, path / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise StoreError(f"{str(path)!r} is not a trained model folder: needs {METADATA_FILE} and "
                         f"{MODEL_FILE} (written by python -m gcs_hpc.learn.train at the end of training)")
    from gcs_hpc.learn import require_keras
    from gcs_hpc.learn.outputs import weights_digest

    keras = require_keras()
    metadata = read_metadata(meta_path)
    try:
        net = keras.models.load_model(model_path, compile=False)
    except Exception as exc:  # truncated or foreign file: zipfile, h5py, JSON or Keras errors
        raise StoreError(f"{str(model_path)!r} cannot be loaded ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); it is truncated or not "
                         "a model saved by python -m gcs_hpc.learn.train: retrain or copy it again") from None
    digest, recorded = weights_digest(net.get_weights()), str(metadata["weights_sha256"])
    if digest != recorded:
        raise StoreError(f"{str(model_path)!r} holds other weights than {str(meta_path)!r} records "
                         f"(weights_sha256 {digest[:12]}... != {recorded[:12]}...): the two files come "
                         "from different runs; use the folder written by one training run")
    map_spec = spec_from_mapping(MapSpec, metadata["map_spec"], where=f"{meta_path}: map_spec")
    if not np.isclose(float(metadata.get("input_scale_kms", 0.0)), INPUT_SCALE_KMS, rtol=1e-12):
        raise StoreError(f"{str(meta_path)!r}: input_scale_kms = {metadata.get('input_scale_kms')!r} "
                         f"differs from this version's {INPUT_SCALE_KMS!r} km/s; retrain the net")
    return TrainedModel(net, metadata, map_spec, int(metadata["channels"]), str(path))


#: Keys of ``metadata.json`` that :func:`load_trained` needs.
REQUIRED_METADATA = ("arch", "channels", "map_spec", "label_attrs", "weights_sha256")


def read_metadata(path: Path) -> dict:
    """A training run's ``metadata.json``.

    Raises
    ------
    StoreError
        Naming the file, if it is not a JSON object with :data:`REQUIRED_METADATA` (truncated or edited).
    """
    try:
        metadata = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{str(path)!r} is not valid JSON ({exc}); it is truncated or was edited: retrain, "
                         "or restore it from the training run") from None
    if not isinstance(metadata, dict):
        raise StoreError(f"{str(path)!r} holds a JSON {type(metadata).__name__}; expected an object with "
                         f"the keys {', '.join(REQUIRED_METADATA)}")
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if missing:
        raise StoreError(f"{str(path)!r} lacks {', '.join(missing)} (needed: {', '.join(REQUIRED_METADATA)}; "
                         "written by python -m gcs_hpc.learn.train at the end of training)")
    return metadata


def posterior_of_images(predictor: Any, source: Any, images: np.ndarray, cache_mb: float = 256.0
                        ) -> MassPosterior:
    """Posteriors of ``images`` ((model, angle) rows) of a store, read block-wise; ``predictor`` is a
    :class:`TrainedModel` or an ensemble, ``source`` a :class:`gcs_hpc.learn.data.StoreMaps` (with
    ``image_scale`` when the net takes the scale)."""
    from gcs_hpc.learn.ood import iter_image_blocks

    n, k = len(images), None
    mean = sd = np.empty((0, 0))
    scales = getattr(source, "image_scale", None)
    for rows, maps in iter_image_blocks(source, images, cache_mb):
        log_scale = None if scales is None else scales[images[rows, 0], images[rows, 1]]
        part = predictor.predict_posterior(maps, log_scale=log_scale)
        if k is None:
            k = part.n_components
            mean, sd = np.empty((n, k)), np.empty((n, k))
            label_range = part.label_range
        mean[rows], sd[rows] = part.mean_dex, part.sd_dex
    if k is None:
        raise ConfigError("posterior_of_images: no images given")
    return MassPosterior(mean, sd, label_range)


def load_predictor(path: str | Path) -> Any:
    """A trained net (:func:`load_trained`) or, for a folder with ``ensemble.json``, the ensemble."""
    from gcs_hpc.learn.ensemble import ENSEMBLE_FILE, load_ensemble

    if (Path(path) / ENSEMBLE_FILE).is_file():
        return load_ensemble(path)
    return load_trained(path)
