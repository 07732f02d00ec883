"""Reading the cube: the names and helpers every other floor uses instead of spelling the schema out.

learn, observe and experiments open a store, pick its done models, read its string coordinates, its
label attributes and its channel names through this module (re-exported by :mod:`gcs_hpc.store`), so a
change of the schema is made here once.

>>> ds = open_dataset("run1.zarr")            # lazy xarray Dataset, no dask
>>> done = done_models(ds)                    # indices of models with status == STATUS_DONE
>>> status_counts(ds)                         # {"pending": 0, "done": 1980, "failed": 20}
>>> label_range(ds.attrs)                     # (log10 M_lo, log10 M_hi) of the 0..10 label scale
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gcs_hpc.errors import StoreError
from gcs_hpc.store.labels import HI_KEY, LO_KEY, _bounds
from gcs_hpc.store.schema import CHANNELS, STATUS_DONE, STATUS_FAILED, STATUSES

#: Attribute names of the label scale's bounds (log10 Msun).
LABEL_LOG10_MASS_MIN, LABEL_LOG10_MASS_MAX = LO_KEY, HI_KEY
#: Variables without which a folder is not a gcs_hpc store.
REQUIRED_VARIABLES = ("maps", "M_total", "status", "suite")


def open_dataset(path: str | Path) -> Any:
    """Open the store lazily with xarray (no dask: indexing reads only the chunks it needs).

    Raises
    ------
    StoreError
        If the path does not exist or is not a gcs_hpc store (naming the path and what is missing).
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise StoreError(f"store {str(path)!r} does not exist")
    try:
        ds = xr.open_zarr(path, chunks=None)
    except Exception as exc:  # zarr raises several types for a non-store folder
        raise StoreError(f"{str(path)!r} is not a gcs_hpc zarr store: {exc}") from exc
    for name in REQUIRED_VARIABLES:
        if name not in ds.variables:
            raise StoreError(f"store {str(path)!r} has no {name!r} variable; is it a gcs_hpc store?")
    return ds


def string_coord(ds: Any, name: str) -> np.ndarray:
    """A per-model string coordinate (zarr v3 variable-length strings) as a fixed-width NumPy array."""
    return np.array([str(v) for v in np.asarray(ds[name].values).ravel().tolist()], dtype=str)


def done_models(ds: Any) -> np.ndarray:
    """Indices of the models whose status is ``done`` (sorted)."""
    return np.flatnonzero(string_coord(ds, "status") == STATUS_DONE)


def failed_models(ds: Any) -> np.ndarray:
    """Indices of the models whose status is ``failed`` (sorted)."""
    return np.flatnonzero(string_coord(ds, "status") == STATUS_FAILED)


def status_counts(ds: Any) -> dict[str, int]:
    """Models per status value (every value of :data:`STATUSES`, zero included)."""
    status = string_coord(ds, "status")
    return {value: int((status == value).sum()) for value in STATUSES}


def is_finished(status: str) -> bool:
    """Whether a model with this status will not run again (done or failed)."""
    return status in (STATUS_DONE, STATUS_FAILED)


def label_range(attrs: Mapping[str, Any]) -> tuple[float, float]:
    """``(log10 M_lo, log10 M_hi)`` of the store's label scale, from its attributes (validated)."""
    return _bounds(attrs)


def channels_for(count: int) -> tuple[str, ...]:
    """Store channel names used by a net with ``count`` input channels (the first ``count``, in order).

    Raises
    ------
    StoreError
        If ``count`` is not between 1 and the number of channels of the store.
    """
    if not isinstance(count, (int, np.integer)) or not 1 <= count <= len(CHANNELS):
        raise StoreError(f"channels = {count!r}; allowed: 1..{len(CHANNELS)} (of {', '.join(CHANNELS)})")
    return CHANNELS[:count]


__all__ = ["CHANNELS", "LABEL_LOG10_MASS_MAX", "LABEL_LOG10_MASS_MIN", "STATUSES", "STATUS_DONE",
           "STATUS_FAILED", "channels_for", "done_models", "failed_models", "is_finished", "label_range",
           "open_dataset", "status_counts", "string_coord"]
