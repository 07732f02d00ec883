"""Opening a gcs_hpc map cube's zarr group (always from the files, never consolidated metadata) and
reading what every floor asks first: each model's status, the schema version, the attributes.

Writers (:mod:`gcs_hpc.store.cube`) and checkers (:mod:`gcs_hpc.store.verify`) open stores through
:func:`open_group` so that a missing, foreign or too-new store is refused with one message everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import zarr

import gcs_hpc
from gcs_hpc.errors import StoreError
from gcs_hpc.store.schema import STATUS_DONE, SUPPORTED_SCHEMA_VERSIONS


def open_group(path: str | os.PathLike, mode: str = "r") -> zarr.Group:
    """Open an existing store's root group without consolidated metadata (always the files' truth)."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"store {str(path)!r} does not exist")
    if not (path / "zarr.json").is_file():
        raise StoreError(f"{str(path)!r} is not a zarr v3 store (no zarr.json); refusing to use it")
    try:
        group = zarr.open_group(str(path), mode=mode, zarr_format=3, use_consolidated=False)
    except Exception as exc:  # unreadable metadata
        raise StoreError(f"store {str(path)!r} cannot be opened: {exc}") from exc
    if "schema_version" not in group.attrs:
        raise StoreError(f"store {str(path)!r} is not a gcs_hpc map cube (no schema_version attribute)")
    version = group.attrs["schema_version"]
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise StoreError(f"store {str(path)!r} has schema version {version!r}, which this gcs_hpc "
                         f"{gcs_hpc.__version__} does not read; allowed: "
                         + ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS)))
    return group


def group_version(group: zarr.Group) -> int:
    return int(group.attrs["schema_version"])


def group_array(group: zarr.Group, name: str) -> zarr.Array:
    try:
        arr = group[name]
    except KeyError:
        raise StoreError(f"store {str(group.store)!r} is corrupt: array {name!r} is missing") from None
    if not isinstance(arr, zarr.Array):
        raise StoreError(f"store {str(group.store)!r} is corrupt: {name!r} is not an array")
    return arr


def as_str_array(values: Any) -> np.ndarray:
    return np.array([str(v) for v in np.asarray(values).ravel().tolist()], dtype=str)


def model_status(path: str | os.PathLike) -> np.ndarray:
    """Status of every model ("pending", "done" or "failed"), a NumPy array of str."""
    arr = group_array(open_group(path), "status")
    try:
        values = arr[...]
    except Exception as exc:  # a damaged chunk file
        raise StoreError(f"store {str(path)!r} is corrupt: status cannot be read ({exc})") from exc
    return as_str_array(values)


def pending_indices(path: str | os.PathLike) -> list[int]:
    """Indices of the models not done yet (pending or failed), ascending."""
    return [int(i) for i in np.flatnonzero(model_status(path) != STATUS_DONE)]


def schema_version(path: str | os.PathLike) -> int:
    """The schema version of a store (1: maps and counts only; 2: with the GC phase space)."""
    return group_version(open_group(path))


def store_attrs(path: str | os.PathLike) -> dict[str, Any]:
    """The store's attributes (label normalisation, config text, map spec, version, creation time)."""
    return dict(open_group(path).attrs)
