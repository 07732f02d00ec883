"""The observation model: what a spectroscopic survey sees of a GC system, and its maps.

A real catalogue differs from a simulated GCS seen whole: only some GCs have velocities (NGC 4494 ~100,
others 15-650), each velocity has an error (5-30 km/s), spectroscopy covers a limited range of radii,
and a few interlopers (foreground stars, GCs of neighbours) slip in. :class:`ObservationSpec` describes
all of that (YAML in ``configs/observation/``; the SLUGGS figures behind the defaults are in
``docs/observations.md``), and :func:`view_maps` makes maps of GC phase spaces under it, for many views
at once (views of different models, each along its own direction), deterministic by seed, over ``xp``
(NumPy or CuPy; the random numbers always come from a NumPy generator, so a seed gives the same draws
on both).

One observation draw of one view, in order:

1. project the GCs along the view's direction (:func:`gcs_hpc.maps.project.project_each`);
2. keep the GCs whose projected radius lies in the radial coverage ``[r_inner, r_outer]`` (in kpc, or in
   the view's projected stellar half-mass radius R_half);
3. draw the number seen, uniform in ``n_gc = [low, high]`` (capped at the GCs covered) and pick that
   many of them at random (all when ``n_gc`` is None);
4. replace each seen GC with probability ``interloper_fraction`` by an interloper: uniform in area over
   the covered annulus (out to the field's half-diagonal without an outer radius), velocity
   ``N(0, interloper_sigma_kms)`` about the galaxy's;
5. draw a velocity error per seen GC (``none``; ``lognormal`` with median ``v_err_median_kms`` and
   ``v_err_spread_dex`` standard deviation of log10; ``uniform`` in ``v_err_range_kms``) and add
   ``N(0, error)`` to its velocity;
6. bin with :func:`sky_maps` (:func:`gcs_hpc.maps.bin_projected`, which removes the errors from sigma
   in quadrature): the same call :mod:`gcs_hpc.observe` makes for a real catalogue.

With :meth:`ObservationSpec.is_ideal` (all GCs, no errors, no cut, no interlopers) and the store's map
definition, a view along a stored angle is the campaign's map of that angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np

from gcs_hpc.config import check_choice, check_interval, check_range, load_yaml, spec_from_mapping
from gcs_hpc.errors import ConfigError
from gcs_hpc.maps.angles import direction_vectors
from gcs_hpc.maps.binning import bin_projected
from gcs_hpc.maps.project import project_each
from gcs_hpc.shipped import shipped_config_dir
from gcs_hpc.specs import MapSpec

V_ERR_DISTRIBUTIONS = ("none", "lognormal", "uniform")
RADIUS_UNITS = ("R_half", "kpc")


@dataclass(frozen=True)
class ObservationSpec:
    """What a survey sees of a GCS (see the module notes for the order of the steps).

    Attributes
    ----------
    name
        Label recorded with trained nets.
    n_gc
        ``[low, high]``: number of GCs with velocities, drawn uniformly per view (capped at the GCs in
        the radial coverage); None: every GC.
    v_err
        Distribution of the per-GC velocity errors: ``none``, ``lognormal`` or ``uniform``.
    v_err_median_kms, v_err_spread_dex
        Median (km/s) and standard deviation of log10 of the ``lognormal`` errors.
    v_err_range_kms
        ``[low, high]`` km/s of the ``uniform`` errors.
    radius_unit
        Unit of ``r_inner`` and ``r_outer``: ``R_half`` (the view's projected stellar half-mass radius,
        for real galaxies the effective radius) or ``kpc``.
    r_inner, r_outer
        Radial coverage of the spectroscopy (projected radius); ``r_outer`` None: no outer cut.
    interloper_fraction
        Probability that a seen GC is an interloper.
    interloper_sigma_kms
        Velocity dispersion of the interlopers about the galaxy's velocity, km/s.
    maps
        Grid, field of view and smoothing of the maps (``n_angles`` is not used); None: the store's.
    """

    name: str = "custom"
    n_gc: tuple[int, int] | None = None
    v_err: Literal["none", "lognormal", "uniform"] = "none"
    v_err_median_kms: float = 13.0
    v_err_spread_dex: float = 0.2
    v_err_range_kms: tuple[float, float] = (5.0, 25.0)
    radius_unit: Literal["R_half", "kpc"] = "R_half"
    r_inner: float = 0.0
    r_outer: float | None = None
    interloper_fraction: float = 0.0
    interloper_sigma_kms: float = 300.0
    maps: MapSpec | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"observation.name = {self.name!r}; allowed: a non-empty string")
        if self.n_gc is not None:
            check_interval("observation", "n_gc", self.n_gc, 1, 1_000_000)
            for i, v in enumerate(self.n_gc):
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ConfigError(f"observation.n_gc[{i}] = {v!r} has the wrong type; expected an "
                                      "integer")
        check_choice("observation", "v_err", self.v_err, V_ERR_DISTRIBUTIONS)
        check_range("observation", "v_err_median_kms", self.v_err_median_kms, 0.0, 1000.0, low_open=True)
        check_range("observation", "v_err_spread_dex", self.v_err_spread_dex, 0.0, 2.0)
        check_interval("observation", "v_err_range_kms", self.v_err_range_kms, 0.0, 1000.0)
        check_choice("observation", "radius_unit", self.radius_unit, RADIUS_UNITS)
        check_range("observation", "r_inner", self.r_inner, 0.0, 1.0e4)
        if self.r_outer is not None:
            check_range("observation", "r_outer", self.r_outer, self.r_inner, 1.0e4, low_open=True)
        check_range("observation", "interloper_fraction", self.interloper_fraction, 0.0, 0.5)
        check_range("observation", "interloper_sigma_kms", self.interloper_sigma_kms, 0.0, 5000.0,
                    low_open=True)
        if self.maps is not None and not isinstance(self.maps, MapSpec):
            raise ConfigError(f"observation.maps must be a mapping of map settings, got {self.maps!r}")

    @property
    def is_ideal(self) -> bool:
        """Every GC, exact velocities, no radial cut, no interlopers: the paper's maps."""
        return (self.n_gc is None and self.v_err == "none" and self.r_inner == 0.0 and self.r_outer is None
                and self.interloper_fraction == 0.0)

    def map_spec(self, store_map_spec: MapSpec) -> MapSpec:
        """The maps' definition: this spec's ``maps``, or the store's when None."""
        return store_map_spec if self.maps is None else self.maps


def load_observation(path: str | Path) -> ObservationSpec:
    """Read an :class:`ObservationSpec` from a YAML file (keys as its attributes, ``maps`` a mapping), or
    a shipped one by name (``"sluggs"``, ``"ideal"``: ``configs/observation/<name>.yaml``).

    Raises
    ------
    ConfigError
        Naming the file and the key for an unknown key, a wrong type or an out-of-range value.
    """
    if isinstance(path, str) and path in shipped_observations():
        path = shipped_config_dir("observation") / f"{path}.yaml"
    data = load_yaml(path)
    try:
        return spec_from_mapping(ObservationSpec, data, where="observation")
    except ConfigError as exc:
        raise ConfigError(f"observation file {str(path)!r}: {exc}") from None


def shipped_observations() -> list[str]:
    """Names of the observation models shipped in ``configs/observation/``."""
    return sorted(p.stem for p in shipped_config_dir("observation").glob("*.yaml"))


def isotropic_directions(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` viewing directions uniform on the sphere: (theta, phi) in degrees."""
    cos_theta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 360.0, n)
    return np.degrees(np.arccos(cos_theta)), phi


def nearest_angle(theta_deg: Any, phi_deg: Any, stored_theta_deg: Any, stored_phi_deg: Any) -> np.ndarray:
    """Index of the stored direction nearest to each direction, a line of sight and its opposite counting
    as the same (a projected radius does not change when the galaxy is seen from behind)."""
    n = direction_vectors(theta_deg, phi_deg)
    stored = direction_vectors(stored_theta_deg, stored_phi_deg)
    return np.argmax(np.abs(n @ stored.T), axis=1)


def fov_unit_kpc(map_spec: MapSpec, r_half_kpc: Any, disk_size_kpc: Any = None) -> Any:
    """Length of one ``map_spec.fov_unit`` in kpc for each view: R_d, 1, or the view's R_half."""
    if map_spec.fov_unit == "kpc":
        return np.ones_like(np.asarray(r_half_kpc, dtype=np.float64))
    if map_spec.fov_unit == "R_half":
        return r_half_kpc
    if disk_size_kpc is None:
        raise ConfigError("maps.fov_unit = 'R_d' needs the disk size R_d of each view's model")
    return disk_size_kpc


def sky_maps(x_kpc: Any, y_kpc: Any, v_kms: Any, map_spec: MapSpec, scale_kpc: Any, v_err_kms: Any = None,
             select: Any = None, xp: ModuleType = np) -> tuple[Any, Any]:
    """Maps of GCs on the sky, simulated or observed: :func:`gcs_hpc.maps.bin_projected` (see there)."""
    return bin_projected(x_kpc, y_kpc, v_kms, map_spec, scale_kpc, v_err_kms=v_err_kms, xp=xp, select=select)


@dataclass(frozen=True)
class SkyViews:
    """GCs as observed in many views: each array (n_views, n_gc) on ``xp``.

    ``seen`` marks the GCs in each view's catalogue (the others are ignored); ``interloper`` those
    replaced by interlopers; ``v_err_kms`` is None without velocity errors.
    """

    x_kpc: Any
    y_kpc: Any
    v_kms: Any
    v_err_kms: Any
    seen: Any
    interloper: Any


def _velocity_errors(obs: ObservationSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    if obs.v_err == "lognormal":
        return obs.v_err_median_kms * np.exp((obs.v_err_spread_dex * math.log(10.0)) * rng.standard_normal(n))
    return rng.uniform(obs.v_err_range_kms[0], obs.v_err_range_kms[1], n)


def observe_views(pos_kpc: Any, vel_kms: Any, theta_deg: Any, phi_deg: Any, r_half_kpc: Any,
                  fov_half_kpc: Any, obs: ObservationSpec, rng: np.random.Generator,
                  xp: ModuleType = np, valid: Any = None) -> SkyViews:
    """One observation draw per view (module notes, steps 1-5).

    Parameters
    ----------
    pos_kpc, vel_kms
        GC phase spaces, (n_views, n_gc, 3) each, in the galaxy's centre frame; NaN rows (padding of
        models with fewer GCs) are never seen.
    theta_deg, phi_deg
        One viewing direction per view, degrees, (n_views,).
    r_half_kpc
        The view's projected stellar half-mass radius, kpc, (n_views,) (the unit of the radial coverage
        for ``radius_unit = "R_half"``).
    fov_half_kpc
        Half-width of the view's field of view in kpc, (n_views,) (interlopers without ``r_outer``).
    obs
        The observation model.
    rng
        The random draws (NumPy, also for CuPy arrays).
    valid
        Optional boolean (n_views, n_gc) of the real GCs, when the caller has already replaced the
        padding by finite values (saves the NaN scan: :class:`gcs_hpc.learn.views.ObservedStoreMaps`).
    """
    pos = xp.asarray(pos_kpc, dtype=xp.float64)
    vel = xp.asarray(vel_kms, dtype=xp.float64)
    if pos.ndim != 3 or pos.shape[-1] != 3 or vel.shape != pos.shape:
        raise ValueError(f"observe_views: pos_kpc {pos.shape} and vel_kms {vel.shape} must both have shape "
                         "(n_views, n_gc, 3)")
    if valid is None:
        valid = xp.all(xp.isfinite(pos), axis=2) & xp.all(xp.isfinite(vel), axis=2)
        pos = xp.where(valid[..., None], pos, 0.0)
        vel = xp.where(valid[..., None], vel, 0.0)
    else:
        valid = xp.asarray(valid, dtype=bool)
        if valid.shape != pos.shape[:2]:
            raise ValueError(f"observe_views: valid has shape {valid.shape}; allowed: {pos.shape[:2]}")
    x, y, v = project_each(pos, vel, theta_deg, phi_deg, xp=xp)
    n_views, n_gc = x.shape
    unit = xp.asarray(r_half_kpc, dtype=xp.float64) if obs.radius_unit == "R_half" else xp.ones(n_views)
    r_in = obs.r_inner * unit
    eligible = valid
    if obs.r_inner > 0 or obs.r_outer is not None:
        radius2 = x * x + y * y
        eligible = eligible & (radius2 >= (r_in**2)[:, None])
        if obs.r_outer is not None:
            eligible = eligible & (radius2 <= ((obs.r_outer * unit) ** 2)[:, None])
    seen = eligible
    if obs.n_gc is not None:
        n_avail = xp.sum(eligible, axis=1)
        n_want = xp.asarray(rng.integers(obs.n_gc[0], obs.n_gc[1] + 1, n_views))
        n_take = xp.minimum(n_want, n_avail)
        keys = xp.where(eligible, xp.asarray(rng.random((n_views, n_gc))), 2.0)
        kth = xp.take_along_axis(xp.sort(keys, axis=1), xp.maximum(n_take - 1, 0)[:, None], axis=1)
        seen = eligible & (keys <= kth) & (n_take > 0)[:, None]
    interloper = xp.zeros_like(seen)
    if obs.interloper_fraction > 0:
        # draws for the interlopers only (a few percent of the GCs), in row-major order of the views
        interloper = seen & xp.asarray(rng.random((n_views, n_gc)) < obs.interloper_fraction)
        k = int(xp.sum(interloper))
        r_out = (obs.r_outer * unit if obs.r_outer is not None
                 else math.sqrt(2.0) * xp.asarray(fov_half_kpc, dtype=xp.float64))
        view = xp.nonzero(interloper)[0]
        r_lo2, r_hi2 = r_in[view] ** 2, r_out[view] ** 2
        r_new = xp.sqrt(r_lo2 + xp.asarray(rng.random(k)) * (r_hi2 - r_lo2))
        angle = xp.asarray(rng.uniform(0.0, 2.0 * np.pi, k))
        x, y, v = x.copy(), y.copy(), v.copy()
        x[interloper] = r_new * xp.cos(angle)
        y[interloper] = r_new * xp.sin(angle)
        v[interloper] = xp.asarray(rng.normal(0.0, obs.interloper_sigma_kms, k))
    err = None
    if obs.v_err != "none":
        # errors of the seen GCs only (the others are ignored by the binning); 0 elsewhere
        k = int(xp.sum(seen))
        err = xp.zeros((n_views, n_gc))
        err[seen] = xp.asarray(_velocity_errors(obs, k, rng))
        v = v.copy()
        v[seen] += err[seen] * xp.asarray(rng.standard_normal(k))
    return SkyViews(x, y, v, err, seen, interloper)


def view_maps(pos_kpc: Any, vel_kms: Any, theta_deg: Any, phi_deg: Any, r_half_kpc: Any,
              obs: ObservationSpec, map_spec: MapSpec, rng: np.random.Generator, *,
              disk_size_kpc: Any = None, xp: ModuleType = np, valid: Any = None) -> tuple[Any, Any]:
    """Maps of many views under the observation model: :func:`observe_views`, then :func:`sky_maps`.

    Parameters
    ----------
    pos_kpc, vel_kms, theta_deg, phi_deg, r_half_kpc, obs, rng, xp, valid
        As :func:`observe_views`.
    map_spec
        The maps' definition (``obs.map_spec(store_map_spec)``).
    disk_size_kpc
        R_d of each view's model, kpc, (n_views,); needed only for ``fov_unit = "R_d"``.

    Returns
    -------
    maps
        float32 (n_views, 2, npix, npix), [sigma, V] km/s.
    counts
        int32 (n_views, npix, npix): GCs seen per pixel.
    """
    r_half = np.asarray(r_half_kpc, dtype=np.float64)
    unit = np.broadcast_to(np.asarray(fov_unit_kpc(map_spec, r_half, disk_size_kpc), dtype=np.float64),
                           r_half.shape)
    sky = observe_views(pos_kpc, vel_kms, theta_deg, phi_deg, r_half, 0.5 * map_spec.fov * unit, obs, rng,
                        xp=xp, valid=valid)
    return sky_maps(sky.x_kpc, sky.y_kpc, sky.v_kms, map_spec, xp.asarray(unit), sky.v_err_kms, sky.seen,
                    xp=xp)
