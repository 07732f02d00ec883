"""Viewing directions spread uniformly over the sphere: the Fibonacci (golden-angle) lattice.

A viewing direction is the unit vector ``n`` from the galaxy towards the observer, given by polar angle
``theta`` (from the simulation z axis, which is the spin axis of an isolated disk) and azimuth ``phi``:
``n = (sin theta cos phi, sin theta sin phi, cos theta)``. ``theta = 0`` sees a disk face-on,
``theta = 90`` edge-on.

The sky plane of a view is spanned by ``e_x = phi_hat`` and ``e_y = -theta_hat``, so that
``(e_x, e_y, n)`` is right-handed: the observer looks along ``-n`` with x to the right and y up. For
``theta = 90, phi = 0`` the disk plane (x-y) lies along the image x axis: the major axis is x.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

#: The golden angle in degrees, 180 (3 - sqrt 5).
GOLDEN_ANGLE_DEG: float = 180.0 * (3.0 - np.sqrt(5.0))


def viewing_angles(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``n`` viewing directions on a Fibonacci lattice, deterministic.

    Point ``i`` has ``cos theta_i = 1 - (2 i + 1) / n`` (equal-area bands) and
    ``phi_i = i * golden angle (mod 360)``, so the directions cover the sphere uniformly for any ``n``.

    Parameters
    ----------
    n
        Number of directions, at least 1.

    Returns
    -------
    theta_deg, phi_deg
        Polar angle in [0, 180] and azimuth in [0, 360) degrees, each of shape (n,), float64.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"viewing_angles: n = {n!r} is invalid; allowed: an integer >= 1")
    i = np.arange(int(n), dtype=np.float64)
    cos_theta = 1.0 - (2.0 * i + 1.0) / n
    theta = np.degrees(np.arccos(np.clip(cos_theta, -1.0, 1.0)))
    phi = np.mod(i * GOLDEN_ANGLE_DEG, 360.0)
    return theta, phi


def view_basis(theta_deg: np.ndarray, phi_deg: np.ndarray, xp: ModuleType = np) -> tuple:
    """Unit vectors of the sky frame of each view.

    Parameters
    ----------
    theta_deg, phi_deg
        Viewing angles in degrees, shape (n_angles,).
    xp
        Array module of the returned arrays.

    Returns
    -------
    e_x, e_y, n
        Arrays of shape (n_angles, 3): image x axis, image y axis and the line of sight towards the
        observer.
    """
    theta = np.radians(np.asarray(theta_deg, dtype=np.float64))
    phi = np.radians(np.asarray(phi_deg, dtype=np.float64))
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    e_x = np.stack([-sp, cp, np.zeros_like(sp)], axis=-1)
    e_y = np.stack([-ct * cp, -ct * sp, st], axis=-1)
    n = np.stack([st * cp, st * sp, ct], axis=-1)
    return xp.asarray(e_x), xp.asarray(e_y), xp.asarray(n)


def direction_vectors(theta_deg: np.ndarray, phi_deg: np.ndarray) -> np.ndarray:
    """Unit vectors ``n`` towards the observer, shape (n_angles, 3), NumPy."""
    return view_basis(theta_deg, phi_deg)[2]
