"""Vectorised sampling helpers: inverse-CDF tables, isotropic directions, cumulative integrals.

Everything here is NumPy only and draws every random number from the ``numpy.random.Generator`` it is
given, so a model built from one seed is bit-identical on every run.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Points of the radial tables used for inverse-CDF sampling and Jeans integrals.
TABLE_POINTS: int = 4096


def cumulative_trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cumulative trapezoidal integral of ``y(x)`` from ``x[0]``, same length as ``x`` (starts at 0)."""
    seg = 0.5 * (y[1:] + y[:-1]) * np.diff(x)
    return np.concatenate([[0.0], np.cumsum(seg)])


def outer_integral(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Trapezoidal integral of ``y(x)`` from each ``x[i]`` to ``x[-1]`` (ends at 0)."""
    seg = 0.5 * (y[1:] + y[:-1]) * np.diff(x)
    return np.concatenate([np.cumsum(seg[::-1])[::-1], [0.0]])


def inverse_cdf(u: np.ndarray, x_grid: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Map uniform deviates ``u`` in [0, 1) through the inverse of a tabulated, non-decreasing CDF.

    Parameters
    ----------
    u
        Uniform deviates.
    x_grid, cdf
        The table: ``cdf[i] = P(X <= x_grid[i])`` with ``cdf[0] = 0`` and ``cdf[-1] = 1``.
    """
    return np.interp(u, cdf, x_grid)


def radial_cdf_table(density: Callable[[np.ndarray], np.ndarray], r_min: float,
                     r_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Tabulate the normalised enclosed-mass CDF of a spherical ``density`` between ``r_min``, ``r_max``.

    The table is on a logarithmic grid (plus r = 0, where the CDF is 0) and integrates
    4 pi r^3 rho d ln r with the trapezoidal rule.
    """
    r = np.geomspace(r_min, r_max, TABLE_POINTS)
    mass = cumulative_trapezoid(4.0 * np.pi * r**3 * density(r), np.log(r))
    # the mass inside r_min, approximated as a uniform sphere of the innermost density
    mass += 4.0 / 3.0 * np.pi * r_min**3 * density(np.array([r_min]))[0]
    r = np.concatenate([[0.0], r])
    cdf = np.concatenate([[0.0], mass / mass[-1]])
    return r, cdf


def isotropic_directions(n: int, rng: np.random.Generator) -> np.ndarray:
    """Return ``n`` unit vectors uniformly distributed on the sphere, shape (n, 3)."""
    cos_theta = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    return np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1)


def rotation_about_y(theta_deg: float) -> np.ndarray:
    """Rotation matrix that turns the z axis towards +x by ``theta_deg`` (spin vector in the x-z plane).

    ``R @ [0, 0, 1] = [sin theta, 0, cos theta]``: the paper's spin angle theta to the z axis with
    azimuth phi = 0 measured from the x axis.
    """
    t = np.deg2rad(theta_deg)
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
