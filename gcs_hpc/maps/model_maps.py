"""One evolved model -> kinematic maps of its GCS for every viewing direction (paper section 2.1.3)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

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
    """Kinematic maps of the GCS of one model for all ``map_spec.n_angles`` viewing directions.

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
    maps
        float32 (n_angles, 2, npix, npix), channels [sigma, V] in km/s, on ``xp``.
    counts
        int32 (n_angles, npix, npix), GCs per pixel, on ``xp``.
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

    if map_spec.fov_unit == "R_d":
        scale = float(disk_size_kpc)
    elif map_spec.fov_unit == "kpc":
        scale = 1.0
    else:  # "R_half": projected stellar half-mass radius, per viewing direction
        stars = np.asarray(particles.stars) if xp is np else particles.stars
        star_pos = units.sim_to_kpc(xp.asarray(particles.pos[stars], dtype=xp.float64) - centre)
        star_mass = xp.asarray(particles.mass[stars], dtype=xp.float64)
        scale = projected_half_mass_radius(star_pos, star_mass, theta, phi, xp=xp)
    return bin_projected(x, y, v_los, map_spec, scale, xp=xp)
