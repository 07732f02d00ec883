"""The schema of the map cube: one place that says which arrays, dims, chunks, dtypes and attributes
a gcs_hpc store holds. :mod:`gcs_hpc.store.cube` creates, validates and writes stores from it.

Layout (zarr v3, opened by ``xr.open_zarr(path)``)
-------------------------------------------------
- ``maps`` float32 ``(model, angle, channel, y, x)``, km/s, channels ``["sigma", "V"]``; NaN until the
  model is written.
- ``counts`` int32 ``(model, angle, y, x)``: GCs per pixel before smoothing; -1 until written.
- Per-model coordinates along ``model``: ``kind``, ``suite``, ``M_total``, ``M_halo``, ``c``, ``f_b``,
  ``f_bary``, ``f_rot``, ``f_v``, ``m2``, ``theta_1``, ``theta_2``, ``seed``, ``status``, ``error``.
  Merger-only parameters are NaN for isolated disks. ``c`` is NaN where the spec leaves it to the c-M
  relation, unless the creator passes the value used (``create_store(..., coords={"c": ...})``).
- Angle coordinates ``theta``, ``phi`` (degrees); ``x``, ``y`` pixel centres in the field-of-view unit.

Added in schema version 2 (written with the maps, in the same region write; NaN until then):

- ``gc_phase_space`` float64 ``(model, gc, phase)``, phases ``["x", "y", "z", "vx", "vy", "vz"]``: the
  final positions (kpc) and velocities (km/s) of every GC in the galaxy's centre frame, the frame of the
  maps (stellar shrinking-sphere centre and rest frame, :func:`gcs_hpc.maps.galaxy_frame`). The ``gc``
  dim is the campaign's largest GC number; models with fewer GCs are padded with NaN rows.
- ``r_half`` float64 ``(model, angle)``, kpc: the stars' projected half-mass radius along each angle.
- ``enclosed_mass`` float64 ``(model, radius)``, Msun: total (dark + stellar) mass inside a 3D sphere
  about the centre of the final snapshot, at the radii named by the ``radius`` coordinate
  (:data:`ENCLOSED_RADII`); ``enclosed_radius`` ``(model, radius)`` holds those radii in kpc. Read one
  with :func:`gcs_hpc.store.read_enclosed_mass`.

Version-1 stores (without these arrays) stay readable and resumable; :func:`schema_for_version` gives
each version's arrays.

Every per-model array, the static coordinates included, has one chunk per model, so no two writers ever
share a chunk (or a shard: there are none; see zarr-python#3682).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gcs_hpc.maps.angles import viewing_angles
from gcs_hpc.maps.binning import CHANNELS, pixel_centres
from gcs_hpc.maps.model_maps import ENCLOSED_RADII, PHASE
from gcs_hpc.specs import MapSpec, ModelSpec

#: Version of this layout, written into new stores.
SCHEMA_VERSION: int = 2
#: Versions this code opens and resumes (1: maps and counts only).
SUPPORTED_SCHEMA_VERSIONS: tuple[int, ...] = (1, 2)
MAP_DIMS: tuple[str, ...] = ("model", "angle", "channel", "y", "x")
COUNT_DIMS: tuple[str, ...] = ("model", "angle", "y", "x")
STATUS_PENDING, STATUS_DONE, STATUS_FAILED = "pending", "done", "failed"
STATUSES: tuple[str, ...] = (STATUS_PENDING, STATUS_DONE, STATUS_FAILED)
#: Fill values of arrays not yet written.
MAPS_FILL: float = float("nan")
COUNTS_FILL: int = -1
#: Arrays written by the workers (one region per model); everything else is written at creation.
WRITTEN_BY_WORKERS: tuple[str, ...] = ("maps", "counts", "status", "error", "gc_phase_space", "r_half",
                                        "enclosed_mass", "enclosed_radius")
#: Arrays (and their dims) added in schema version 2.
SUMMARY_DIMS: dict[str, tuple[str, ...]] = {
    "gc_phase_space": ("model", "gc", "phase"), "r_half": ("model", "angle"),
    "enclosed_mass": ("model", "radius"), "enclosed_radius": ("model", "radius"),
}

FOV_UNIT_NAMES = {"R_d": "initial stellar disk size R_d", "kpc": "kpc",
                  "R_half": "projected stellar half-mass radius"}


@dataclass(frozen=True)
class ArraySchema:
    """One array of the store.

    Attributes
    ----------
    name, dims, dtype, chunks, fill_value
        As in zarr; ``dtype`` is a NumPy dtype string or ``"str"`` (zarr v3 variable-length UTF-8).
    attrs
        CF ``units`` and ``long_name`` (and more where needed).
    values
        Contents written at creation (coordinates), or None for arrays the workers fill.
    """

    name: str
    dims: tuple[str, ...]
    dtype: str
    chunks: tuple[int, ...]
    fill_value: Any
    attrs: dict[str, Any]
    values: np.ndarray | None = field(default=None, compare=False)


def _merger_value(name: str) -> Callable[[ModelSpec], float]:
    return lambda m: float(getattr(m.merger, name)) if m.merger is not None else math.nan


#: Per-model coordinates written at creation: name -> (dtype, units, long_name, value from the spec).
MODEL_COORDS: dict[str, tuple[str, str, str, Callable[[ModelSpec], Any]]] = {
    "kind": ("str", "1", "model kind: disk (isolated) or merger", lambda m: m.kind),
    "suite": ("str", "1", "campaign suite of the model", lambda m: m.suite),
    "M_total": ("float64", "Msun", "total mass of the system (halo inside R_vir + disk + bulge, both "
                "galaxies of a merger): the label", lambda m: float(m.M_total)),
    "M_halo": ("float64", "Msun", "dark halo mass of the (primary) galaxy inside R_vir",
               lambda m: float(m.galaxy.M_halo)),
    "c": ("float64", "1", "NFW concentration of the (primary) halo; NaN: from the c-M relation, value "
          "not recorded", lambda m: math.nan if m.galaxy.c is None else float(m.galaxy.c)),
    "f_b": ("float64", "1", "bulge to disk mass ratio M_b/M_s", lambda m: float(m.galaxy.f_b)),
    "f_bary": ("float64", "1", "stellar disk to halo mass ratio M_s/M_halo",
               lambda m: float(m.galaxy.f_bary)),
    "f_rot": ("float64", "1", "rotational to total kinetic energy of the GCS T_rot/T_kin",
              lambda m: float(m.galaxy.f_rot)),
    "f_v": ("float64", "1", "merger relative speed over circular speed (NaN for disks)",
            _merger_value("f_v")),
    "m2": ("float64", "1", "merger mass ratio of the secondary (NaN for disks)", _merger_value("m2")),
    "theta_1": ("float64", "degree", "spin angle of the primary disk to the z axis (NaN for disks)",
                _merger_value("theta_1")),
    "theta_2": ("float64", "degree", "spin angle of the secondary disk to the z axis (NaN for disks)",
                _merger_value("theta_2")),
    "seed": ("int64", "1", "random seed of the initial conditions", lambda m: int(m.seed)),
}
#: Per-model coordinates the workers write.
STATUS_ATTRS = {"units": "1", "long_name": "model state: pending, done or failed",
                "flag_values": " ".join(STATUSES)}
ERROR_ATTRS = {"units": "1", "long_name": "error message of a failed model (empty otherwise)"}
#: Names of all non-index coordinates, listed in the ``coordinates`` attribute of maps and counts.
AUX_COORDS: tuple[str, ...] = tuple(MODEL_COORDS) + ("status", "error", "theta", "phi")
#: Every array of a version-1 store and its dims.
ARRAY_DIMS_V1: dict[str, tuple[str, ...]] = {
    "maps": MAP_DIMS, "counts": COUNT_DIMS, "model": ("model",),
    **{name: ("model",) for name in MODEL_COORDS}, "status": ("model",), "error": ("model",),
    "angle": ("angle",), "theta": ("angle",), "phi": ("angle",), "channel": ("channel",),
    "y": ("y",), "x": ("x",),
}
#: Every array of the store (this version) and its dims.
ARRAY_DIMS: dict[str, tuple[str, ...]] = {
    **ARRAY_DIMS_V1, **SUMMARY_DIMS, "gc": ("gc",), "phase": ("phase",), "radius": ("radius",),
}


def array_dims(version: int) -> dict[str, tuple[str, ...]]:
    """The arrays of a store of schema ``version`` and their dims."""
    return dict(ARRAY_DIMS_V1) if version == 1 else dict(ARRAY_DIMS)


def gc_count(model: ModelSpec) -> int:
    """Number of GCs of a model: the galaxy's ``n_gc``, plus the secondary's (scaled by m2, at least 1)
    for a merger (as :func:`gcs_hpc.galaxy.models.particle_numbers` samples them)."""
    n = int(model.galaxy.n_gc)
    if model.merger is not None:
        n += max(1, round(model.merger.m2 * model.galaxy.n_gc))
    return n


def dims_sizes(n_models: int, map_spec: MapSpec, n_gc: int = 0) -> dict[str, int]:
    """Sizes of the dims (``gc``: the campaign's largest GC number, when known)."""
    return {"model": n_models, "angle": map_spec.n_angles, "channel": len(CHANNELS),
            "y": map_spec.npix, "x": map_spec.npix, "gc": n_gc, "phase": len(PHASE),
            "radius": len(ENCLOSED_RADII)}


def _as_array(values: Sequence[Any], dtype: str) -> np.ndarray:
    return np.asarray(values, dtype=str if dtype == "str" else dtype)


def _summary_schema(n_gc: int, n_angles: int) -> list[ArraySchema]:
    """The arrays added in schema version 2 (written by the workers, except the index coordinates)."""
    n_radius = len(ENCLOSED_RADII)
    return [
        ArraySchema("gc_phase_space", SUMMARY_DIMS["gc_phase_space"], "float64", (1, n_gc, len(PHASE)),
                    MAPS_FILL,
                    {"units": "kpc (x, y, z); km s-1 (vx, vy, vz)", "long_name": "final positions and "
                     "velocities of the globular clusters in the galaxy's centre frame (stellar density "
                     "centre and rest frame, as the maps); NaN rows pad models with fewer GCs"}),
        ArraySchema("r_half", SUMMARY_DIMS["r_half"], "float64", (1, n_angles), MAPS_FILL,
                    {"units": "kpc", "long_name": "projected half-mass radius of the stars along the "
                     "viewing direction"}),
        ArraySchema("enclosed_mass", SUMMARY_DIMS["enclosed_mass"], "float64", (1, n_radius), MAPS_FILL,
                    {"units": "Msun", "long_name": "total (dark and stellar) mass inside a sphere of "
                     "radius enclosed_radius about the stellar density centre of the final snapshot"}),
        ArraySchema("enclosed_radius", SUMMARY_DIMS["enclosed_radius"], "float64", (1, n_radius),
                    MAPS_FILL,
                    {"units": "kpc", "long_name": "radius of the sphere of enclosed_mass"}),
        ArraySchema("gc", ("gc",), "int64", (n_gc,), 0,
                    {"units": "1", "long_name": "globular cluster index within its model"},
                    np.arange(n_gc, dtype=np.int64)),
        ArraySchema("phase", ("phase",), "str", (len(PHASE),), "",
                    {"units": "1", "long_name": "phase-space coordinate: x, y, z (kpc), vx, vy, vz "
                     "(km s-1)"}, np.asarray(PHASE, dtype=str)),
        ArraySchema("radius", ("radius",), "str", (n_radius,), "",
                    {"units": "1", "long_name": "name of the radius of enclosed_mass: "
                     + "; ".join(f"{k}: {v}" for k, v in ENCLOSED_RADII.items())},
                    np.asarray(list(ENCLOSED_RADII), dtype=str)),
    ]


def build_schema(models: Sequence[ModelSpec], map_spec: MapSpec,
                 coords: dict[str, Sequence[float]] | None = None,
                 version: int = SCHEMA_VERSION) -> list[ArraySchema]:
    """The arrays of a store for ``models`` and ``map_spec``, with their creation-time contents.

    Parameters
    ----------
    models
        One spec per model, in store order.
    map_spec
        Grid and angles.
    coords
        Optional per-model values that replace those derived from the specs, for float coordinates only
        (e.g. ``{"c": concentrations_used}``).
    version
        Schema version (1: without the GC phase space, half-mass radii and enclosed masses).
    """
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise ValueError(f"schema version {version!r} is not supported; allowed: "
                         + ", ".join(map(str, SUPPORTED_SCHEMA_VERSIONS)))
    n = len(models)
    npix, n_angles = map_spec.npix, map_spec.n_angles
    unit = map_spec.fov_unit
    theta, phi = viewing_angles(n_angles)
    centres = pixel_centres(map_spec)
    out = [
        ArraySchema("maps", MAP_DIMS, "float32", (1, n_angles, 2, npix, npix), MAPS_FILL,
                    {"units": "km s-1", "long_name": "GCS kinematic maps: line-of-sight velocity "
                     "dispersion sigma and mean line-of-sight velocity V, Gaussian smoothed",
                     "coordinates": " ".join(AUX_COORDS)}),
        ArraySchema("counts", COUNT_DIMS, "int32", (1, n_angles, npix, npix), COUNTS_FILL,
                    {"units": "1", "long_name": "number of GCs per pixel before smoothing "
                     "(0: empty pixel; -1: model not written)", "coordinates": " ".join(AUX_COORDS)}),
        ArraySchema("model", ("model",), "int64", (1,), 0,
                    {"units": "1", "long_name": "model index in the campaign plan"},
                    np.arange(n, dtype=np.int64)),
    ]
    coords = dict(coords or {})
    for name, (dtype, units, long_name, get) in MODEL_COORDS.items():
        values = _as_array([get(m) for m in models], dtype)
        if name in coords and dtype == "float64":
            values = np.asarray(coords.pop(name), dtype=np.float64)
        out.append(ArraySchema(name, ("model",), dtype, (1,), "" if dtype == "str" else 0,
                               {"units": units, "long_name": long_name}, values))
    out += [
        ArraySchema("status", ("model",), "str", (1,), STATUS_PENDING, dict(STATUS_ATTRS)),
        ArraySchema("error", ("model",), "str", (1,), "", dict(ERROR_ATTRS)),
        ArraySchema("angle", ("angle",), "int64", (n_angles,), 0,
                    {"units": "1", "long_name": "viewing direction index (Fibonacci lattice)"},
                    np.arange(n_angles, dtype=np.int64)),
        ArraySchema("theta", ("angle",), "float64", (n_angles,), 0.0,
                    {"units": "degree", "long_name": "polar angle of the line of sight from the z axis "
                     "(0: disk face-on)"}, theta),
        ArraySchema("phi", ("angle",), "float64", (n_angles,), 0.0,
                    {"units": "degree", "long_name": "azimuth of the line of sight"}, phi),
        ArraySchema("channel", ("channel",), "str", (len(CHANNELS),), "",
                    {"units": "1", "long_name": "map channel: sigma (dispersion) or V (mean velocity)"},
                    np.asarray(CHANNELS, dtype=str)),
        ArraySchema("y", ("y",), "float64", (npix,), 0.0,
                    {"units": unit, "long_name": f"sky y of the pixel centres, in units of "
                     f"{FOV_UNIT_NAMES[unit]}", "axis": "Y"}, centres),
        ArraySchema("x", ("x",), "float64", (npix,), 0.0,
                    {"units": unit, "long_name": f"sky x of the pixel centres, in units of "
                     f"{FOV_UNIT_NAMES[unit]}", "axis": "X"}, centres.copy()),
    ]
    n_gc = max(gc_count(m) for m in models)
    if version >= 2:
        out += _summary_schema(n_gc, n_angles)
    for name in coords:
        raise ValueError(f"create_store: coords[{name!r}] is not an overridable coordinate; allowed: "
                         + ", ".join(k for k, v in MODEL_COORDS.items() if v[0] == "float64"))
    for a in out:
        if a.values is not None and a.values.shape != (dims_sizes(n, map_spec, n_gc)[a.dims[0]],):
            raise ValueError(f"create_store: {a.name} has {a.values.shape[0]} values; expected one per "
                             f"{a.dims[0]} ({dims_sizes(n, map_spec, n_gc)[a.dims[0]]})")
    return out
