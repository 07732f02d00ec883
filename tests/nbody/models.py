"""Initial conditions for the N-body tests: Kepler binaries and Plummer spheres (G = 1, simulation units)."""

from __future__ import annotations

import math

import numpy as np

from gcs_hpc.particles import BULGE, GC, Particles


def kepler_binary(m1: float = 1.0, m2: float = 0.5, a: float = 1.0, e: float = 0.5) -> Particles:
    """Two bodies at apocentre of a Kepler orbit with semi-major axis ``a`` and eccentricity ``e``,
    centre-of-mass frame. Period 2 pi sqrt(a^3 / (m1 + m2)); energy -m1 m2 / (2 a) (unsoftened)."""
    mu = m1 + m2
    r_apo = a * (1.0 + e)
    v_apo = math.sqrt(mu / a * (1.0 - e) / (1.0 + e))
    pos = np.array([[r_apo * m2 / mu, 0.0, 0.0], [-r_apo * m1 / mu, 0.0, 0.0]])
    vel = np.array([[0.0, v_apo * m2 / mu, 0.0], [0.0, -v_apo * m1 / mu, 0.0]])
    return Particles(pos=pos, vel=vel, mass=np.array([m1, m2]), component=np.full(2, BULGE, np.int8),
                     galaxy=np.zeros(2, np.int8))


def plummer_sphere(n: int, seed: int = 0, total_mass: float = 1.0, scale: float = 1.0, n_tracers: int = 0,
                   r_max: float = 20.0, virial_softening: float | None = None) -> Particles:
    """Isotropic Plummer sphere in equilibrium (Aarseth, Henon & Wielen 1974), centre-of-mass frame.

    With ``virial_softening`` the massive particles' velocities are rescaled so that 2T = |W| exactly for
    the Plummer-softened potential energy W (computed here with a plain NumPy pair sum), removing the
    ~1/sqrt(N) virial mismatch of a random realisation.

    ``n_tracers`` massless tracers (component GC) are drawn from the same distribution function; they are
    appended after the massive particles and use an independent random stream, so the massive particles
    do not depend on ``n_tracers``.
    """
    def draw(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.empty(0)
        while r.size < k:
            x = rng.uniform(0.0, 1.0, 2 * k)
            rr = 1.0 / np.sqrt(x ** (-2.0 / 3.0) - 1.0)
            r = np.concatenate([r, rr[rr < r_max / scale]])
        r = r[:k]
        # velocities by von Neumann rejection on g(q) = q^2 (1 - q^2)^3.5
        q = np.empty(0)
        while q.size < k:
            x = rng.uniform(0.0, 1.0, 2 * k)
            y = rng.uniform(0.0, 0.1, 2 * k)
            q = np.concatenate([q, x[y < x * x * (1.0 - x * x) ** 3.5]])
        q = q[:k]
        v = q * math.sqrt(2.0) * (1.0 + r * r) ** -0.25
        return r[:, None] * _unit_vectors(rng, k) * scale, v[:, None] * _unit_vectors(rng, k) * math.sqrt(
            total_mass / scale)

    pos, vel = draw(np.random.default_rng(seed), n)
    mass = np.full(n, total_mass / n)
    pos -= np.average(pos, axis=0, weights=mass)
    vel -= np.average(vel, axis=0, weights=mass)
    if virial_softening is not None:
        kinetic = 0.5 * np.sum(mass * np.sum(vel**2, axis=1))
        vel *= math.sqrt(-softened_potential_energy(pos, mass, virial_softening) / (2.0 * kinetic))
    component = np.full(n, BULGE, np.int8)
    if n_tracers:
        tpos, tvel = draw(np.random.default_rng([seed, 1]), n_tracers)
        pos = np.concatenate([pos, tpos])
        vel = np.concatenate([vel, tvel])
        mass = np.concatenate([mass, np.zeros(n_tracers)])
        component = np.concatenate([component, np.full(n_tracers, GC, np.int8)])
    return Particles(pos=pos, vel=vel, mass=mass, component=component, galaxy=np.zeros(len(mass), np.int8))


def softened_potential_energy(pos: np.ndarray, mass: np.ndarray, eps: float) -> float:
    """W = -sum_{i<j} m_i m_j / sqrt(r_ij^2 + eps^2), by rows of a NumPy pair sum."""
    w = 0.0
    for i in range(len(mass) - 1):
        d2 = np.sum((pos[i + 1:] - pos[i]) ** 2, axis=1)
        w -= mass[i] * np.sum(mass[i + 1:] / np.sqrt(d2 + eps * eps))
    return float(w)


def _unit_vectors(rng: np.random.Generator, k: int) -> np.ndarray:
    cos_t = rng.uniform(-1.0, 1.0, k)
    phi = rng.uniform(0.0, 2.0 * math.pi, k)
    sin_t = np.sqrt(1.0 - cos_t**2)
    return np.stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t], axis=1)


def lagrangian_radii(pos: np.ndarray, mass: np.ndarray, fractions=(0.1, 0.5, 0.9)) -> np.ndarray:
    """Radii enclosing the given mass fractions about the centre of mass."""
    com = np.average(pos, axis=0, weights=mass)
    r = np.linalg.norm(pos - com, axis=1)
    order = np.argsort(r)
    cumulative = np.cumsum(mass[order]) / mass.sum()
    return np.array([r[order][np.searchsorted(cumulative, f)] for f in fractions])
