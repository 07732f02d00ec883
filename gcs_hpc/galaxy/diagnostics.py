"""Measured diagnostics of built models: enclosed masses, Toomre Q, virial ratio, GCS rotation and size.

Every number is measured on the sampled particles and reported beside the analytic model value where one
exists. The potential energy W of the virial ratio 2T/|W| is the exact unsoftened pair sum
-G sum_{i<j} m_i m_j / r_ij, over all massive particles when there are at most ``max_direct`` of them,
otherwise over a uniform random subsample (fixed seed) scaled by N(N-1) / (n(n-1)), which is an unbiased
estimate of the full pair sum.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from gcs_hpc import units
from gcs_hpc.config import spec_to_dict
from gcs_hpc.galaxy.components import rotation_energy_fraction
from gcs_hpc.galaxy.disk import TOOMRE_STELLAR
from gcs_hpc.galaxy.models import GalaxyModel, build_model, realise_galaxies
from gcs_hpc.particles import COMPONENT_NAMES, DISK, GC, Particles
from gcs_hpc.specs import ModelSpec

#: Largest number of massive particles whose pair sum is done in full.
MAX_DIRECT_PAIRS_N: int = 12_000
#: Rows per block of the direct pair sum (bounds memory to BLOCK x N doubles).
PAIR_BLOCK: int = 512
#: Annulus around 2 R0 (in units of R0) where Toomre Q is measured.
TOOMRE_ANNULUS: tuple[float, float] = (1.8, 2.2)


def potential_energy(pos: np.ndarray, mass: np.ndarray, max_direct: int = MAX_DIRECT_PAIRS_N,
                     seed: int = 0) -> float:
    """Gravitational potential energy -G sum_{i<j} m_i m_j / r_ij (see module docstring)."""
    keep = mass > 0.0
    pos, mass = pos[keep], mass[keep]
    n_all = len(mass)
    scale = 1.0
    if n_all > max_direct:
        idx = np.sort(np.random.default_rng(seed).choice(n_all, size=max_direct, replace=False))
        pos, mass = pos[idx], mass[idx]
        scale = n_all * (n_all - 1.0) / (max_direct * (max_direct - 1.0))
    total = 0.0
    for start in range(0, len(mass), PAIR_BLOCK):
        stop = min(start + PAIR_BLOCK, len(mass))
        with np.errstate(divide="ignore"):  # the i == j diagonal, zeroed next
            inv_d = 1.0 / cdist(pos[start:stop], pos[start:])  # rows i, columns j >= start
        inv_d[:, : stop - start][np.tril_indices(stop - start)] = 0.0  # keep j > i only
        total += float(mass[start:stop] @ inv_d @ mass[start:])
    return -units.G * total * scale


def kinetic_energy(vel: np.ndarray, mass: np.ndarray) -> float:
    """Sum of m v^2 / 2."""
    return 0.5 * float(mass @ np.sum(vel**2, axis=1))


def virial_ratio(particles: Particles, max_direct: int = MAX_DIRECT_PAIRS_N) -> float:
    """2T / |W| of the massive particles (GCs are massless and drop out)."""
    w = potential_energy(particles.pos, particles.mass, max_direct)
    return 2.0 * kinetic_energy(particles.vel, particles.mass) / abs(w)


def toomre_q(particles: Particles, model: GalaxyModel,
             annulus: tuple[float, float] = TOOMRE_ANNULUS) -> float:
    """Toomre Q of the disk particles in an annulus (units of R0, default around 2 R0), galaxy frame.

    Sigma and sigma_R are measured on the particles; kappa is the model's at the annulus centre.
    """
    disk = particles.component == DISK
    pos, vel, mass = particles.pos[disk], particles.vel[disk], particles.mass[disk]
    R = np.hypot(pos[:, 0], pos[:, 1])
    lo, hi = (f * model.disk.scale_length for f in annulus)
    sel = (R >= lo) & (R < hi)
    v_R = (pos[sel, 0] * vel[sel, 0] + pos[sel, 1] * vel[sel, 1]) / R[sel]
    sigma = mass[sel].sum() / (np.pi * (hi**2 - lo**2))
    kappa = float(np.sqrt(model.potential.midplane_at("kappa2", 0.5 * (lo + hi))))
    return float(np.std(v_R) * kappa / (TOOMRE_STELLAR * units.G * sigma))


def enclosed_masses(particles: Particles, model: GalaxyModel, radii: np.ndarray) -> dict[str, list]:
    """Measured and model masses (Msun) inside spheres of ``radii`` (simulation units), galaxy frame."""
    r = np.linalg.norm(particles.pos, axis=1)
    measured = [float(particles.mass[r < x].sum()) for x in radii]
    return {"r_kpc": [units.sim_to_kpc(float(x)) for x in radii],
            "measured_msun": [units.sim_to_msun(m) for m in measured],
            "model_msun": [units.sim_to_msun(float(m)) for m in model.potential.enclosed_mass(radii)]}


def component_counts(particles: Particles) -> dict[str, int]:
    """Number of particles per component name."""
    return {name: int(np.sum(particles.component == code)) for code, name in COMPONENT_NAMES.items()}


def describe_galaxy(particles: Particles, model: GalaxyModel) -> dict[str, Any]:
    """Diagnostics of one galaxy sampled in its own frame."""
    gc = particles.component == GC
    radii = np.array([model.disk.scale_length, model.disk.truncation_radius,
                      model.gcs.truncation_radius, model.halo.truncation_radius])
    r_gc = np.linalg.norm(particles.pos[gc], axis=1)
    summary = {
        "counts": component_counts(particles),
        "disk_size_kpc": units.sim_to_kpc(model.disk_size),
        "virial_radius_kpc": units.sim_to_kpc(model.halo.truncation_radius),
        "concentration": model.halo.concentration,
        "bulge_size_kpc": units.sim_to_kpc(model.bulge.truncation_radius) if model.bulge else 0.0,
        "enclosed_mass": enclosed_masses(particles, model, radii),
        "toomre_q_2R0": toomre_q(particles, model),
        "virial_ratio": virial_ratio(particles),
        "gcs_f_rot_measured": rotation_energy_fraction(particles.pos[gc], particles.vel[gc]),
        "gcs_f_rot_spec": model.gcs.f_rot,
        "gcs_half_number_radius_kpc": {"measured": units.sim_to_kpc(float(np.median(r_gc))),
                                       "model": units.sim_to_kpc(model.gcs.half_number_radius())},
    }
    return summary


def describe_model(spec: ModelSpec) -> dict[str, Any]:
    """Build ``spec`` and return a JSON-ready summary: spec, counts and measured diagnostics.

    Per galaxy (in its own frame): counts, sizes, enclosed masses (measured vs model), Toomre Q at 2 R0,
    virial ratio, GCS f_rot and half-number radius. For the whole model (centre-of-mass frame): counts and
    the virial ratio (for a merger it includes the orbital energy, so it need not be 1).
    """
    start = time.perf_counter()
    particles = build_model(spec)
    build_s = time.perf_counter() - start
    models, parts = realise_galaxies(spec)
    return {
        "spec": spec_to_dict(spec),
        "units": {"length_kpc": units.LENGTH_KPC, "mass_msun": units.MASS_MSUN,
                  "velocity_kms": units.VELOCITY_KMS, "time_gyr": units.TIME_GYR},
        "n_particles": len(particles),
        "counts": component_counts(particles),
        "M_total_msun": spec.M_total,
        "M_particles_msun": units.sim_to_msun(float(particles.mass.sum())),
        "virial_ratio": virial_ratio(particles),
        "galaxies": [describe_galaxy(p, m) for p, m in zip(parts, models)],
        "build_seconds": build_s,
    }
