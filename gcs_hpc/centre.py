"""Centres of particle distributions, robust to merger debris (used by nbody diagnostics and maps)."""

from __future__ import annotations

from typing import Any

from gcs_hpc.xp import get_namespace


def shrinking_sphere_centre(
    pos: Any,
    mass: Any,
    *,
    shrink: float = 0.9,
    min_particles: int = 100,
    max_iterations: int = 200,
) -> Any:
    """Density centre by the shrinking-sphere method of Power et al. (2003).

    Start from the centre of mass with a sphere that holds every particle, then repeatedly shrink the
    radius by ``shrink`` and recentre on the centre of mass of the particles inside, until fewer than
    ``min_particles`` (or 1% of them, whichever is larger) remain.

    Parameters
    ----------
    pos
        Positions, shape (N, 3), any array module.
    mass
        Masses, shape (N,).
    shrink
        Radius factor per iteration, in (0, 1).
    min_particles
        Stop when fewer particles than this remain inside the sphere.
    max_iterations
        Upper bound on the iterations.

    Returns
    -------
    Array of shape (3,) on the same array module.
    """
    xp = get_namespace(pos, mass)
    if not 0.0 < shrink < 1.0:
        raise ValueError(f"shrink = {shrink!r} is out of range; allowed range (0, 1)")
    n_stop = max(min_particles, len(mass) // 100, 1)
    total = xp.sum(mass)
    centre = xp.sum(pos * mass[:, None], axis=0) / total
    radius = xp.sqrt(xp.max(xp.sum((pos - centre) ** 2, axis=1)))
    # Each sphere lies inside the previous one's bounding region only approximately (the centre moves),
    # so members are taken from the previous sphere grown by the centre's shift: exact, and each
    # iteration scans only the particles that can still be inside.
    members_pos, members_mass = pos, mass
    for _ in range(max_iterations):
        r2 = xp.sum((members_pos - centre) ** 2, axis=1)
        inside = r2 <= radius**2
        if int(xp.count_nonzero(inside)) < n_stop:
            break
        m_in = members_mass[inside]
        new_centre = xp.sum(members_pos[inside] * m_in[:, None], axis=0) / xp.sum(m_in)
        shift = xp.sqrt(xp.sum((new_centre - centre) ** 2))
        new_radius = radius * shrink
        # Keep every particle that could fall inside the next sphere around the new centre.
        keep = r2 <= (new_radius + shift) ** 2
        members_pos, members_mass = members_pos[keep], members_mass[keep]
        centre, radius = new_centre, new_radius
    return centre
