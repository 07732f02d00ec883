"""The labelled map cube: one zarr v3 store per campaign, opened by ``xr.open_zarr(path)``.

The schema lives in :mod:`gcs_hpc.store.schema`; creation, validation and region writes in
:mod:`gcs_hpc.store.cube`; the 0..10 label scale in :mod:`gcs_hpc.store.labels`; reading (open with
xarray, done models, status values, label attributes, channel names) in :mod:`gcs_hpc.store.read`, which
learn, observe and experiments use instead of spelling the schema out.

>>> create_store(path, models, map_spec, config_yaml)      # template, or validate an existing one
>>> for i in pending_indices(path):                         # resume: done models are skipped
...     write_model(path, i, *make_model_maps(...))         # region write, then status = done
>>> ds = xr.open_zarr(path)                                 # maps (model, angle, channel, y, x)
>>> read_enclosed_mass(ds, "5_r_half")                      # M(<5 R_half) per model, Msun (version 2)

Strings (``kind``, ``suite``, ``status``, ``error``, ``channel``) use the zarr v3 ``string`` data type
(variable-length UTF-8); xarray reads them as NumPy ``StringDType`` arrays, which compare with ``==``
like any string array. :func:`model_status` returns a plain ``<U`` array.
"""

from __future__ import annotations

from gcs_hpc.store.cube import create_store, mark_failed, read_map_spec, validate_store, write_model
from gcs_hpc.store.group import model_status, pending_indices, schema_version, store_attrs
from gcs_hpc.store.labels import label_bounds, label_to_mass, mass_to_label
from gcs_hpc.store.read import (CHANNELS, LABEL_LOG10_MASS_MAX, LABEL_LOG10_MASS_MIN, channels_for, done_models,
                                failed_models, is_finished, label_range, open_dataset, status_counts,
                                string_coord)
from gcs_hpc.store.schema import (ARRAY_DIMS, COUNT_DIMS, ENCLOSED_RADII, MAP_DIMS, MODEL_COORDS, PHASE,
                                  SCHEMA_VERSION, STATUS_DONE, STATUS_FAILED, STATUS_PENDING, STATUSES,
                                  SUMMARY_DIMS)
from gcs_hpc.store.summary import read_enclosed_mass, read_phase_space, read_r_half

__all__ = [
    "CHANNELS",
    "LABEL_LOG10_MASS_MAX",
    "LABEL_LOG10_MASS_MIN",
    "channels_for",
    "done_models",
    "failed_models",
    "is_finished",
    "label_range",
    "open_dataset",
    "status_counts",
    "string_coord",
    "ARRAY_DIMS",
    "COUNT_DIMS",
    "ENCLOSED_RADII",
    "MAP_DIMS",
    "MODEL_COORDS",
    "PHASE",
    "SCHEMA_VERSION",
    "STATUSES",
    "STATUS_DONE",
    "STATUS_FAILED",
    "STATUS_PENDING",
    "SUMMARY_DIMS",
    "create_store",
    "label_bounds",
    "label_to_mass",
    "mark_failed",
    "mass_to_label",
    "model_status",
    "pending_indices",
    "read_enclosed_mass",
    "read_map_spec",
    "read_phase_space",
    "read_r_half",
    "schema_version",
    "store_attrs",
    "validate_store",
    "write_model",
]
