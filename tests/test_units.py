"""The unit system: derived units against the paper's numbers, conversions round-trip."""

from __future__ import annotations

import math

import pytest

from gcs_hpc import units


def test_derived_units_match_the_paper():
    # paper section 2: 17.5 kpc, 6e10 Msun, G = 1 -> ~121 km/s and ~0.141 Gyr; 0.04 units ~ 5 km/s
    assert units.VELOCITY_KMS == pytest.approx(121.4, abs=0.1)
    assert units.TIME_GYR == pytest.approx(0.1409, abs=5e-4)
    assert 0.04 * units.VELOCITY_KMS == pytest.approx(4.86, abs=0.01)


def test_velocity_and_time_units_follow_from_g():
    v = math.sqrt(units.G_KPC_KMS2_PER_MSUN * units.MASS_MSUN / units.LENGTH_KPC)
    assert units.VELOCITY_KMS == pytest.approx(v, rel=1e-15)
    # 1 km/s ~ 1.0227 kpc/Gyr
    kpc_per_gyr_per_kms = units.S_PER_GYR / units.KM_PER_KPC
    assert kpc_per_gyr_per_kms == pytest.approx(1.0227, abs=1e-4)
    assert units.TIME_GYR == pytest.approx(units.LENGTH_KPC / (units.VELOCITY_KMS * kpc_per_gyr_per_kms))


def test_critical_density():
    # 2.775e11 h^2 Msun / Mpc^3 for h = 0.7 -> 136 Msun / kpc^3
    assert units.RHO_CRIT_MSUN_PER_KPC3 == pytest.approx(2.775e11 * 0.49 / 1e9, rel=2e-3)
    assert units.VIRIAL_OVERDENSITY == 200.0


@pytest.mark.parametrize("to_sim, from_sim, value", [
    (units.kpc_to_sim, units.sim_to_kpc, 245.0),
    (units.msun_to_sim, units.sim_to_msun, 1.0e12),
    (units.kms_to_sim, units.sim_to_kms, 5.0),
])
def test_conversions_round_trip(to_sim, from_sim, value):
    assert from_sim(to_sim(value)) == pytest.approx(value, rel=1e-14)


def test_conversion_values():
    assert units.kpc_to_sim(17.5) == 1.0
    assert units.msun_to_sim(6e10) == 1.0
    assert units.sim_to_kms(1.0) == units.VELOCITY_KMS
    assert units.sim_to_gyr(20.0) == pytest.approx(2.818, abs=1e-3)
    assert units.RAD_PER_ARCSEC * 3600 * 180 == pytest.approx(math.pi)
