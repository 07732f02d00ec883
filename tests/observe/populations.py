"""Analytic tracer populations with known masses, for the estimator tests.

Every sampler returns 3D positions (kpc) and velocities (km/s) of isotropic (or constant-beta) tracers in
a known potential; :func:`observe` projects them along a random line of sight as an observer would.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate

from gcs_hpc.units import G_KPC_KMS2_PER_MSUN as G


def random_directions(rng: np.random.Generator, n: int) -> np.ndarray:
    """n unit vectors uniform on the sphere."""
    mu = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    s = np.sqrt(1.0 - mu**2)
    return np.stack([s * np.cos(phi), s * np.sin(phi), mu], axis=1)


def power_law_radii(rng: np.random.Generator, n: int, gamma: float, r_in: float, r_out: float) -> np.ndarray:
    """Radii with density rho ~ r^-gamma between r_in and r_out (gamma != 3)."""
    s = 3.0 - gamma
    u = rng.random(n)
    return (r_in**s + u * (r_out**s - r_in**s)) ** (1.0 / s)


def velocities_from_dispersions(rng: np.random.Generator, rhat: np.ndarray, sigma_r: np.ndarray,
                                beta: float) -> np.ndarray:
    """Gaussian velocities with radial dispersion sigma_r and tangential sigma_r sqrt(1 - beta)."""
    n = len(rhat)
    ref = np.where(np.abs(rhat[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    e1 = np.cross(rhat, ref)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(rhat, e1)
    sigma_t = sigma_r * np.sqrt(1.0 - beta)
    return (rng.normal(size=n)[:, None] * sigma_r[:, None] * rhat
            + rng.normal(size=n)[:, None] * sigma_t[:, None] * e1
            + rng.normal(size=n)[:, None] * sigma_t[:, None] * e2)


def kepler_power_law(rng, n, *, mass, gamma, r_in, r_out):
    """Isotropic tracers rho ~ r^-gamma in a point mass, velocities from the exact distribution function
    f(E) ~ (-E)^(gamma - 3/2): v^2 = 2 psi u with u ~ Beta(3/2, gamma - 1/2)."""
    r = power_law_radii(rng, n, gamma, r_in, r_out)
    rhat = random_directions(rng, n)
    psi = G * mass / r
    speed = np.sqrt(2.0 * psi * rng.beta(1.5, gamma - 0.5, n))
    vhat = random_directions(rng, n)
    return r[:, None] * rhat, speed[:, None] * vhat


def kepler_anisotropic(rng, n, *, mass, gamma, beta, r_in, r_out):
    """Tracers rho ~ r^-gamma in a point mass with constant beta; Gaussian velocities with the Jeans
    dispersion sigma_r^2 = G M / ((1 + gamma - 2 beta) r) (exact second moments)."""
    r = power_law_radii(rng, n, gamma, r_in, r_out)
    rhat = random_directions(rng, n)
    sigma_r = np.sqrt(G * mass / ((1.0 + gamma - 2.0 * beta) * r))
    return r[:, None] * rhat, velocities_from_dispersions(rng, rhat, sigma_r, beta)


def isothermal(rng, n, *, v0, gamma, r_in, r_out):
    """Tracers rho ~ r^-gamma in the singular isothermal potential Phi = v0^2 ln r: the isotropic
    distribution function is Maxwellian with sigma^2 = v0^2 / gamma (exact)."""
    r = power_law_radii(rng, n, gamma, r_in, r_out)
    rhat = random_directions(rng, n)
    v = rng.normal(0.0, v0 / np.sqrt(gamma), (n, 3))
    return r[:, None] * rhat, v


def jeans_population(rng, n, *, tracer_cumulative_inverse, tracer_density, enclosed_mass, beta=0.0,
                     r_max=1.0e4):
    """Tracers with a given density in a given mass profile, Gaussian velocities with the constant-beta
    Jeans dispersion sigma_r^2(r) = 1/(nu r^2beta) int_r^inf nu r'^2beta G M(r') / r'^2 dr'."""
    r = tracer_cumulative_inverse(rng.random(n))
    r = r[r < r_max]
    grid = np.logspace(np.log10(max(r.min(), 1e-6) * 0.5), np.log10(r_max), 300)

    def integrand(x):
        return tracer_density(x) * x ** (2 * beta) * G * enclosed_mass(x) / x**2

    tail = np.array([integrate.quad(integrand, g, np.inf, limit=200)[0] for g in grid])
    s2 = tail / (tracer_density(grid) * grid ** (2 * beta))
    sigma_r = np.sqrt(np.exp(np.interp(np.log(r), np.log(grid), np.log(s2))))
    rhat = random_directions(rng, len(r))
    return r[:, None] * rhat, velocities_from_dispersions(rng, rhat, sigma_r, beta)


def observe(rng, pos, vel):
    """Project along a random line of sight: returns x, y (kpc) on the sky and v_los (km/s)."""
    los = random_directions(rng, 1)[0]
    ref = np.array([1.0, 0.0, 0.0]) if abs(los[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    ex = np.cross(los, ref)
    ex /= np.linalg.norm(ex)
    ey = np.cross(los, ex)
    return pos @ ex, pos @ ey, vel @ los


def plummer(rng, n, *, mass, a):
    """A self-consistent isotropic Plummer sphere of ``mass`` and scale ``a`` (tracers that are the mass):
    radii from M(<r) (cut at 0.9999 of the mass), Gaussian velocities with the isotropic Jeans dispersion
    sigma^2 = G M / (6 sqrt(r^2 + a^2))."""
    u = rng.uniform(0.0, 0.9999, n)
    r = a / np.sqrt(u ** (-2.0 / 3.0) - 1.0)
    rhat = random_directions(rng, n)
    sigma = np.sqrt(G * mass / (6.0 * np.sqrt(r**2 + a**2)))
    return r[:, None] * rhat, rng.normal(size=(n, 3)) * sigma[:, None]
