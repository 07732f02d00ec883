"""Projection of positions and velocities onto the sky of many viewing directions at once.

All functions take arrays of any array module (NumPy or CuPy, through ``xp``) and project every
direction with one matrix product, so the work per model is a handful of array operations whatever the
number of angles. :func:`project_per_angle` is the plain per-angle loop kept as the oracle for tests and
the baseline of ``benchmarks/maps.py``.

Sign convention: the line-of-sight velocity is the recession velocity seen by an observer placed at
``+n`` (see :mod:`gcs_hpc.maps.angles`), ``v_los = -v . n``, positive when moving away from the observer.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from gcs_hpc.maps.angles import view_basis

#: Largest number of (angle, star) pairs held at once when measuring projected half-mass radii.
HALF_MASS_BATCH_ELEMENTS: int = 4_000_000


def project(pos: Any, vel: Any, theta_deg: np.ndarray, phi_deg: np.ndarray,
            xp: ModuleType = np) -> tuple[Any, Any, Any]:
    """Project positions and velocities along every viewing direction at once.

    Parameters
    ----------
    pos, vel
        Positions and velocities relative to the galaxy centre, shape (n, 3) on ``xp`` (any units; the
        output keeps them).
    theta_deg, phi_deg
        Viewing angles in degrees, shape (n_angles,).
    xp
        Array module.

    Returns
    -------
    x, y, v_los
        Sky-plane coordinates and line-of-sight (recession) velocities, each of shape (n_angles, n).
    """
    e_x, e_y, n = view_basis(theta_deg, phi_deg, xp=xp)
    x = e_x @ pos.T
    y = e_y @ pos.T
    v_los = -(n @ vel.T)
    return x, y, v_los


def project_each(pos: Any, vel: Any, theta_deg: Any, phi_deg: Any, xp: ModuleType = np
                 ) -> tuple[Any, Any, Any]:
    """Project many point sets, each along its own viewing direction (views of different models at once).

    Parameters
    ----------
    pos, vel
        Positions and velocities relative to each galaxy's centre, shape (n_views, n, 3) on ``xp``.
    theta_deg, phi_deg
        One viewing direction per view, degrees, shape (n_views,).
    xp
        Array module.

    Returns
    -------
    x, y, v_los
        Each of shape (n_views, n), with the conventions of :func:`project`.
    """
    e_x, e_y, n = view_basis(theta_deg, phi_deg, xp=xp)
    x = xp.einsum("vgk,vk->vg", pos, e_x)
    y = xp.einsum("vgk,vk->vg", pos, e_y)
    v_los = -xp.einsum("vgk,vk->vg", vel, n)
    return x, y, v_los


def project_per_angle(pos: Any, vel: Any, theta_deg: np.ndarray, phi_deg: np.ndarray,
                      xp: ModuleType = np) -> tuple[Any, Any, Any]:
    """The same as :func:`project`, one viewing direction at a time (reference and benchmark baseline)."""
    xs, ys, vs = [], [], []
    for theta, phi in zip(np.atleast_1d(theta_deg), np.atleast_1d(phi_deg)):
        t, p = np.radians(theta), np.radians(phi)
        e_x = xp.asarray([-np.sin(p), np.cos(p), 0.0])
        e_y = xp.asarray([-np.cos(t) * np.cos(p), -np.cos(t) * np.sin(p), np.sin(t)])
        n = xp.asarray([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)])
        xs.append(pos[:, 0] * e_x[0] + pos[:, 1] * e_x[1] + pos[:, 2] * e_x[2])
        ys.append(pos[:, 0] * e_y[0] + pos[:, 1] * e_y[1] + pos[:, 2] * e_y[2])
        vs.append(-(vel[:, 0] * n[0] + vel[:, 1] * n[1] + vel[:, 2] * n[2]))
    return xp.stack(xs), xp.stack(ys), xp.stack(vs)


def projected_half_mass_radius(pos: Any, mass: Any, theta_deg: np.ndarray, phi_deg: np.ndarray,
                               xp: ModuleType = np) -> Any:
    """Projected (2D) half-mass radius of a particle set seen along every viewing direction.

    The radius in the sky plane, about the origin, that encloses half of the total mass: the
    mass-weighted median of the projected radii, the smallest radius whose enclosed mass reaches half
    (no interpolation). Directions are processed in batches of at most
    :data:`HALF_MASS_BATCH_ELEMENTS` (angle, particle) pairs to bound memory.

    Parameters
    ----------
    pos
        Positions relative to the centre, shape (n, 3), on ``xp``.
    mass
        Masses, shape (n,), positive total.
    theta_deg, phi_deg
        Viewing angles in degrees, shape (n_angles,).
    xp
        Array module.

    Returns
    -------
    Array of shape (n_angles,) in the unit of ``pos``.
    """
    if len(mass) == 0:
        raise ValueError("projected_half_mass_radius: no particles; a half-mass radius needs stars")
    total = xp.sum(mass)
    if not float(total) > 0.0:
        raise ValueError(f"projected_half_mass_radius: total mass {float(total)!r} must be > 0")
    e_x, e_y, _ = view_basis(theta_deg, phi_deg, xp=xp)
    n_angles = e_x.shape[0]
    batch = max(1, HALF_MASS_BATCH_ELEMENTS // max(len(mass), 1))
    out = []
    for start in range(0, n_angles, batch):
        sl = slice(start, start + batch)
        r = xp.hypot(e_x[sl] @ pos.T, e_y[sl] @ pos.T)  # (b, n)
        order = xp.argsort(r, axis=1)
        r_sorted = xp.take_along_axis(r, order, axis=1)
        cum = xp.cumsum(mass[order], axis=1)
        k = xp.sum(cum < 0.5 * total, axis=1)  # first index reaching half the mass
        k = xp.minimum(k, r.shape[1] - 1)
        out.append(xp.take_along_axis(r_sorted, k[:, None], axis=1)[:, 0])
    return xp.concatenate(out)
