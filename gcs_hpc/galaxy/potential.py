"""The total gravitational field of a galaxy model, as the ICs need it.

Two views of the same mass:

- spherically averaged: M_tot(<r) = sum of every massive component's mass inside the sphere r (the disk's
  exactly averaged over spheres, see :meth:`ExponentialDisk.enclosed_mass`). The spherical components and
  the GCS take their Jeans dispersions from it; by Gauss' theorem the angle average of the radial force on
  a sphere is exactly G M_tot(<r) / r^2, so each spherical component obeys the virial theorem in the true
  (non-spherical) field.
- midplane: v_c^2(R) = G (M_halo(<R) + M_bulge(<R)) / R + R dPhi_disk/dR (the disk's own potential from
  rings), giving Omega and kappa for the disk's epicyclic kinematics.

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
    """

    def __init__(self, components: Sequence[Component]) -> None:
        self.components = [c for c in components if c.mass > 0.0]
        disks = [c for c in self.components if isinstance(c, ExponentialDisk)]
        self.disk = disks[0] if disks else None
        self._midplane: dict[str, np.ndarray] | None = None

    @property
    def mass(self) -> float:
        """Total mass."""
        return float(sum(c.mass for c in self.components))

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        """Spherically averaged total mass inside radius ``r``."""
        r = np.asarray(r, dtype=float)
        return sum((c.enclosed_mass(r) for c in self.components), np.zeros_like(r))

    def circular_velocity(self, r: np.ndarray) -> np.ndarray:
        """sqrt(G M_tot(<r) / r) of the spherically averaged mass."""
        r = np.asarray(r, dtype=float)
        return np.sqrt(G * self.enclosed_mass(r) / r)

    def jeans_dispersion_squared(self, density: Callable[[np.ndarray], np.ndarray], r_cut: float,
                                 r_min: float, r: np.ndarray) -> np.ndarray:
        """Isotropic Jeans sigma^2(r) of a tracer ``density`` truncated at ``r_cut``.

        sigma^2(r) = 1 / nu(r) int_r^{r_cut} nu(r') G M_tot(<r') / r'^2 dr', tabulated on a log grid
        from ``r_min`` to ``r_cut`` (integrated in ln r) and interpolated in ln r; zero at ``r_cut``.
        """
        grid = np.geomspace(r_min, r_cut, TABLE_POINTS)
        nu = density(grid)
        integrand = nu * G * self.enclosed_mass(grid) / grid  # d ln r
        sigma2 = outer_integral(integrand, np.log(grid)) / nu
        r = np.clip(np.asarray(r, dtype=float), grid[0], grid[-1])
        return np.interp(np.log(r), np.log(grid), sigma2)

    def midplane(self) -> dict[str, np.ndarray]:
        """Midplane tables R, vc2, omega2, kappa2 out to the disk edge (computed once)."""
        if self._midplane is None:
            if self.disk is None:
                raise ValueError("midplane tables need a disk component")
            disk = self.disk
            R, vc2_disk = disk.midplane_circular_speed_squared()
            spherical = [c for c in self.components if c is not disk]
            m_sph = sum((c.enclosed_mass(R) for c in spherical), np.zeros_like(R))
            vc2 = G * m_sph / R + vc2_disk
            omega2 = vc2 / R**2
            kappa2 = R * np.gradient(omega2, R) + 4.0 * omega2
            self._midplane = {"R": R, "vc2": vc2, "omega2": omega2, "kappa2": kappa2}
        return self._midplane

    def midplane_at(self, name: str, R: np.ndarray | float) -> np.ndarray:
        """Interpolate the midplane table ``name`` (vc2, omega2, kappa2) at radii ``R``."""
        tab = self.midplane()
        return np.interp(np.log(R), np.log(tab["R"]), tab[name])
