"""Galaxy components behind one base: NFW halo, Hernquist bulge, the GCS (and the disk, in disk.py).

All quantities are in simulation units (:mod:`gcs_hpc.units`: 17.5 kpc, 6e10 Msun, G = 1).

Equilibrium of the spherical components: Jeans moments, not Eddington inversion
--------------------------------------------------------------------------------
The halo (truncated at R_vir, as the paper and the spec require) and the bulge (truncated at its size R_b)
take isotropic Gaussian velocities whose dispersion solves the spherical Jeans equation in the TOTAL
spherically averaged potential (halo + bulge + the disk's mass averaged over spheres)::

    sigma^2(r) = 1 / rho(r) * int_r^{r_cut} rho(r') G M_tot(<r') / r'^2 dr'

We chose Jeans moments over Eddington inversion because both components are sharply truncated: the density
as a function of the relative potential then jumps at the truncation energy, and Eddington's f(E) becomes
negative (divergent) there, so a tabulated inversion is not a valid distribution function without
changing the profile (e.g. the exponential taper of Kazantzidis et al. 2004, which puts mass beyond R_vir
and so changes the mass label M_total). Jeans moments with sigma(r_cut) = 0 are well defined for the
truncated profiles and satisfy the virial theorem of each component exactly (in expectation), which the
tests check. The known cost: a Gaussian is not the exact velocity distribution, so the inner cusp relaxes
mildly in the first crossing times (Kazantzidis et al. 2004); the GC maps are made at larger radii.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from gcs_hpc.galaxy.sampling import inverse_cdf, isotropic_directions, radial_cdf_table
from gcs_hpc.particles import BULGE, GC, HALO

#: Innermost radius of radial tables, in units of the component's scale radius.
INNER_RADIUS_FRACTION: float = 1.0e-4


class Component(ABC):
    """A component of a disk galaxy: its mass profile and how to sample its particles.

    Attributes
    ----------
    code
        Component code stored in :attr:`gcs_hpc.particles.Particles.component`.
    name
        Name used in diagnostics.
    mass
        Total mass in simulation units (0 for the massless GCs).
    """

    code: ClassVar[int]
    name: ClassVar[str]
    mass: float

    @abstractmethod
    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        """Mass inside the sphere of radius ``r`` (spherically averaged for the disk)."""

    @abstractmethod
    def sample_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` positions, shape (n, 3), from the component's density."""

    @abstractmethod
    def sample_velocities(self, pos: np.ndarray, potential: Any, rng: np.random.Generator) -> np.ndarray:
        """Draw equilibrium velocities at ``pos`` in ``potential`` (a :class:`TotalPotential`)."""

    #: Whether particles are drawn in point-reflected pairs (see :meth:`sample`).
    mirrored: ClassVar[bool] = True

    def sample(self, n: int, potential: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` particles: positions first, then velocities, from one generator.

        Massive components are drawn in point-reflected pairs ((x, v) and (-x, -v), a "quiet start"):
        the pair keeps every profile and moment of an axisymmetric or spherical equilibrium (rotation
        included) and puts the centre of mass and momentum at the origin exactly (to within one particle
        for odd n), so recentring a galaxy does not displace it from its analytic centre by the sampling
        noise of its extended halo (about R_vir / sqrt(N)).
        """
        if not self.mirrored:
            pos = self.sample_positions(n, rng)
            return pos, self.sample_velocities(pos, potential, rng)
        half = (n + 1) // 2
        pos = self.sample_positions(half, rng)
        vel = self.sample_velocities(pos, potential, rng)
        return np.concatenate([pos, -pos])[:n], np.concatenate([vel, -vel])[:n]

    def summary(self) -> dict[str, float]:
        """Structural parameters for diagnostics (simulation units)."""
        return {"mass": self.mass}


class SphericalComponent(Component):
    """A truncated spherical component with isotropic Jeans velocities (see the module docstring).

    Subclasses define :meth:`density` (mass or number density), :attr:`truncation_radius` and
    :attr:`scale_radius`.
    """

    truncation_radius: float
    scale_radius: float

    @abstractmethod
    def density(self, r: np.ndarray) -> np.ndarray:
        """Density at radius ``r`` inside the truncation radius (0 outside)."""

    def _radius_table(self) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self, "_table"):
            self._table = radial_cdf_table(self.density, INNER_RADIUS_FRACTION * self.scale_radius,
                                           self.truncation_radius)
        return self._table

    def sample_radii(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` radii from the enclosed-mass CDF (inverse transform)."""
        r_grid, cdf = self._radius_table()
        return inverse_cdf(rng.random(n), r_grid, cdf)

    def sample_positions(self, n: int, rng: np.random.Generator) -> np.ndarray:
        r = self.sample_radii(n, rng)
        return r[:, None] * isotropic_directions(n, rng)

    def velocity_dispersion(self, r: np.ndarray, potential: Any) -> np.ndarray:
        """One-dimensional isotropic Jeans dispersion at ``r`` in the total potential."""
        return np.sqrt(potential.jeans_dispersion_squared(self.density, self.truncation_radius,
                                                          INNER_RADIUS_FRACTION * self.scale_radius, r))

    def sample_velocities(self, pos: np.ndarray, potential: Any, rng: np.random.Generator) -> np.ndarray:
        sigma = self.velocity_dispersion(np.linalg.norm(pos, axis=1), potential)
        return sigma[:, None] * rng.standard_normal((len(pos), 3))


class NFWHalo(SphericalComponent):
    """Navarro-Frenk-White dark halo truncated at the virial radius.

    Parameters
    ----------
    mass
        Mass inside the virial radius (all the halo's mass).
    virial_radius
        R_vir (here R_200: mean density 200 rho_crit, the definition of Neto et al. 2007).
    concentration
        c = R_vir / r_s.
    """

    code = HALO
    name = "halo"

    def __init__(self, mass: float, virial_radius: float, concentration: float) -> None:
        self.mass = mass
        self.truncation_radius = virial_radius
        self.concentration = concentration
        self.scale_radius = virial_radius / concentration
        self._m_c = self._m(concentration)

    @staticmethod
    def _m(x: np.ndarray | float) -> np.ndarray | float:
        return np.log1p(x) - x / (1.0 + x)

    def density(self, r: np.ndarray) -> np.ndarray:
        x = np.asarray(r, dtype=float) / self.scale_radius
        rho0 = self.mass / (4.0 * math.pi * self.scale_radius**3 * self._m_c)
        with np.errstate(divide="ignore"):
            rho = rho0 / (x * (1.0 + x) ** 2)
        return np.where(np.asarray(r) <= self.truncation_radius, rho, 0.0)

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        x = np.minimum(np.asarray(r, dtype=float), self.truncation_radius) / self.scale_radius
        return self.mass * self._m(x) / self._m_c

    def summary(self) -> dict[str, float]:
        return {"mass": self.mass, "virial_radius": self.truncation_radius,
                "concentration": self.concentration, "scale_radius": self.scale_radius}


class HernquistBulge(SphericalComponent):
    """Hernquist (1990) bulge truncated at its size R_b.

    R_b is the bulge SIZE (truncation radius, holding all of M_b), as the paper distinguishes a bulge
    "scale-length R_0,b and size R_b"; the Hernquist scale is a = R_0,b = 0.2 R_b, the same ratio the
    paper uses for the disk (R0 = 0.2 R_s). For the Milky Way bulge (1e10 Msun) R_b = 3.5 kpc, a = 0.7 kpc.

    Parameters
    ----------
    mass
        Bulge mass M_b (inside R_b).
    size
        R_b.
    scale_fraction
        a / R_b.
    """

    code = BULGE
    name = "bulge"

    def __init__(self, mass: float, size: float, scale_fraction: float = 0.2) -> None:
        self.mass = mass
        self.truncation_radius = size
        self.scale_radius = scale_fraction * size
        s_cut = size / (size + self.scale_radius)
        self._mass_untruncated = mass / s_cut**2

    def density(self, r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, dtype=float)
        a = self.scale_radius
        with np.errstate(divide="ignore"):
            rho = self._mass_untruncated * a / (2.0 * math.pi * r * (r + a) ** 3)
        return np.where(r <= self.truncation_radius, rho, 0.0)

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        r = np.minimum(np.asarray(r, dtype=float), self.truncation_radius)
        return self._mass_untruncated * (r / (r + self.scale_radius)) ** 2

    def sample_radii(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Exact inverse transform: r / (r + a) = sqrt(u M_trunc / M_untruncated)."""
        s = np.sqrt(rng.random(n) * self.mass / self._mass_untruncated)
        return self.scale_radius * s / (1.0 - s)

    def summary(self) -> dict[str, float]:
        return {"mass": self.mass, "size": self.truncation_radius, "scale_radius": self.scale_radius}


class GlobularClusterSystem(SphericalComponent):
    """The GCS: massless tracers with n(r) ~ (a^2 + r^2)^-1.75 cut at r_cut (paper eq. 2, Bekki et al. 2005).

    Velocities: isotropic Gaussian with the Jeans dispersion of this (truncated) tracer profile in the
    total potential, then rotation about the spin axis (z in the galaxy's frame) is added and the random
    part shrunk so that, exactly to rounding,

    - ``T_rot / T_kin == f_rot`` with ``T_rot = N <v_phi>^2 / 2`` (the kinetic energy of the mean streaming
      about the spin axis, GCs weighted equally) and ``T_kin = sum |v|^2 / 2``, and
    - ``T_kin`` equals that of the isotropic draw (the energy budget of the Jeans equilibrium is kept).

    Every GC gets the same streaming speed ``<v_phi>`` along e_phi (a flat rotation curve).
    """

    code = GC
    name = "gc"
    #: GCs are drawn independently: pairs would imprint a point symmetry on the kinematic maps.
    mirrored = False

    def __init__(self, scale_radius: float, cut_radius: float, f_rot: float) -> None:
        self.mass = 0.0
        self.scale_radius = scale_radius
        self.truncation_radius = cut_radius
        self.f_rot = f_rot

    def density(self, r: np.ndarray) -> np.ndarray:
        r = np.asarray(r, dtype=float)
        n = (self.scale_radius**2 + r**2) ** -1.75
        return np.where(r <= self.truncation_radius, n, 0.0)

    def enclosed_mass(self, r: np.ndarray) -> np.ndarray:
        return np.zeros_like(np.asarray(r, dtype=float))

    def enclosed_fraction(self, r: np.ndarray) -> np.ndarray:
        """Fraction of the GCs inside radius ``r`` (the tabulated number CDF)."""
        r_grid, cdf = self._radius_table()
        return np.interp(r, r_grid, cdf)

    def half_number_radius(self) -> float:
        """Radius holding half of the GCs."""
        r_grid, cdf = self._radius_table()
        return float(np.interp(0.5, cdf, r_grid))

    def sample_velocities(self, pos: np.ndarray, potential: Any, rng: np.random.Generator) -> np.ndarray:
        random_part = super().sample_velocities(pos, potential, rng)
        return add_rotation(pos, random_part, self.f_rot)

    def summary(self) -> dict[str, float]:
        return {"scale_radius": self.scale_radius, "cut_radius": self.truncation_radius,
                "f_rot": self.f_rot, "half_number_radius": self.half_number_radius()}


def azimuthal_unit_vectors(pos: np.ndarray, spin: np.ndarray | None = None) -> np.ndarray:
    """Unit vectors e_phi = spin x R_hat of rotation about ``spin`` (default z) at ``pos``, shape (n, 3)."""
    spin = np.array([0.0, 0.0, 1.0]) if spin is None else np.asarray(spin, dtype=float)
    e_phi = np.cross(spin / np.linalg.norm(spin), pos)
    norm = np.linalg.norm(e_phi, axis=1, keepdims=True)
    return e_phi / np.where(norm > 0.0, norm, 1.0)


def add_rotation(pos: np.ndarray, vel: np.ndarray, f_rot: float) -> np.ndarray:
    """Return velocities with rotation about z such that T_rot / T_kin = f_rot and T_kin unchanged.

    With e_phi the azimuthal unit vectors, the mean streaming of ``vel`` is removed (u' = u - <u_phi>
    e_phi, so sum u'_phi = 0), then ``v = alpha u' + beta e_phi`` with ``beta^2 = 2 f_rot T / N`` and
    ``alpha^2 = 2 (1 - f_rot) T / sum |u'|^2``. The cross term vanishes because sum u'_phi = 0.
    """
    e_phi = azimuthal_unit_vectors(pos)
    n = len(vel)
    t_kin = 0.5 * float(np.sum(vel**2))
    v_phi = np.sum(vel * e_phi, axis=1)
    u = vel - v_phi.mean() * e_phi
    k = float(np.sum(u**2))
    beta = math.sqrt(2.0 * f_rot * t_kin / n)
    alpha = math.sqrt(2.0 * (1.0 - f_rot) * t_kin / k) if k > 0.0 else 0.0
    return alpha * u + beta * e_phi


def rotation_energy_fraction(pos: np.ndarray, vel: np.ndarray, spin: np.ndarray | None = None) -> float:
    """Measured T_rot / T_kin of equal-weight tracers about ``spin`` (see :class:`GlobularClusterSystem`)."""
    v_phi = np.sum(vel * azimuthal_unit_vectors(pos, spin), axis=1)
    t_rot = 0.5 * len(vel) * v_phi.mean() ** 2
    return float(t_rot / (0.5 * np.sum(vel**2)))


#: Every component class by :attr:`Component.name` (filled by :func:`register_component`; the disk is
#: registered by :mod:`gcs_hpc.galaxy.disk`, which importing :mod:`gcs_hpc.galaxy` always loads).
COMPONENTS: dict[str, type[Component]] = {}


def register_component(cls: type[Component]) -> type[Component]:
    """Class decorator adding a component class to :data:`COMPONENTS` under ``cls.name``.

    Raises
    ------
    TypeError
        If another class is registered under the same name or with the same component code.
    """
    for other in COMPONENTS.values():
        if other is not cls and (other.name == cls.name or other.code == cls.code):
            raise TypeError(f"component {cls.__name__} (name {cls.name!r}, code {cls.code}) clashes with "
                            f"{other.__name__} (name {other.name!r}, code {other.code})")
    COMPONENTS[cls.name] = cls
    return cls


for _cls in (NFWHalo, HernquistBulge, GlobularClusterSystem):
    register_component(_cls)

__all__ = ["Component", "SphericalComponent", "NFWHalo", "HernquistBulge", "GlobularClusterSystem",
           "COMPONENTS", "register_component", "add_rotation", "rotation_energy_fraction",
           "azimuthal_unit_vectors"]
