"""The total gravitational field of a galaxy model, as the ICs need it.

Two views of the same mass:

- spherically averaged: M_tot(<r) = sum of every massive component's mass inside the sphere r (the disk's
  exactly averaged over spheres, see :meth:`ExponentialDisk.enclosed_mass`). The spherical components and
  the GCS take their Jeans dispersions from it; by Gauss' theorem the angle average of the radial force on
  a sphere is exactly G M_tot(<r) / r^2, so each spherical component obeys the virial theorem in the true
  (non-spherical) field.
- midplane: v_c^2(R) = G (M_halo(<R) + M_bulge(<R)) / R + R dPhi_disk/dR (the disk's own potential from
  rings), giving Omega and kappa for the disk's epicyclic kinematics.

Softened field. The N-body code computes Plummer-softened gravity, which is weaker than Newton's within a
few softening lengths: with the ``quick`` preset (0.7 kpc = z0 = the fiducial bulge's Hernquist scale)
the disk's midplane v_c^2 is ~10% lower at 1-8 kpc and the bulge's inner force about half. ICs set up in
the Newtonian field then start out of equilibrium (too much rotation and too hot a bulge core for the
field they feel). With ``softening > 0`` both views use the softened field instead: the spherical mass
acts through Plummer-softened shells (a shell of radius s and mass m gives, at radius r,
Phi = -G m (sqrt((r + s)^2 + eps^2) - sqrt((r - s)^2 + eps^2)) / (2 r s)), expressed as an effective
enclosed mass M_eff(<r) = r^2 |dPhi/dr| / G that replaces M(<r) in the Jeans equation and in v_c^2, and
the disk's rings are softened (:func:`gcs_hpc.galaxy.disk.ring_midplane_potential`). ``softening = 0``
is the Newtonian model exactly.

All tables are NumPy vectors evaluated once per model and interpolated.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from gcs_hpc.galaxy.components import Component
from gcs_hpc.galaxy.disk import ExponentialDisk
from gcs_hpc.galaxy.sampling import TABLE_POINTS, outer_integral
from gcs_hpc.units import G


class TotalPotential:
    """Field of the massive components of one galaxy (GCs are massless and left out).

    Parameters
    ----------
    components
        Every massive component (halo, bulge, disk); components of mass 0 are ignored.
    softening
        Plummer softening length of the N-body run the ICs are made for (0: the Newtonian field).
    """

    def __init__(self, components: Sequence[Component], softening: float = 0.0) -> None:
        self.components = [c for c in components if c.mass > 0.0]
        disks = [c for c in self.components if isinstance(c, ExponentialDisk)]
        self.disk = disks[0] if disks else None
        self.softening = float(softening)
        self._midplane: dict[str, np.ndarray] | None = None
        self._effective: dict[bool, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def mass(self) -> float:
        """Total mass."""
        return float(sum(c.mass for c in self.components))

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        """Spherically averaged total mass inside radius ``r``."""
        r = np.asarray(r, dtype=float)
        return sum((c.enclosed_mass(r) for c in self.components), np.zeros_like(r))

    def effective_enclosed_mass(self, r: np.ndarray, spherical_only: bool = False) -> np.ndarray:
        """M_eff(<r) = r^2 |dPhi/dr| / G of the (softened) spherically averaged field; equals
        :meth:`enclosed_mass` when ``softening == 0``. ``spherical_only`` leaves the disk out."""
        comps = [c for c in self.components if not (spherical_only and c is self.disk)]
        r = np.asarray(r, dtype=float)
        if self.softening == 0.0:
            return sum((c.enclosed_mass(r) for c in comps), np.zeros_like(r))
        if spherical_only not in self._effective:
            self._effective[spherical_only] = softened_mass_table(comps, self.softening)
        grid, m_eff = self._effective[spherical_only]
        return np.interp(np.log(np.clip(r, grid[0], grid[-1])), np.log(grid), m_eff)

    def circular_velocity(self, r: np.ndarray) -> np.ndarray:
        """sqrt(G M_tot(<r) / r) of the spherically averaged mass."""
        r = np.asarray(r, dtype=float)
        return np.sqrt(G * self.enclosed_mass(r) / r)

    def jeans_dispersion_squared(self, density: Callable[[np.ndarray], np.ndarray], r_cut: float,
                                 r_min: float, r: np.ndarray) -> np.ndarray:
        """Isotropic Jeans sigma^2(r) of a tracer ``density`` truncated at ``r_cut``.

        sigma^2(r) = 1 / nu(r) int_r^{r_cut} nu(r') G M_tot(<r') / r'^2 dr' (M_eff when softened),
        tabulated on a log grid from ``r_min`` to ``r_cut`` (integrated in ln r) and interpolated in ln r;
        zero at ``r_cut``.
        """
        grid = np.geomspace(r_min, r_cut, TABLE_POINTS)
        nu = density(grid)
        integrand = nu * G * self.effective_enclosed_mass(grid) / grid  # d ln r
        sigma2 = outer_integral(integrand, np.log(grid)) / nu
        r = np.clip(np.asarray(r, dtype=float), grid[0], grid[-1])
        return np.interp(np.log(r), np.log(grid), sigma2)

    def midplane(self) -> dict[str, np.ndarray]:
        """Midplane tables R, vc2, omega2, kappa2 out to the disk edge (computed once)."""
        if self._midplane is None:
            if self.disk is None:
                raise ValueError("midplane tables need a disk component")
            disk = self.disk
            R, vc2_disk = disk.midplane_circular_speed_squared(self.softening)
            vc2 = G * self.effective_enclosed_mass(R, spherical_only=True) / R + vc2_disk
            omega2 = vc2 / R**2
            kappa2 = R * np.gradient(omega2, R) + 4.0 * omega2
            self._midplane = {"R": R, "vc2": vc2, "omega2": omega2, "kappa2": kappa2}
        return self._midplane

    def midplane_at(self, name: str, R: np.ndarray | float) -> np.ndarray:
        """Interpolate the midplane table ``name`` (vc2, omega2, kappa2) at radii ``R``."""
        tab = self.midplane()
        return np.interp(np.log(R), np.log(tab["R"]), tab[name])


#: Shells and radii of the softened spherical tables.
SOFTENED_SHELLS: int = 3000
SOFTENED_RADII: int = 800


def softened_mass_table(components: Sequence[Component], softening: float) -> tuple[np.ndarray, np.ndarray]:
    """(r, M_eff(<r)) of the Plummer-softened field of ``components`` averaged over spheres.

    The mass is cut into thin shells (log grid from 1e-8 of the outermost radius) whose softened shell
    potential (module docstring) is differentiated analytically; M_eff = r^2 g(r) / G.
    """
    r_out = max(getattr(c, "truncation_radius", 0.0) for c in components)
    edges = np.concatenate([[0.0], np.geomspace(1.0e-8 * r_out, 1.05 * r_out, SOFTENED_SHELLS)])
    shell_mass = np.diff(sum((c.enclosed_mass(edges) for c in components), np.zeros_like(edges)))
    s = 0.5 * (edges[1:] + edges[:-1])
    r = np.geomspace(1.0e-7 * r_out, r_out, SOFTENED_RADII)
    eps2 = softening**2
    m_eff = np.empty_like(r)
    for i, ri in enumerate(r):
        a = np.sqrt((ri + s) ** 2 + eps2)
        b = np.sqrt((ri - s) ** 2 + eps2)
        dk_dr = ((ri + s) / a - (ri - s) / b) / (2.0 * ri * s) - (a - b) / (2.0 * ri**2 * s)
        m_eff[i] = -ri**2 * np.sum(shell_mass * dk_dr)
    return r, m_eff
