"""The unit system of gcs_hpc and the physical constants it uses: the one place for both.

All physics code works in the simulation units of Kaur et al. (2021), section 2 (inherited from
Bekki 2013): length 17.5 kpc, mass 6e10 Msun and G = 1. Velocity and time units follow from those three.
Everything a user sees (store, CLI output, maps) is in physical units: kpc, Msun, km/s, Gyr.

Sources
-------
- G = 4.300917270e-6 kpc (km/s)^2 / Msun: CODATA 2018 G with the IAU 2015 nominal solar mass parameter
  (astropy.constants.G in these units).
- 1 kpc = 3.0856775814913673e16 km (IAU 2012 astronomical unit, parsec by definition).
- 1 Gyr = 3.15576e16 s (Julian year of 365.25 days).
- 1 arcsec = pi / (180 * 3600) rad.
"""

from __future__ import annotations

import math

#: Newton's constant in kpc (km/s)^2 / Msun.
G_KPC_KMS2_PER_MSUN: float = 4.300917270e-6
#: Kilometres in one kiloparsec.
KM_PER_KPC: float = 3.0856775814913673e16
#: Seconds in one gigayear (Julian years).
S_PER_GYR: float = 3.15576e16
#: Radians in one arcsecond.
RAD_PER_ARCSEC: float = math.pi / (180.0 * 3600.0)
#: Kiloparsecs per megaparsec.
KPC_PER_MPC: float = 1.0e3

#: Simulation length unit in kpc (the stellar disk size R_s = R_d of the fiducial model).
LENGTH_KPC: float = 17.5
#: Simulation mass unit in Msun (the fiducial stellar disk mass).
MASS_MSUN: float = 6.0e10
#: G in simulation units.
G: float = 1.0
#: Simulation velocity unit in km/s: sqrt(G M / L) ~ 121.4 km/s.
VELOCITY_KMS: float = math.sqrt(G_KPC_KMS2_PER_MSUN * MASS_MSUN / LENGTH_KPC)
#: Simulation time unit in Gyr: L / V ~ 0.141 Gyr.
TIME_GYR: float = LENGTH_KPC * KM_PER_KPC / VELOCITY_KMS / S_PER_GYR

#: Critical density of the Universe today in Msun / kpc^3 for H0 = 70 km/s/Mpc
#: (rho_crit = 3 H0^2 / (8 pi G)); used to define the NFW virial radius (200 rho_crit, as Neto et al. 2007).
HUBBLE_KMS_PER_MPC: float = 70.0
HUBBLE_LITTLE_H: float = HUBBLE_KMS_PER_MPC / 100.0
RHO_CRIT_MSUN_PER_KPC3: float = (
    3.0 * (HUBBLE_KMS_PER_MPC / KPC_PER_MPC) ** 2 / (8.0 * math.pi * G_KPC_KMS2_PER_MSUN)
)
#: Overdensity defining the virial radius (Neto et al. 2007 use M_200 with respect to rho_crit).
VIRIAL_OVERDENSITY: float = 200.0


def kpc_to_sim(length_kpc: float) -> float:
    """Convert a length from kpc to simulation units."""
    return length_kpc / LENGTH_KPC


def sim_to_kpc(length_sim: float) -> float:
    """Convert a length from simulation units to kpc."""
    return length_sim * LENGTH_KPC


def msun_to_sim(mass_msun: float) -> float:
    """Convert a mass from Msun to simulation units."""
    return mass_msun / MASS_MSUN


def sim_to_msun(mass_sim: float) -> float:
    """Convert a mass from simulation units to Msun."""
    return mass_sim * MASS_MSUN


def kms_to_sim(velocity_kms: float) -> float:
    """Convert a velocity from km/s to simulation units."""
    return velocity_kms / VELOCITY_KMS


def sim_to_kms(velocity_sim: float) -> float:
    """Convert a velocity from simulation units to km/s."""
    return velocity_sim * VELOCITY_KMS


def sim_to_gyr(time_sim: float) -> float:
    """Convert a time from simulation units to Gyr."""
    return time_sim * TIME_GYR
