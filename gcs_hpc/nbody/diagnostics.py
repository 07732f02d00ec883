"""Conserved quantities and centres of a particle state, as plain JSON-serialisable dicts.

Energies count the massive particles only: tracers (GCs) have zero mass. The potential energy is
``1/2 sum_i m_i (phi_i + m_i / epsilon)``, i.e. the softened pair sum without self terms
(:func:`gcs_hpc.nbody.kernels.self_potential`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gcs_hpc.centre import shrinking_sphere_centre
from gcs_hpc.nbody.kernels import self_potential
from gcs_hpc.particles import BULGE, DISK


def _floats(a: Any) -> list[float]:
    return [float(v) for v in a]


def energies(xp: Any, vel: Any, mass: Any, phi: Any, softening: float) -> tuple[float, float]:
    """Kinetic and potential energy of the massive particles (``phi`` given at those particles)."""
    kinetic = 0.5 * float(xp.sum(mass * xp.sum(vel * vel, axis=1)))
    potential = 0.5 * float(xp.sum(mass * (phi - self_potential(mass, softening))))
    return kinetic, potential


def stellar_centres(xp: Any, pos: Any, mass: Any, component: Any, galaxy: Any) -> tuple[list[float], dict]:
    """Shrinking-sphere density centre of all stars and of each progenitor galaxy's stars.

    Falls back to all massive particles when the model has no stars (e.g. a pure Plummer sphere).
    """
    stars = (component == DISK) | (component == BULGE)
    if int(xp.count_nonzero(stars)) == 0:
        stars = mass > 0
    centre = _floats(shrinking_sphere_centre(pos[stars], mass[stars]))
    per_galaxy: dict[str, list[float]] = {}
    galaxies = sorted(int(g) for g in xp.unique(galaxy[stars]).tolist())
    if len(galaxies) > 1:
        for g in galaxies:
            sel = stars & (galaxy == g)
            per_galaxy[str(g)] = _floats(shrinking_sphere_centre(pos[sel], mass[sel]))
    return centre, per_galaxy


def diagnostics_record(xp: Any, step: int, t: float, pos: Any, vel: Any, mass: Any, component: Any,
                       galaxy: Any, phi_massive: Any, massive: Any, softening: float,
                       energy_0: float | None) -> dict[str, Any]:
    """One diagnostics entry: energies, relative energy error, momentum, angular momentum, centres.

    Parameters
    ----------
    phi_massive
        Potential at the massive particles (self terms included), in the order of ``pos[massive]``.
    energy_0
        Initial total energy (None for the first record, which then defines it).
    """
    m = mass[massive]
    kinetic, potential = energies(xp, vel[massive], m, phi_massive, softening)
    energy = kinetic + potential
    reference = energy if energy_0 is None else energy_0
    rel_error = abs(energy - reference) / abs(reference) if reference != 0.0 else abs(energy - reference)
    momentum = xp.sum(mass[:, None] * vel, axis=0)
    angular_momentum = xp.sum(mass[:, None] * xp.cross(pos, vel), axis=0)
    com = xp.sum(mass[:, None] * pos, axis=0) / xp.sum(mass)
    centre, per_galaxy = stellar_centres(xp, pos, mass, component, galaxy)
    return {
        "step": int(step),
        "t": float(t),
        "kinetic": kinetic,
        "potential": potential,
        "energy": energy,
        "rel_energy_error": float(rel_error),
        "momentum": _floats(momentum),
        "angular_momentum": _floats(angular_momentum),
        "centre_of_mass": _floats(com),
        "density_centre": centre,
        "galaxy_centres": per_galaxy,
    }


def first_meeting(diagnostics: list[dict], distance: float) -> float | None:
    """First diagnostics time at which the two galaxies' stellar centres are closer than ``distance``
    (``None``: never, or not a merger). Sampled every ``diagnostics_every`` steps, so it is a merge time to
    within that interval."""
    for d in diagnostics:
        centres = d.get("galaxy_centres", {})
        if "0" in centres and "1" in centres:
            if np.linalg.norm(np.subtract(centres["0"], centres["1"])) < distance:
                return float(d["t"])
    return None
