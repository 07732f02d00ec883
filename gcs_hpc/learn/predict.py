"""Load a trained net and its metadata, and predict total masses in Msun for kinematic maps.

Used by :mod:`gcs_hpc.learn.evaluate` and by the observe helper (real GC catalogues -> maps -> mass)::

    trained = load_trained("runs/conv4_2ch")
    masses = trained.predict_mass(maps)   # maps (n, 2 or 1, npix, npix) in km/s, store channel order
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
from gcs_hpc.specs import MapSpec

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

    def predict_label(self, maps: np.ndarray) -> np.ndarray:
        """The net's output on the 0..10 label scale for ``maps`` (see :meth:`predict_mass`)."""
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
        out = [np.asarray(self.net(inputs[i:i + PREDICT_BATCH], training=False))
               for i in range(0, len(inputs), PREDICT_BATCH)]
        return np.concatenate(out).reshape(-1) if out else np.empty(0)

    def predict_mass(self, maps: np.ndarray) -> np.ndarray:
        """Total masses in Msun for ``maps`` (n, 2 or 1, npix, npix), km/s, store channel order
        [sigma, V]; a 1-channel net uses the first (sigma)."""
        from gcs_hpc import store

        return np.asarray(store.label_to_mass(self.predict_label(maps), self.metadata["label_attrs"]),
                          dtype=np.float64)


def load_trained(path: str | Path) -> TrainedModel:
    """Load ``model.keras`` and ``metadata.json`` written by :mod:`gcs_hpc.learn.train` from ``path``."""
    path = Path(path)
    meta_path, model_path = path / METADATA_FILE, path / MODEL_FILE
    if not meta_path.is_file() or not model_path.is_file():
        raise StoreError(f"{str(path)!r} is not a trained model folder: needs {METADATA_FILE} and "
                         f"{MODEL_FILE} (written by python -m gcs_hpc.learn.train at the end of training)")
    from gcs_hpc.learn import require_keras

    keras = require_keras()
    metadata = json.loads(meta_path.read_text())
    net = keras.models.load_model(model_path, compile=False)
    map_spec = spec_from_mapping(MapSpec, metadata["map_spec"], where="metadata.map_spec")
    if not np.isclose(float(metadata.get("input_scale_kms", 0.0)), INPUT_SCALE_KMS, rtol=1e-12):
        raise StoreError(f"{str(meta_path)!r}: input_scale_kms = {metadata.get('input_scale_kms')!r} differs "
                         f"from this version's {INPUT_SCALE_KMS!r} km/s; retrain the net")
    return TrainedModel(net, metadata, map_spec, int(metadata["channels"]), str(path))
