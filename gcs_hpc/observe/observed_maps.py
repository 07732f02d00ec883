"""Observed GCs -> the same 10x10 [sigma, V] maps the simulations give, and empty-pixel policies.

The grid is the one the training store (or trained net) used: its :class:`~gcs_hpc.specs.MapSpec`. The
length of one ``fov_unit`` for a real galaxy is

- ``kpc``: 1 kpc;
- ``R_half``: the galaxy's effective radius in kpc (the simulations use the projected stellar half-mass
  radius; the two agree for a constant mass-to-light ratio);
- ``R_d``: the disk size of the simulated galaxy, which cannot be measured for a real galaxy. We refuse
  it with a :class:`~gcs_hpc.errors.ConfigError` unless a disk size in kpc is given explicitly
  (``disk_size_kpc`` / ``--disk-size-kpc``), which is then the user's assumption.

Orientation. The simulated maps have ``e_x x e_y`` pointing towards the observer
(:mod:`gcs_hpc.maps.angles`); on the sky (east, north) has the opposite handedness, so the observed map
uses x = west (minus east) and y = north, or, when the galaxy's position angle is known and
``align_major_axis`` is set, x along the major axis (as the simulated disks, whose plane contains
``e_x``), mirrored the same way. Velocities are recession velocities relative to the galaxy in both.

The binning is :func:`gcs_hpc.maps.observation.sky_maps`, the very call that makes the simulated maps
of training views under an observation model (:func:`gcs_hpc.maps.view_maps`): simulated and observed
maps come from one code. Per-GC velocity errors go with it (:func:`gcs_hpc.maps.bin_projected` removes
them from sigma in quadrature, as for simulated views with errors).

Empty pixels (no GC within the smoothing kernel, exactly those :func:`~gcs_hpc.maps.bin_projected` fills)
follow Kaur et al. (2021, section 4.1): T1, T2, T3 put 0, 50 and 100 km/s into both channels, T4
interpolates linearly from the populated pixels (nearest populated pixel outside their convex hull);
``masked`` leaves NaN there (for plots; a net cannot take it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import griddata

from gcs_hpc.config import check_choice
from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.maps import pixel_centres, sky_maps, smoothing_kernel
from gcs_hpc.observe.galaxies import Galaxy
from gcs_hpc.observe.project import ProjectedGCs
from gcs_hpc.specs import MapSpec

#: Empty-pixel policies: constant fills (km/s) of the paper's T1-T3; T4 interpolates; masked -> NaN.
FILL_VALUES_KMS: dict[str, float] = {"T1": 0.0, "T2": 50.0, "T3": 100.0}
FILL_POLICIES: tuple[str, ...] = ("T1", "T2", "T3", "T4", "masked")
#: Fewest GCs inside the field of view for a map.
MIN_GCS_FOR_MAP = 30


def fov_scale_kpc(map_spec: MapSpec, galaxy: Galaxy, disk_size_kpc: float | None = None) -> float:
    """Length of one ``map_spec.fov_unit`` in kpc for a real galaxy (see the module notes)."""
    if map_spec.fov_unit == "kpc":
        return 1.0
    if map_spec.fov_unit == "R_half":
        return galaxy.r_eff_kpc
    if disk_size_kpc is None:
        raise ConfigError("maps.fov_unit = 'R_d' (the simulated disk size) cannot be measured for a real "
                          "galaxy; give the disk size to assume in kpc (--disk-size-kpc), or train on a "
                          "store whose fov_unit is 'R_half' or 'kpc'")
    if not (np.isfinite(disk_size_kpc) and disk_size_kpc > 0):
        raise ConfigError(f"disk_size_kpc = {disk_size_kpc!r} is out of range; allowed range (0, inf) kpc")
    return float(disk_size_kpc)


def empty_pixels(counts: np.ndarray, map_spec: MapSpec) -> np.ndarray:
    """Boolean (npix, npix) mask of the pixels with no GC within the smoothing kernel."""
    kernel = smoothing_kernel(map_spec)
    return (kernel @ counts.astype(np.float64) @ kernel.T) <= 0.0


def interpolate_empty(image: np.ndarray, empty: np.ndarray, map_spec: MapSpec) -> np.ndarray:
    """Fill the ``empty`` pixels of one (npix, npix) image by linear interpolation over the populated
    pixel centres, and the nearest populated value outside their convex hull."""
    if not np.any(empty):
        return image.copy()
    if np.all(empty):
        raise CatalogError("every pixel of the map is empty; nothing to interpolate from")
    c = pixel_centres(map_spec)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    known = np.stack([yy[~empty], xx[~empty]], axis=1)
    values = image[~empty].astype(np.float64)
    wanted = np.stack([yy[empty], xx[empty]], axis=1)
    filled = np.full(len(wanted), np.nan)
    if len(known) >= 3:
        try:
            filled = griddata(known, values, wanted, method="linear")
        except Exception:  # collinear populated pixels (QhullError): fall back to nearest
            filled = np.full(len(wanted), np.nan)
    missing = ~np.isfinite(filled)
    if np.any(missing):
        filled[missing] = griddata(known, values, wanted[missing], method="nearest")
    out = image.astype(np.float64).copy()
    out[empty] = filled
    return out.astype(image.dtype)


@dataclass(frozen=True)
class ObservedMaps:
    """The maps of one observed galaxy.

    Attributes
    ----------
    maps
        float32 (2, npix, npix), channels [sigma, V] in km/s, empty pixels at ``map_spec.empty_fill``.
    counts
        int32 (npix, npix): GCs per pixel.
    map_spec
        The grid used.
    scale_kpc
        Length of one ``fov_unit`` in kpc.
    n_in_field
        GCs inside the field of view.
    """

    maps: np.ndarray
    counts: np.ndarray
    map_spec: MapSpec
    scale_kpc: float
    n_in_field: int

    @property
    def empty(self) -> np.ndarray:
        """Mask of the empty pixels (no GC within the smoothing kernel)."""
        return empty_pixels(self.counts, self.map_spec)

    def filled(self, policy: str) -> np.ndarray:
        """The maps, float32 (2, npix, npix), with the empty pixels filled by ``policy``
        (one of :data:`FILL_POLICIES`)."""
        check_choice("maps", "fill policy", policy, FILL_POLICIES)
        empty = self.empty
        out = self.maps.copy()
        if policy in FILL_VALUES_KMS:
            out[:, empty] = FILL_VALUES_KMS[policy]
        elif policy == "masked":
            out[:, empty] = np.nan
        else:
            out = np.stack([interpolate_empty(ch, empty, self.map_spec) for ch in out])
        return out


def make_observed_maps(gcs: ProjectedGCs, galaxy: Galaxy, map_spec: MapSpec, *,
                       disk_size_kpc: float | None = None, min_gcs: int = MIN_GCS_FOR_MAP) -> ObservedMaps:
    """Bin a galaxy's projected GCs on the training grid ``map_spec``.

    Parameters
    ----------
    gcs
        Projected GCs (x east, y north, or x along the major axis; see :func:`project_catalog`).
    galaxy
        The galaxy (its effective radius sets the scale for ``fov_unit == "R_half"``).
    map_spec
        The training maps' definition.
    disk_size_kpc
        Assumed disk size for ``fov_unit == "R_d"``.
    min_gcs
        Fewest GCs inside the field of view.

    Raises
    ------
    ConfigError
        For ``R_d`` without a disk size, or ``R_half`` without an effective radius.
    CatalogError
        If fewer than ``min_gcs`` GCs fall inside the field of view.
    """
    scale = fov_scale_kpc(map_spec, galaxy, disk_size_kpc)
    x_map, y_map = -gcs.x_kpc, gcs.y_kpc      # handedness of the simulated maps (module notes)
    half = 0.5 * map_spec.fov * scale
    inside = (np.abs(x_map) < half) & (np.abs(y_map) < half)
    n_in = int(np.count_nonzero(inside))
    if n_in < min_gcs:
        raise CatalogError(f"galaxy {galaxy.name}: {n_in} of {len(gcs)} GCs lie inside the field of view "
                           f"({map_spec.fov} {map_spec.fov_unit} = {2 * half:.3g} kpc wide); a map needs at "
                           f">= {min_gcs} (allowed: --min-gcs lower, or a wider field)")
    maps, counts = sky_maps(x_map, y_map, gcs.v_los_kms, map_spec, scale, v_err_kms=gcs.v_err_kms)
    return ObservedMaps(np.asarray(maps), np.asarray(counts), map_spec, scale, n_in)
