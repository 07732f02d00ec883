"""The exponential stellar disk: exp(-R/R0) sech^2(z/z0), truncated at R_s, Toomre-stable kinematics.

Kinematics (paper section 2.1, Hernquist 1993 recipe), all from the TOTAL midplane potential, softened with
the preset's Plummer softening as the N-body run will feel it (:mod:`gcs_hpc.galaxy.potential`):

- sigma_R(R) = 3.36 Q G Sigma(R) / kappa(R) with Q = 1.5 at every radius (epicyclic theory; kappa from
  the total potential: halo + bulge + the disk's own midplane potential computed from rings).
- sigma_phi = sigma_R kappa / (2 Omega) (epicyclic ratio).
- sigma_z = sigma_R / 2, as the paper states (not from vertical equilibrium; the disk is thin,
  z0 = 0.2 R0, so the vertical energy is a small part of the total).
- Mean rotation from the asymmetric drift (collisionless Jeans equation in the midplane):
  <v_phi>^2 = v_c^2 + sigma_R^2 (1 - kappa^2 / (4 Omega^2) + d ln(Sigma sigma_R^2) / d ln R),
  clipped at 0 where the drift would exceed v_c (only close to the centre, if at all).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import ellipk

from gcs_hpc.galaxy.components import Component, register_component
from gcs_hpc.galaxy.sampling import inverse_cdf
from gcs_hpc.particles import DISK
from gcs_hpc.units import G

#: Toomre stability parameter of the initial disk (paper section 2.1).
TOOMRE_Q: float = 1.5
#: Toomre's constant for a stellar disk, Q = sigma_R kappa / (3.36 G Sigma).
TOOMRE_STELLAR: float = 3.36
#: Ratio sigma_z / sigma_R (paper section 2.1).
VERTICAL_TO_RADIAL_DISPERSION: float = 0.5
#: Rings and vertical nodes of the midplane potential quadrature.
POTENTIAL_RINGS: int = 2000
POTENTIAL_VERTICAL_NODES: int = 16
#: Radii of the midplane tables.
MIDPLANE_POINTS: int = 400


@register_component
class ExponentialDisk(Component):
    """Exponential disk with a sech^2 vertical profile, truncated at ``truncation_radius``.

    Parameters
    ----------
    mass
        Disk mass (inside the truncation radius).
    scale_length
        R0 (paper: 0.2 R_s).
    scale_height
        z0 of sech^2(z / z0) (paper: 0.04 R_s).
    truncation_radius
        R_s, the disk size: no disk particle beyond it.
    toomre_q
        Toomre Q at every radius.
    """

    code = DISK
    name = "disk"

    def __init__(self, mass: float, scale_length: float, scale_height: float, truncation_radius: float,
                 toomre_q: float = TOOMRE_Q) -> None:
        self.mass = mass
        self.scale_length = scale_length
        self.scale_height = scale_height
        self.truncation_radius = truncation_radius
        self.toomre_q = toomre_q
        self._f_cut = self._cylindrical_fraction(truncation_radius / scale_length)
        self.central_surface_density = mass / (2.0 * math.pi * scale_length**2 * self._f_cut)

    @staticmethod
    def _cylindrical_fraction(x: np.ndarray | float) -> np.ndarray | float:
        return 1.0 - (1.0 + x) * np.exp(-x)

    def surface_density(self, R: np.ndarray) -> np.ndarray:
        """Sigma(R), zero beyond the truncation radius."""
        R = np.asarray(R, dtype=float)
        sigma = self.central_surface_density * np.exp(-R / self.scale_length)
        return np.where(R <= self.truncation_radius, sigma, 0.0)

    def cylindrical_mass(self, R: np.ndarray) -> np.ndarray:
        """Mass inside cylindrical radius ``R``."""
        x = np.minimum(np.asarray(R, dtype=float), self.truncation_radius) / self.scale_length
        return self.mass * self._cylindrical_fraction(x) / self._f_cut

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        """Mass inside the SPHERE of radius ``r``: int 2 pi R Sigma(R) tanh(sqrt(r^2 - R^2) / z0) dR.

        (The sech^2 layer puts the fraction tanh(h / z0) of a column within |z| < h.) Tabulated once on a
        log grid and interpolated.
        """
        if not hasattr(self, "_sphere_table"):
            r_grid = np.geomspace(1.0e-4 * self.scale_length, 3.0 * self.truncation_radius, 600)
            masses = np.empty_like(r_grid)
            for i, rr in enumerate(r_grid):
                R = np.linspace(0.0, min(rr, self.truncation_radius), 801)
                column = np.tanh(np.sqrt(np.maximum(rr**2 - R**2, 0.0)) / self.scale_height)
                masses[i] = np.trapezoid(2.0 * math.pi * R * self.surface_density(R) * column, R)
            self._sphere_table = (np.concatenate([[0.0], r_grid]), np.concatenate([[0.0], masses]))
        r_grid, masses = self._sphere_table
        r = np.asarray(r, dtype=float)
        return np.where(r >= r_grid[-1], self.mass, np.interp(r, r_grid, masses))

    def midplane_potential(self, R: np.ndarray) -> np.ndarray:
        """Potential of the disk in its midplane at radii ``R`` (see :func:`ring_midplane_potential`)."""
        x = np.asarray(R, dtype=float) / self.scale_length
        phi = ring_midplane_potential(x, self.truncation_radius / self.scale_length,
                                      self.scale_height / self.scale_length)
        return G * self.mass / self.scale_length * phi

    def midplane_circular_speed_squared(self, softening: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The disk's own v_c^2 = R dPhi/dR in the midplane on a log grid out to 1.05 R_s: (R, v_c^2).

        ``softening`` is the Plummer softening length of the N-body run (0: Newtonian). The table depends
        only on R_s / R0, z0 / R0 and softening / R0, so it is computed once per process for all galaxies
        with the same ratios and scaled by G M / R0.
        """
        x, vc2 = _dimensionless_midplane_vc2(self.truncation_radius / self.scale_length,
                                             self.scale_height / self.scale_length,
                                             float(softening) / self.scale_length)
        return self.scale_length * x, G * self.mass / self.scale_length * vc2

    def sample_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x = np.linspace(0.0, self.truncation_radius / self.scale_length, 8192)
        cdf = self._cylindrical_fraction(x) / self._f_cut
        R = self.scale_length * inverse_cdf(rng.random(n), x, cdf)
        phi = rng.uniform(0.0, 2.0 * math.pi, n)
        # sech^2(z/z0) / (2 z0) has the CDF (1 + tanh(z / z0)) / 2
        z = self.scale_height * np.arctanh(rng.uniform(-1.0, 1.0, n))
        return np.stack([R * np.cos(phi), R * np.sin(phi), z], axis=1)

    def kinematics_table(self, potential: Any) -> dict[str, np.ndarray]:
        """Tabulated R, Sigma, kappa, Omega, sigma_R, sigma_phi, sigma_z and <v_phi> (see module doc)."""
        mid = potential.midplane()
        R, vc2, kappa2, omega2 = mid["R"], mid["vc2"], mid["kappa2"], mid["omega2"]
        surface = self.central_surface_density * np.exp(-R / self.scale_length)
        kappa = np.sqrt(np.maximum(kappa2, 0.0))
        sigma_R = TOOMRE_STELLAR * self.toomre_q * G * surface / kappa
        ratio2 = kappa2 / (4.0 * omega2)
        dln = np.gradient(np.log(surface * sigma_R**2), np.log(R))
        vphi2 = vc2 + sigma_R**2 * (1.0 - ratio2 + dln)
        return {"R": R, "Sigma": surface, "kappa": kappa, "Omega": np.sqrt(omega2), "sigma_R": sigma_R,
                "sigma_phi": sigma_R * np.sqrt(ratio2), "sigma_z": VERTICAL_TO_RADIAL_DISPERSION * sigma_R,
                "v_phi": np.sqrt(np.maximum(vphi2, 0.0)), "vc2": vc2}

    def sample_velocities(self, pos: np.ndarray, potential: Any, rng: np.random.Generator) -> np.ndarray:
        tab = self.kinematics_table(potential)
        R = np.hypot(pos[:, 0], pos[:, 1])
        logR, logT = np.log(np.maximum(R, tab["R"][0])), np.log(tab["R"])

        def at(name: str) -> np.ndarray:
            return np.interp(logR, logT, tab[name])

        noise = rng.standard_normal((len(pos), 3))
        v_R = at("sigma_R") * noise[:, 0]
        v_phi = at("v_phi") + at("sigma_phi") * noise[:, 1]
        v_z = at("sigma_z") * noise[:, 2]
        cos_p, sin_p = pos[:, 0] / np.where(R > 0, R, 1.0), pos[:, 1] / np.where(R > 0, R, 1.0)
        return np.stack([v_R * cos_p - v_phi * sin_p, v_R * sin_p + v_phi * cos_p, v_z], axis=1)

    def summary(self) -> dict[str, float]:
        return {"mass": self.mass, "scale_length": self.scale_length, "scale_height": self.scale_height,
                "size": self.truncation_radius, "toomre_q": self.toomre_q}


def ring_midplane_potential(x: np.ndarray, x_trunc: float, height: float,
                            softening: float = 0.0) -> np.ndarray:
    """Midplane potential of a unit-mass exponential disk (R0 = 1, G = 1) truncated at ``x_trunc``.

    A ring of radius a and mass m at height z' gives, at (R, 0),
    -G m (2 / pi) K(k) / sqrt((R + a)^2 + z'^2) with k^2 = 4 a R / ((R + a)^2 + z'^2). Rings sit at the
    midpoints of equal-width radial bins with the exact bin masses; heights are equal-mass nodes of the
    sech^2(z / height) layer (folded about z = 0). With a Plummer ``softening`` (in units of R0) every
    point mass acts through -G m / sqrt(d^2 + softening^2), which for a ring is the same formula with
    z'^2 replaced by z'^2 + softening^2: the field the N-body code computes.
    """
    x = np.asarray(x, dtype=float)
    edges = np.linspace(0.0, x_trunc, POTENTIAL_RINGS + 1)
    a = 0.5 * (edges[1:] + edges[:-1])
    cumulative = 1.0 - (1.0 + edges) * np.exp(-edges)
    ring_mass = np.diff(cumulative) / cumulative[-1]
    t = (np.arange(POTENTIAL_VERTICAL_NODES) + 0.5) / POTENTIAL_VERTICAL_NODES
    phi = np.zeros_like(x)
    for z in height * np.arctanh(t):
        d2 = (x[:, None] + a[None, :]) ** 2 + z**2 + softening**2
        phi += (ellipk(4.0 * a[None, :] * x[:, None] / d2) / np.sqrt(d2)) @ ring_mass
    return -(2.0 / math.pi) * phi / POTENTIAL_VERTICAL_NODES


@lru_cache(maxsize=16)
def _dimensionless_midplane_vc2(x_trunc: float, height: float,
                                softening: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    x = np.geomspace(1.0e-3, 1.05 * x_trunc, MIDPLANE_POINTS)
    phi = ring_midplane_potential(x, x_trunc, height, softening)
    vc2 = x * np.gradient(phi, x)
    x.setflags(write=False)
    vc2.setflags(write=False)
    return x, vc2
