"""Isolated disk and merger models from a :class:`~gcs_hpc.specs.ModelSpec`.

Scalings with the halo mass M_h (documented choices where the paper is silent)
--------------------------------------------------------------------------------
- Virial radius: R_vir = R_200, the radius of mean density 200 rho_crit (H0 = 70 km/s/Mpc), the
  definition of Neto et al. (2007); 206 kpc for 1e12 Msun. (The paper's 245 kpc corresponds to a mean
  density of about 120 rho_crit, close to the Bryan & Norman 1998 virial overdensity; we keep R_200 so
  that R_vir and the c-M relation use one definition.)
- Concentration when ``c`` is None: c_200 = 4.67 (M_200 / 1e14 h^-1 Msun)^-0.11 (Neto et al. 2007),
  8.1 for 1e12 Msun with h = 0.7.
- Disk size R_s = 17.5 kpc (M_h / 1e12 Msun)^(1/3), following the virial radius; R0 = 0.2 R_s,
  z0 = 0.04 R_s, the disk truncated at R_s. R_d (disk size of the paper) = R_s.
- Bulge size R_b = C_b M_b^0.5 with R_b = 3.5 kpc at 1e10 Msun; Hernquist scale a = 0.2 R_b.
- GCS: a = 0.3 R_d, cut at 3 R_d, f_rot and N_gc from the spec.

Softened equilibrium: velocities (disk rotation and epicyclic dispersions, the Jeans dispersions of halo,
bulge and GCS) are computed in the Plummer-softened field of the preset's softening length, the field the
N-body run will feel (:mod:`gcs_hpc.galaxy.potential`). The paper does not say how its ICs treat
softening; at its 320 pc the difference is small, at the ``quick`` preset's 700 pc (= z0 = the bulge's
Hernquist scale) Newtonian ICs rotate ~5% too fast and have a bulge core too hot for the softened field,
which showed as an expanding ring and an expanding bulge core in the first rotation.

Particle numbers (per galaxy, from the preset): n_halo and n_disk; n_bulge = round(f_b n_disk) so bulge
and disk particles have (almost exactly) the same mass; n_gc from the galaxy spec. The secondary of a
merger has its masses AND particle numbers scaled by m2 (at least one particle each), so all particles of a
kind have the same mass in both galaxies.

Random numbers: ``SeedSequence(seed).spawn(2)`` gives one stream per galaxy (the primary's particles do not
depend on the kind of model), each spawned again into one stream per component (halo, disk, bulge, GC),
so changing N_gc leaves the stars and dark matter untouched.

Mergers: galaxy 2 sits at +separation R_d (of the primary) on the x axis from galaxy 1 and moves relative
to it along +y with speed f_v v_c(d), where v_c(d)^2 = G (M_1(<d) + M_2(<d)) / d uses the spherically
averaged mass profiles of BOTH galaxies (the circular speed of the relative two-body orbit, so f_v = 1 is
circular for point-like galaxies). Spin of galaxy i: (sin theta_i, 0, cos theta_i), i.e. the paper's angle
theta_i to the z axis with azimuth phi = 0 measured from the x axis (a rotation of the disk about the
y axis). The whole system is moved to its centre-of-mass frame (massive particles define it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gcs_hpc import units
from gcs_hpc.galaxy.components import Component, GlobularClusterSystem, HernquistBulge, NFWHalo
from gcs_hpc.galaxy.disk import ExponentialDisk
from gcs_hpc.galaxy.potential import TotalPotential
from gcs_hpc.galaxy.sampling import rotation_about_y
from gcs_hpc.particles import Particles
from gcs_hpc.specs import GalaxySpec, ModelSpec

#: Disk size R_s of the fiducial 1e12 Msun galaxy, kpc (paper Table 1).
FIDUCIAL_DISK_SIZE_KPC: float = 17.5
FIDUCIAL_HALO_MASS_MSUN: float = 1.0e12
#: R0 / R_s and z0 / R_s (paper section 2.1).
DISK_SCALE_LENGTH_FRACTION: float = 0.2
DISK_SCALE_HEIGHT_FRACTION: float = 0.04
#: Bulge size R_b = 3.5 kpc at M_b = 1e10 Msun, R_b proportional to M_b^0.5.
BULGE_SIZE_KPC_AT_1E10: float = 3.5
#: GCS scale a_gc / R_d and cut-off radius R_c / R_d (paper section 2.1.1).
GCS_SCALE_FRACTION: float = 0.3
GCS_CUT_FRACTION: float = 3.0
#: Neto et al. (2007) c-M relation: c200 = A (M200 / M_pivot h^-1 Msun)^B.
NETO_A, NETO_B, NETO_PIVOT_MSUN_H = 4.67, -0.11, 1.0e14


def neto_concentration(m200_msun: float) -> float:
    """c_200 of Neto et al. (2007) for a halo of M_200 in Msun (h from :mod:`gcs_hpc.units`)."""
    return NETO_A * (m200_msun * units.HUBBLE_LITTLE_H / NETO_PIVOT_MSUN_H) ** NETO_B


def virial_radius_kpc(m200_msun: float) -> float:
    """R_200 in kpc: (3 M / (4 pi Delta rho_crit))^(1/3) with Delta = VIRIAL_OVERDENSITY."""
    return (3.0 * m200_msun / (4.0 * math.pi * units.VIRIAL_OVERDENSITY
                               * units.RHO_CRIT_MSUN_PER_KPC3)) ** (1.0 / 3.0)


def disk_size_kpc(galaxy: GalaxySpec) -> float:
    """Disk size R_d = R_s of ``galaxy`` in kpc: 17.5 kpc (M_halo / 1e12 Msun)^(1/3)."""
    return _disk_size_kpc(galaxy.M_halo)


def _disk_size_kpc(m_halo_msun: float) -> float:
    return FIDUCIAL_DISK_SIZE_KPC * (m_halo_msun / FIDUCIAL_HALO_MASS_MSUN) ** (1.0 / 3.0)


@dataclass
class GalaxyModel:
    """The analytic model of one galaxy (simulation units): components and their total field."""

    halo: NFWHalo
    disk: ExponentialDisk
    bulge: HernquistBulge | None
    gcs: GlobularClusterSystem
    potential: TotalPotential
    disk_size: float

    @classmethod
    def from_spec(cls, galaxy: GalaxySpec, mass_scale: float = 1.0, softening: float = 0.0) -> GalaxyModel:
        """Build the model of ``galaxy`` with all masses scaled by ``mass_scale`` (a merger's m2), its
        velocities in equilibrium in the field Plummer-softened by ``softening`` (simulation units)."""
        m_halo = galaxy.M_halo * mass_scale
        conc = galaxy.c if galaxy.c is not None else neto_concentration(m_halo)
        halo = NFWHalo(units.msun_to_sim(m_halo), units.kpc_to_sim(virial_radius_kpc(m_halo)), conc)
        r_s = units.kpc_to_sim(_disk_size_kpc(m_halo))
        m_disk = galaxy.f_bary * m_halo
        disk = ExponentialDisk(units.msun_to_sim(m_disk), DISK_SCALE_LENGTH_FRACTION * r_s,
                               DISK_SCALE_HEIGHT_FRACTION * r_s, r_s)
        bulge = None
        if galaxy.f_b > 0.0:
            m_bulge = galaxy.f_b * m_disk
            size = BULGE_SIZE_KPC_AT_1E10 * math.sqrt(m_bulge / 1.0e10)
            bulge = HernquistBulge(units.msun_to_sim(m_bulge), units.kpc_to_sim(size))
        gcs = GlobularClusterSystem(GCS_SCALE_FRACTION * r_s, GCS_CUT_FRACTION * r_s, galaxy.f_rot)
        massive: list[Component] = [halo, disk] + ([bulge] if bulge is not None else [])
        return cls(halo, disk, bulge, gcs, TotalPotential(massive, softening), r_s)

    @property
    def components(self) -> list[Component]:
        """Components in the order halo, disk, bulge (if any), GCS."""
        return [self.halo, self.disk] + ([self.bulge] if self.bulge is not None else []) + [self.gcs]


def particle_numbers(galaxy: GalaxySpec, spec: ModelSpec, mass_scale: float = 1.0) -> dict[str, int]:
    """Particle numbers of one galaxy: preset numbers scaled by ``mass_scale`` (at least 1 each)."""
    n_disk = max(1, round(mass_scale * spec.preset.n_disk))
    return {
        "halo": max(1, round(mass_scale * spec.preset.n_halo)),
        "disk": n_disk,
        "bulge": round(galaxy.f_b * n_disk),
        "gc": max(1, round(mass_scale * galaxy.n_gc)),
    }


def realise_galaxy(model: GalaxyModel, numbers: dict[str, int], seed: np.random.SeedSequence,
                   galaxy_index: int = 0) -> Particles:
    """Sample one galaxy in its own frame (spin along z), recentred on its own centre of mass."""
    streams = seed.spawn(4)
    parts = []
    for component, stream in zip((model.halo, model.disk, model.bulge, model.gcs), streams):
        n = numbers[component.name] if component is not None else 0
        if component is None or n == 0:
            continue
        pos, vel = component.sample(n, model.potential, np.random.default_rng(stream))
        mass = np.full(n, component.mass / n)
        parts.append((pos, vel, mass, np.full(n, component.code, dtype=np.int8)))
    pos, vel, mass, code = (np.concatenate(x) for x in zip(*parts))
    galaxy = np.full(len(mass), galaxy_index, dtype=np.int8)
    particles = Particles(pos, vel, mass, code, galaxy)
    return to_centre_of_mass_frame(particles)


def to_centre_of_mass_frame(particles: Particles) -> Particles:
    """Shift positions and velocities so the massive particles' centre of mass rests at the origin."""
    m = particles.mass
    total = m.sum()
    particles.pos = particles.pos - (m @ particles.pos) / total
    particles.vel = particles.vel - (m @ particles.vel) / total
    return particles


def orbit_circular_speed(primary: GalaxyModel, secondary: GalaxyModel, distance: float) -> float:
    """v_c(d) of the relative orbit: sqrt(G (M_1(<d) + M_2(<d)) / d), simulation units."""
    m = primary.potential.enclosed_mass(np.array([distance]))[0]
    m += secondary.potential.enclosed_mass(np.array([distance]))[0]
    return math.sqrt(units.G * m / distance)


def galaxy_models(spec: ModelSpec) -> list[GalaxyModel]:
    """The analytic models of the galaxies of ``spec`` (one, or two for a merger)."""
    eps = units.kpc_to_sim(spec.preset.softening_kpc)
    models = [GalaxyModel.from_spec(spec.galaxy, softening=eps)]
    if spec.merger is not None:
        models.append(GalaxyModel.from_spec(spec.galaxy, mass_scale=spec.merger.m2, softening=eps))
    return models


def realise_galaxies(spec: ModelSpec) -> tuple[list[GalaxyModel], list[Particles]]:
    """Each galaxy of ``spec`` sampled in its own frame (spin along z, own centre of mass at rest)."""
    models = galaxy_models(spec)
    seeds = np.random.SeedSequence(spec.seed).spawn(2)
    scales = [1.0] + ([spec.merger.m2] if spec.merger is not None else [])
    realised = [realise_galaxy(model, particle_numbers(spec.galaxy, spec, scale), seed, i)
                for i, (model, seed, scale) in enumerate(zip(models, seeds, scales))]
    return models, realised


def build_model(spec: ModelSpec) -> Particles:
    """Build the initial conditions of ``spec`` (NumPy float64, simulation units, centre-of-mass frame).

    The same spec gives bit-identical particles. GCs have component code GC and mass 0.
    """
    models, parts = realise_galaxies(spec)
    if spec.merger is None:
        return parts[0]
    merger = spec.merger
    distance = merger.separation * models[0].disk_size
    speed = merger.f_v * orbit_circular_speed(models[0], models[1], distance)
    m1, m2 = parts[0].mass.sum(), parts[1].mass.sum()
    offsets = [(-m2 / (m1 + m2), 0.0), (m1 / (m1 + m2), 0.0)]
    thetas = (merger.theta_1, merger.theta_2)
    pos, vel = [], []
    for p, (frac, _), theta in zip(parts, offsets, thetas):
        rot = rotation_about_y(theta)
        pos.append(p.pos @ rot.T + np.array([frac * distance, 0.0, 0.0]))
        vel.append(p.vel @ rot.T + np.array([0.0, frac * speed, 0.0]))
    columns = (np.concatenate([getattr(p, k) for p in parts]) for k in ("mass", "component", "galaxy"))
    merged = Particles(np.concatenate(pos), np.concatenate(vel), *columns)
    return to_centre_of_mass_frame(merged)
