"""Create, validate and fill the map cube: the zarr v3 store the campaign writes and learn reads.

Concurrency and crash safety
----------------------------
- The store is created whole in a hidden sibling folder and renamed into place, so a store path either
  does not exist or holds a complete template; two creators race safely (the loser validates).
- Every per-model array has one chunk per model, so writers of different models never touch the same
  file; zarr writes each chunk to a temporary file and renames it, so a killed writer leaves the old
  chunk or the new one, never a torn one.
- :func:`write_model` writes the model's maps and counts (its region), then clears ``error``, then sets
  ``status = "done"``: a writer killed at any point leaves the model not done, and a rerun
  (:func:`pending_indices`) writes it again.
- Metadata never changes after creation (consolidated once, at creation).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import zarr

import gcs_hpc
from gcs_hpc.config import spec_from_mapping, spec_to_dict
from gcs_hpc.errors import StoreError
from gcs_hpc.specs import MapSpec, ModelSpec
from gcs_hpc.store.group import as_str_array as _as_str_array
from gcs_hpc.store.group import group_array as _array
from gcs_hpc.store.group import group_version as _version
from gcs_hpc.store.group import model_status
from gcs_hpc.store.group import open_group as _open_group
from gcs_hpc.store.labels import HI_KEY, LO_KEY, label_attrs
from gcs_hpc.store.schema import (SCHEMA_VERSION, STATUS_DONE, STATUS_FAILED, STATUS_PENDING,
                                  ArraySchema, array_dims, build_schema,
                                  dims_sizes)
from gcs_hpc.store.summary import checked_summary
from gcs_hpc.xp import to_numpy

#: Longest error message kept in the store (characters).
MAX_ERROR_CHARS: int = 10_000
#: Attributes that must match for an existing store to be reused.
CHECKED_ATTRS: tuple[str, ...] = ("schema_version", "config_yaml", "map_spec", LO_KEY, HI_KEY)


def _map_spec_text(map_spec: MapSpec) -> str:
    return json.dumps(spec_to_dict(map_spec), sort_keys=True)


def _expected_attrs(models: Sequence[ModelSpec], map_spec: MapSpec, config_yaml: str,
                    version: int = SCHEMA_VERSION) -> dict[str, Any]:
    return {
        "title": "gcs_hpc kinematic maps of globular cluster systems",
        "Conventions": "CF-1.10",
        "references": "Kaur, Bekki, Hassan & Datta 2021, MNRAS 508, 868",
        "schema_version": version,
        "config_yaml": config_yaml,
        "map_spec": _map_spec_text(map_spec),
        **label_attrs([m.M_total for m in models]),
    }


def _same_values(found: np.ndarray, expected: np.ndarray, dtype: str) -> bool:
    if dtype == "str":
        return bool(np.array_equal(_as_str_array(found), _as_str_array(expected)))
    return bool(np.array_equal(np.asarray(found), expected, equal_nan=dtype.startswith("float")))


def _first_difference(a: str, b: str) -> str:
    la, lb = a.splitlines(), b.splitlines()
    for i, (x, y) in enumerate(zip(la, lb)):
        if x != y:
            return f"line {i + 1}: store has {x!r}, new has {y!r}"
    return f"store has {len(la)} lines, new has {len(lb)}"


def _differences(group: zarr.Group, schema: list[ArraySchema], attrs: Mapping[str, Any]) -> list[str]:
    """Everything in which the store differs from the expected template (empty list: it matches)."""
    out = []
    for key in CHECKED_ATTRS:
        found, want = group.attrs.get(key), attrs[key]
        if found != want:
            if key == "config_yaml" and isinstance(found, str):
                out.append(f"config_yaml differs ({_first_difference(found, want)})")
            else:
                out.append(f"attribute {key} differs (store {found!r}, new {want!r})")
    present = set(group.array_keys())
    for a in schema:
        if a.name not in present:
            out.append(f"array {a.name!r} is missing (corrupt store)")
            continue
        arr = group[a.name]
        shape = tuple(arr.shape)
        want_shape = a.values.shape if a.values is not None else None
        dims = tuple(arr.metadata.dimension_names or ())
        if dims != a.dims:
            out.append(f"{a.name}: dims {dims} differ from {a.dims}")
        if a.dtype == "str":
            if arr.dtype.kind not in ("T", "U", "O"):
                out.append(f"{a.name}: dtype {arr.dtype} is not a string type")
        elif np.dtype(arr.dtype) != np.dtype(a.dtype):
            out.append(f"{a.name}: dtype {arr.dtype} differs from {a.dtype}")
        if tuple(arr.chunks) != a.chunks:
            out.append(f"{a.name}: chunks {tuple(arr.chunks)} differ from {a.chunks}")
        for k, v in a.attrs.items():
            if arr.attrs.get(k) != v:
                out.append(f"{a.name}: attribute {k} = {arr.attrs.get(k)!r} differs from {v!r}")
        if want_shape is not None:
            if shape != want_shape:
                out.append(f"{a.name}: shape {shape} differs from {want_shape}")
            elif not _same_values(arr[...], a.values, a.dtype):
                found = arr[...]
                bad = [i for i in range(len(a.values)) if not _same_values(found[i:i + 1], a.values[i:i + 1],
                                                                           a.dtype)]
                i = bad[0]
                out.append(f"{a.name} differs at {a.dims[0]} {i} (store {found[i]!r}, new {a.values[i]!r}; "
                           f"{len(bad)} entries differ)")
    sizes = {d: n for a in schema if a.values is not None for d, n in zip(a.dims, a.values.shape)}
    for a in schema:
        if a.values is None and a.name in present:
            want_shape = tuple(sizes[d] if d in sizes else None for d in a.dims)
            shape = tuple(group[a.name].shape)
            if any(w is not None and w != s for w, s in zip(want_shape, shape)):
                out.append(f"{a.name}: shape {shape} differs from {want_shape}")
    extra = sorted(present - {a.name for a in schema})
    if extra:
        out.append(f"unexpected arrays {extra}")
    return out


def _create(path: Path, schema: list[ArraySchema], attrs: dict[str, Any]) -> None:
    sizes: dict[str, int] = {}
    for a in schema:
        if a.values is not None:
            sizes[a.dims[0]] = a.values.shape[0]
    group = zarr.open_group(str(path), mode="w-", zarr_format=3, attributes={
        **attrs,
        "gcs_hpc_version": gcs_hpc.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    })
    for a in schema:
        shape = tuple(sizes[d] for d in a.dims)
        arr = group.create_array(a.name, shape=shape, chunks=a.chunks,
                                 dtype=str if a.dtype == "str" else a.dtype, fill_value=a.fill_value,
                                 dimension_names=list(a.dims), attributes=a.attrs)
        if a.values is not None:
            arr[...] = a.values
    with warnings.catch_warnings():  # "consolidated metadata is not part of the v3 spec (yet)"
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(path))


def create_store(path: str | os.PathLike, models: Sequence[ModelSpec], map_spec: MapSpec,
                 config_yaml: str, *, coords: Mapping[str, Sequence[float]] | None = None) -> None:
    """Create the map cube template for ``models``, or check that an existing one matches.

    Parameters
    ----------
    path
        Store folder. Created whole (atomically) when absent or an empty folder.
    models
        One spec per model, in plan order (index ``i`` is ``models[i]``).
    map_spec
        Grid, angles, field of view and smoothing of every map.
    config_yaml
        The campaign config as YAML text, kept in the store for provenance and compared on reuse.
    coords
        Optional per-model values replacing float coordinates derived from the specs, e.g.
        ``{"c": concentrations_actually_used}``.

    Raises
    ------
    StoreError
        If a store exists at ``path`` with another schema, map spec, config text, model list or label
        normalisation (the message names every difference), or is corrupt, or ``path`` is a non-empty
        folder that is not a store. Nothing is written in any of these cases.

    Notes
    -----
    The package version and creation time are recorded but not compared: a newer gcs_hpc may resume a
    campaign as long as the schema version, config text, map spec and models match.
    """
    path = Path(path)
    if not models:
        raise StoreError("create_store: models is empty; a store needs at least one model")
    if not all(isinstance(m, ModelSpec) for m in models):
        raise StoreError("create_store: models must be ModelSpec instances")
    if not isinstance(map_spec, MapSpec):
        raise StoreError(f"create_store: map_spec must be a MapSpec, got {type(map_spec).__name__}")
    if not isinstance(config_yaml, str):
        raise StoreError("create_store: config_yaml must be YAML text (str), got "
                         f"{type(config_yaml).__name__}")
    def template(version: int) -> tuple[list[ArraySchema], dict[str, Any]]:
        try:
            schema = build_schema(list(models), map_spec, dict(coords) if coords else None, version)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        return schema, _expected_attrs(models, map_spec, config_yaml, version)

    schema, attrs = template(SCHEMA_VERSION)
    fresh = not path.exists() or (path.is_dir() and not any(path.iterdir()))
    if fresh and path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
        # an empty folder that is read-only (permissions, a read-only mount) is never replaced
        raise StoreError(f"store folder {str(path)!r} exists and is not writable (read-only); nothing was "
                         "written. Allowed: a folder you can write, or a path that does not exist yet")
    if fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.creating-{uuid.uuid4().hex}"
        try:
            _create(tmp, schema, attrs)
            os.rename(tmp, path)  # atomic; fails if another creator won the race
            return
        except OSError:
            if not (path / "zarr.json").is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if path.exists() and not path.is_dir():
        raise StoreError(f"{str(path)!r} exists and is not a folder; refusing to overwrite it")
    group = _open_group(path, mode="r")
    if _version(group) != SCHEMA_VERSION:  # an older store: resumed with its own layout
        schema, attrs = template(_version(group))
    diffs = _differences(group, schema, attrs)
    if diffs:
        raise StoreError(f"store {str(path)!r} does not match the new campaign; nothing was written. "
                         "Differences: " + "; ".join(diffs[:12])
                         + (f"; and {len(diffs) - 12} more" if len(diffs) > 12 else ""))


def validate_store(path: str | os.PathLike) -> None:
    """Check that a store is complete and self-consistent: every array present, with the dims and shape
    that its map spec and model count imply. Raises :class:`StoreError` naming what is wrong."""
    group = _open_group(path, mode="r")
    map_spec = _map_spec_from_attrs(group, path)
    version = _version(group)
    n_gc = _array(group, "gc").shape[0] if version >= 2 else 0
    sizes = dims_sizes(_array(group, "model").shape[0], map_spec, n_gc)
    for name, dims in array_dims(version).items():
        arr = _array(group, name)
        want = tuple(sizes[d] for d in dims)
        found_dims = tuple(arr.metadata.dimension_names or ())
        if tuple(arr.shape) != want or found_dims != dims:
            raise StoreError(f"store {str(path)!r} is corrupt: {name} has dims {found_dims} and shape "
                             f"{tuple(arr.shape)}, expected {dims} and {want}")


def _map_spec_from_attrs(group: zarr.Group, path: Any) -> MapSpec:
    text = group.attrs.get("map_spec")
    try:
        return spec_from_mapping(MapSpec, json.loads(text), where="store.map_spec")
    except Exception as exc:
        raise StoreError(f"store {str(path)!r}: attribute map_spec is unreadable ({exc})") from None


def read_map_spec(path: str | os.PathLike) -> MapSpec:
    """The :class:`MapSpec` the store's maps were made with."""
    return _map_spec_from_attrs(_open_group(path), path)


def _check_index(index: Any, n_models: int) -> int:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n_models:
        raise StoreError(f"model index {index!r} is out of range; allowed 0 .. {n_models - 1}")
    return int(index)


def _checked_region(group: zarr.Group, index: Any, maps: Any, counts: Any) -> tuple[int, np.ndarray,
                                                                                     np.ndarray]:
    """Validate one model's maps and counts against the store; return them as float32 / int32."""
    maps_arr, counts_arr = _array(group, "maps"), _array(group, "counts")
    index = _check_index(index, maps_arr.shape[0])
    maps = np.asarray(to_numpy(maps))
    counts = np.asarray(to_numpy(counts))
    if maps.shape != tuple(maps_arr.shape[1:]):
        raise StoreError(f"write_model: maps of model {index} have shape {maps.shape}; the store expects "
                         f"{tuple(maps_arr.shape[1:])} (angle, channel, y, x)")
    if counts.shape != tuple(counts_arr.shape[1:]):
        raise StoreError(f"write_model: counts of model {index} have shape {counts.shape}; the store "
                         f"expects {tuple(counts_arr.shape[1:])} (angle, y, x)")
    if not np.all(np.isfinite(maps)):
        raise StoreError(f"write_model: maps of model {index} hold NaN or inf; allowed: finite km/s")
    if counts.dtype.kind not in "iu" or counts.min(initial=0) < 0:
        raise StoreError(f"write_model: counts of model {index} must be integers >= 0")
    return index, maps.astype(np.float32), counts.astype(np.int32)


def _write_region(path: str | os.PathLike, index: int, maps: Any, counts: Any,
                  summary: Mapping[str, Any] | None = None) -> None:
    """Write one model's maps, counts and summary arrays (its region) without touching its status."""
    group = _open_group(path, mode="r+")
    index, maps, counts = _checked_region(group, index, maps, counts)
    rows = checked_summary(group, index, summary)
    group["maps"][index] = maps
    group["counts"][index] = counts
    for name, row in rows.items():
        group[name][index] = row


def _set_status(path: str | os.PathLike, index: int, status: str, error: str) -> None:
    group = _open_group(path, mode="r+")
    status_arr, error_arr = _array(group, "status"), _array(group, "error")
    index = _check_index(index, status_arr.shape[0])
    error_arr[index] = error[:MAX_ERROR_CHARS]
    status_arr[index] = status


def write_model(path: str | os.PathLike, index: int, maps: Any, counts: Any,
                summary: Mapping[str, Any] | None = None) -> None:
    """Write one model's maps, counts and summary (one region write), then mark it done.

    Parameters
    ----------
    path
        Store created by :func:`create_store`.
    index
        Model index.
    maps
        float (n_angles, 2, npix, npix) in km/s, NumPy or CuPy.
    counts
        int (n_angles, npix, npix).
    summary
        The model's ``gc_phase_space`` (n_gc, 6: x, y, z kpc, vx, vy, vz km/s), ``r_half`` (n_angles,
        kpc), ``enclosed_mass`` (n_radius, Msun) and ``enclosed_radius`` (n_radius, kpc), all four, as
        :func:`gcs_hpc.maps.model_products` gives them (``ModelProducts.summary``). None leaves them
        NaN. Ignored for version-1 stores, which have no such arrays.

    Notes
    -----
    Validation happens before any write. A model that was done is set back to pending for the
    duration of a rewrite. ``status`` becomes done only after every array is written.

    Raises
    ------
    StoreError
        For a wrong index, shape or non-finite maps, or a missing or corrupt store; nothing is written.
    """
    group = _open_group(path, mode="r+")
    status_arr = _array(group, "status")
    index = _checked_region(group, index, maps, counts)[0]
    checked_summary(group, index, summary)
    if str(status_arr[index]) == STATUS_DONE:
        # Rewriting a done model: it is not done while its region changes (maps and counts are two
        # chunks, so a crash in between must not leave a done model with maps and counts of two runs).
        status_arr[index] = STATUS_PENDING
    _write_region(path, index, maps, counts, summary)
    _set_status(path, index, STATUS_DONE, "")


def mark_failed(path: str | os.PathLike, index: int, message: str) -> None:
    """Record that model ``index`` failed, with its error message (kept up to 10,000 characters).

    Raises
    ------
    StoreError
        If the model is already done (its maps are kept; a done model is never marked failed).
    """
    status = model_status(path)
    index = _check_index(index, len(status))
    if status[index] == STATUS_DONE:
        raise StoreError(f"model {index} is done; refusing to mark it failed ({message[:200]!r})")
    _set_status(path, index, STATUS_FAILED, str(message) or "failed")
