"""One evolved model -> kinematic maps of its GCS for every viewing direction (paper section 2.1.3),
and what the store keeps beside them: the GCs' phase space in the maps' frame, the stars' projected
half-mass radius per direction and the enclosed total mass at a few radii (:class:`ModelProducts`)."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from gcs_hpc import units
from gcs_hpc.centre import shrinking_sphere_centre
from gcs_hpc.maps.angles import viewing_angles
from gcs_hpc.maps.binning import bin_projected
from gcs_hpc.maps.project import project, projected_half_mass_radius
from gcs_hpc.particles import Particles
from gcs_hpc.specs import MapSpec

#: The galaxy's rest frame is the mass-weighted mean velocity of this fraction of the stars nearest to
#: the density centre (at least :data:`FRAME_MIN_STARS` of them).
FRAME_STAR_FRACTION: float = 0.1
FRAME_MIN_STARS: int = 100
#: Phase-space coordinates of a GC, in the order of :attr:`ModelProducts.gc_phase_space`'s columns.
PHASE: tuple[str, ...] = ("x", "y", "z", "vx", "vy", "vz")
#: Radii of :attr:`ModelProducts.enclosed_mass`: name -> what the radius is. ``r_half`` is the
#: angle-averaged projected stellar half-mass radius R_half; ``N_r_half`` N times it; ``fov_half`` the
#: half-width of the maps' field of view in kpc (with the angle-averaged R_half for ``fov_unit =
#: "R_half"``); ``N_kpc`` fixed radii.
ENCLOSED_RADII: dict[str, str] = {
    "r_half": "angle-averaged projected stellar half-mass radius R_half",
    "2_r_half": "2 R_half",
    "5_r_half": "5 R_half",
    "fov_half": "half-width of the maps' field of view",
    "10_kpc": "10 kpc",
    "20_kpc": "20 kpc",
    "50_kpc": "50 kpc",
}
_RADIUS_NAME = re.compile(r"^(?:(?P<n>[0-9.]+)_)?(?P<unit>r_half|kpc)$")


class ModelProducts(NamedTuple):
    """Everything one model gives the store.

    Attributes
    ----------
    maps, counts
        As :func:`make_model_maps` returns them.
    gc_phase_space
        (n_gc, 6) float64: x, y, z (kpc) and vx, vy, vz (km/s) of the GCs relative to the stellar
        density centre and rest frame (:func:`galaxy_frame`): the frame of the maps.
    r_half
        (n_angles,) float64, kpc: projected stellar half-mass radius along each viewing direction.
    enclosed_mass, enclosed_radius
        (len(ENCLOSED_RADII),) float64: total mass (Msun) inside spheres about the centre of the radii
        (kpc) named by :data:`ENCLOSED_RADII`.
    """

    maps: Any
    counts: Any
    gc_phase_space: Any
    r_half: Any
    enclosed_mass: Any
    enclosed_radius: Any

    @property
    def summary(self) -> dict[str, Any]:
        """The arrays kept beside the maps, by store name (``write_model(..., summary=...)``)."""
        return {"gc_phase_space": self.gc_phase_space, "r_half": self.r_half,
                "enclosed_mass": self.enclosed_mass, "enclosed_radius": self.enclosed_radius}


def enclosed_radii_kpc(r_half_kpc: float, fov_half_kpc: float) -> list[float]:
    """The radii of :data:`ENCLOSED_RADII` in kpc, in that order."""
    out = []
    for name in ENCLOSED_RADII:
        if name == "fov_half":
            out.append(float(fov_half_kpc))
            continue
        match = _RADIUS_NAME.match(name)
        factor = float(match["n"]) if match["n"] else 1.0
        out.append(factor * (float(r_half_kpc) if match["unit"] == "r_half" else 1.0))
    return out


def enclosed_mass(pos: Any, mass: Any, radii: Any, xp: ModuleType = np) -> Any:
    """Mass inside spheres about the origin: ``sum(mass[|pos| <= r])`` for every ``r`` in ``radii``.

    Parameters
    ----------
    pos
        Positions relative to the centre, (n, 3), any length unit (that of ``radii``).
    mass
        Masses, (n,).
    radii
        Radii, (n_radii,).

    Returns
    -------
    (n_radii,) float64 in the unit of ``mass``.
    """
    r = xp.sqrt(xp.sum(xp.asarray(pos, dtype=xp.float64) ** 2, axis=1))
    order = xp.argsort(r)
    cum = xp.concatenate([xp.zeros(1), xp.cumsum(xp.asarray(mass, dtype=xp.float64)[order])])
    k = xp.searchsorted(r[order], xp.asarray(radii, dtype=xp.float64), side="right")
    return cum[k]


def galaxy_frame(particles: Particles, xp: ModuleType = np) -> tuple[Any, Any]:
    """Centre and rest-frame velocity of the stellar body, in simulation units.

    The centre is the shrinking-sphere density centre of the stars (disk and bulge), robust to merger
    debris; the velocity is the mass-weighted mean velocity of the :data:`FRAME_STAR_FRACTION` of the
    stars nearest to it.

    Returns
    -------
    centre, velocity
        Arrays of shape (3,) on ``xp``.
    """
    stars = np.asarray(particles.stars) if xp is np else particles.stars
    pos = xp.asarray(particles.pos[stars], dtype=xp.float64)
    vel = xp.asarray(particles.vel[stars], dtype=xp.float64)
    mass = xp.asarray(particles.mass[stars], dtype=xp.float64)
    if len(mass) == 0:
        raise ValueError("make_model_maps: the particles hold no stars (disk or bulge); the maps are "
                         "centred on the stellar body")
    centre = shrinking_sphere_centre(pos, mass)
    n_near = min(len(mass), max(FRAME_MIN_STARS, int(FRAME_STAR_FRACTION * len(mass))))
    r2 = xp.sum((pos - centre) ** 2, axis=1)
    near = xp.argsort(r2, kind="stable")[:n_near] if xp is np else xp.argsort(r2)[:n_near]
    m_near = mass[near]
    velocity = xp.sum(vel[near] * m_near[:, None], axis=0) / xp.sum(m_near)
    return centre, velocity


def make_model_maps(particles: Particles, map_spec: MapSpec, disk_size_kpc: float,
                    xp: ModuleType = np) -> tuple[Any, Any]:
    """Kinematic maps of the GCS of one model for all ``map_spec.n_angles`` viewing directions:
    ``(maps, counts)`` of :func:`model_products` (see there)."""
    products = model_products(particles, map_spec, disk_size_kpc, xp=xp)
    return products.maps, products.counts


def model_products(particles: Particles, map_spec: MapSpec, disk_size_kpc: float,
                   xp: ModuleType = np) -> ModelProducts:
    """Kinematic maps of the GCS of one model for all ``map_spec.n_angles`` viewing directions, with the
    GCs' phase space, the stars' projected half-mass radii and the enclosed masses.

    Centres on the stellar density centre and rest frame (:func:`galaxy_frame`), converts the GCs to
    kpc and km/s, projects them along every direction of :func:`viewing_angles` at once and bins them
    with :func:`bin_projected`.

    Parameters
    ----------
    particles
        The evolved model in simulation units (NumPy or ``xp`` arrays).
    map_spec
        Grid, field of view and smoothing.
    disk_size_kpc
        R_d of the (primary) galaxy in kpc; the length unit when ``map_spec.fov_unit == "R_d"``.
    xp
        Array module for the work (NumPy or CuPy).

    Returns
    -------
    ModelProducts
        ``maps`` float32 (n_angles, 2, npix, npix), channels [sigma, V] in km/s, and ``counts`` int32
        (n_angles, npix, npix), GCs per pixel, on ``xp``; the summary arrays (see :class:`ModelProducts`).
    """
    if not (isinstance(disk_size_kpc, (int, float, np.floating)) and np.isfinite(disk_size_kpc)
            and disk_size_kpc > 0):
        raise ValueError(f"make_model_maps: disk_size_kpc = {disk_size_kpc!r} is invalid; allowed: a "
                         "finite number > 0 (kpc)")
    gcs = np.asarray(particles.gcs) if xp is np else particles.gcs
    if int(gcs.sum()) == 0:
        raise ValueError("make_model_maps: the particles hold no globular clusters (component GC)")
    centre, velocity = galaxy_frame(particles, xp=xp)
    pos_kpc = units.sim_to_kpc(xp.asarray(particles.pos[gcs], dtype=xp.float64) - centre)
    vel_kms = units.sim_to_kms(xp.asarray(particles.vel[gcs], dtype=xp.float64) - velocity)
    theta, phi = viewing_angles(map_spec.n_angles)
    x, y, v_los = project(pos_kpc, vel_kms, theta, phi, xp=xp)

    stars = np.asarray(particles.stars) if xp is np else particles.stars
    star_pos = units.sim_to_kpc(xp.asarray(particles.pos[stars], dtype=xp.float64) - centre)
    star_mass = xp.asarray(particles.mass[stars], dtype=xp.float64)
    r_half = projected_half_mass_radius(star_pos, star_mass, theta, phi, xp=xp)
    r_half_mean = float(xp.mean(r_half))
    if map_spec.fov_unit == "R_d":
        scale, unit_kpc = float(disk_size_kpc), float(disk_size_kpc)
    elif map_spec.fov_unit == "kpc":
        scale, unit_kpc = 1.0, 1.0
    else:  # "R_half": projected stellar half-mass radius, per viewing direction
        scale, unit_kpc = r_half, r_half_mean
    maps, counts = bin_projected(x, y, v_los, map_spec, scale, xp=xp)
    radii = enclosed_radii_kpc(r_half_mean, 0.5 * map_spec.fov * unit_kpc)
    all_pos = units.sim_to_kpc(xp.asarray(particles.pos, dtype=xp.float64) - centre)
    mass = units.sim_to_msun(xp.asarray(particles.mass, dtype=xp.float64))
    return ModelProducts(maps, counts, xp.concatenate([pos_kpc, vel_kms], axis=1), r_half,
                         enclosed_mass(all_pos, mass, radii, xp=xp), xp.asarray(radii))
