"""Per-model physics beside the maps (schema version 2): GC phase space, half-mass radii, enclosed mass.

What the arrays hold is documented in :mod:`gcs_hpc.store.schema`. This module checks one model's
values before the region write (:func:`checked_summary`, used by :func:`gcs_hpc.store.write_model`) and
reads them back from an opened store (:func:`read_enclosed_mass`, :func:`read_phase_space`,
:func:`read_r_half`).

Radius names of ``enclosed_mass`` (:data:`gcs_hpc.store.schema.ENCLOSED_RADII`):

- ``"r_half"``: the angle-averaged projected stellar half-mass radius R_half (kpc);
- ``"2_r_half"``, ``"5_r_half"``: 2 and 5 R_half;
- ``"fov_half"``: the half-width of the maps' field of view in kpc (``fov / 2`` times R_d, 1 kpc or the
  angle-averaged R_half, by ``fov_unit``);
- ``"10_kpc"``, ``"20_kpc"``, ``"50_kpc"``: fixed radii.

M(<r) is the total (dark + stellar) mass inside a 3D sphere of that radius about the stellar density
centre of the final snapshot (the centre of the maps).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from gcs_hpc.errors import StoreError
from gcs_hpc.store.schema import ENCLOSED_RADII, PHASE, SUMMARY_DIMS
from gcs_hpc.xp import to_numpy


def checked_summary(group: Any, index: int, summary: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
    """Validate one model's summary arrays against an open zarr group; return the float64 rows to write.

    The GC phase space is padded with NaN rows to the store's ``gc`` size. Returns an empty dict when
    ``summary`` is None or the store is of schema version 1 (which has no such arrays).

    Raises
    ------
    StoreError
        For missing or extra keys, wrong shapes, non-finite values, or radii (masses) not > 0 (>= 0).
    """
    if summary is None or int(group.attrs["schema_version"]) < 2:
        return {}
    if not isinstance(summary, Mapping) or set(summary) != set(SUMMARY_DIMS):
        found = sorted(summary) if isinstance(summary, Mapping) else type(summary).__name__
        raise StoreError(f"write_model: summary of model {index} must map exactly "
                         f"{', '.join(SUMMARY_DIMS)} to arrays; got {found}")
    out = {}
    for name in SUMMARY_DIMS:
        try:
            want = tuple(group[name].shape[1:])
        except KeyError:
            raise StoreError(f"store {str(group.store)!r} is corrupt: array {name!r} is missing") from None
        value = np.asarray(to_numpy(summary[name]), dtype=np.float64)
        if name == "gc_phase_space":
            if value.ndim != 2 or value.shape[1] != len(PHASE) or not 1 <= value.shape[0] <= want[0]:
                raise StoreError(f"write_model: gc_phase_space of model {index} has shape {value.shape}; "
                                 f"the store expects (n_gc, {len(PHASE)}) with 1 <= n_gc <= {want[0]}")
        elif value.shape != want:
            raise StoreError(f"write_model: {name} of model {index} has shape {value.shape}; the store "
                             f"expects {want} ({', '.join(SUMMARY_DIMS[name][1:])})")
        if not np.all(np.isfinite(value)):
            raise StoreError(f"write_model: {name} of model {index} holds NaN or inf; allowed: finite values")
        if name == "enclosed_mass" and not np.all(value >= 0):
            raise StoreError(f"write_model: enclosed_mass of model {index} must be >= 0 Msun")
        if name in ("r_half", "enclosed_radius") and not np.all(value > 0):
            raise StoreError(f"write_model: {name} of model {index} must be > 0 kpc")
        if name == "gc_phase_space":
            padded = np.full(want, np.nan)
            padded[:value.shape[0]] = value
            value = padded
        out[name] = value
    return out


def _dataset(ds: Any) -> Any:
    """An xarray Dataset from a Dataset or a store path."""
    if isinstance(ds, (str, os.PathLike)):
        import xarray as xr

        return xr.open_zarr(ds)
    return ds


def _require(ds: Any, name: str) -> None:
    if name not in ds.variables:
        raise StoreError(f"the store has no {name!r} (schema version "
                         f"{ds.attrs.get('schema_version', '?')}; it needs version 2: re-run the campaign "
                         "with this gcs_hpc to record the GC phase space, R_half and enclosed masses)")


def read_enclosed_mass(ds: Any, radius: str) -> np.ndarray:
    """Enclosed total mass M(<r) of every model at the named radius, Msun.

    Parameters
    ----------
    ds
        The store, opened with ``xr.open_zarr`` (or its path).
    radius
        One of :data:`gcs_hpc.store.schema.ENCLOSED_RADII`: ``"r_half"``, ``"2_r_half"``, ``"5_r_half"``,
        ``"fov_half"``, ``"10_kpc"``, ``"20_kpc"``, ``"50_kpc"``.

    Returns
    -------
    float64 array of shape (n_models,); NaN for models not done.
    """
    ds = _dataset(ds)
    _require(ds, "enclosed_mass")
    if radius not in ENCLOSED_RADII:
        raise StoreError(f"read_enclosed_mass: radius {radius!r} is unknown; allowed: "
                         + ", ".join(ENCLOSED_RADII))
    names = [str(r) for r in ds["radius"].values]
    return np.asarray(ds["enclosed_mass"].values[:, names.index(radius)], dtype=np.float64)


def read_r_half(ds: Any, average: bool = False) -> np.ndarray:
    """Projected stellar half-mass radius in kpc, (n_models, n_angles), or (n_models,) averaged over the
    stored angles when ``average``."""
    ds = _dataset(ds)
    _require(ds, "r_half")
    values = np.asarray(ds["r_half"].values, dtype=np.float64)
    return values.mean(axis=1) if average else values


def read_phase_space(ds: Any, model: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (kpc) and velocities (km/s) of one model's GCs, each (n_gc, 3), padding dropped.

    Raises
    ------
    StoreError
        If the store has no phase space or the model's is not written (NaN).
    """
    ds = _dataset(ds)
    _require(ds, "gc_phase_space")
    values = np.asarray(ds["gc_phase_space"].isel(model=int(model)).values, dtype=np.float64)
    rows = values[np.all(np.isfinite(values), axis=1)]
    if len(rows) == 0:
        raise StoreError(f"read_phase_space: model {model} has no GC phase space written (status "
                         f"{str(ds['status'].values[int(model)])!r})")
    return rows[:, :3], rows[:, 3:]


def read_disk_size(ds: Any) -> np.ndarray:
    """The initial stellar disk size R_d (kpc) of every model's (primary) galaxy, from its ``M_halo``
    coordinate (the unit of maps with ``fov_unit = "R_d"``; :func:`gcs_hpc.galaxy.disk_size_kpc`)."""
    from gcs_hpc.galaxy.models import disk_size_kpc
    from gcs_hpc.specs import GalaxySpec

    ds = _dataset(ds)
    return np.array([disk_size_kpc(GalaxySpec(M_halo=float(m))) for m in ds["M_halo"].values])
