"""Each component's sampled profile against its analytic one; the disk's field against Freeman (1970).
What every component must do (density, enclosed mass, sampling, pickling) is its contract:
tests/galaxy/contract_components.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import i0, i1, k0, k1

from gcs_hpc import units
from gcs_hpc.galaxy.components import GlobularClusterSystem, add_rotation, rotation_energy_fraction
from gcs_hpc.galaxy.disk import ExponentialDisk
from gcs_hpc.galaxy.models import GalaxyModel, neto_concentration, virial_radius_kpc
from gcs_hpc.specs import GalaxySpec

N_SAMPLE = 20_000
#: Smallest acceptable KS p-value (seeds are fixed, so this is a bound on a deterministic number).
P_MIN = 1.0e-3


@pytest.fixture(scope="module")
def fiducial() -> GalaxyModel:
    return GalaxyModel.from_spec(GalaxySpec())


def _nfw_cdf(r, halo):
    m = lambda x: np.log1p(x) - x / (1 + x)  # noqa: E731
    return m(np.minimum(r, halo.truncation_radius) / halo.scale_radius) / m(halo.concentration)


def test_nfw_virial_radius_and_neto_concentration():
    # R_200 of 1e12 Msun for H0 = 70: rho_crit = 136 Msun/kpc^3 -> 206 kpc
    assert virial_radius_kpc(1e12) == pytest.approx(206.3, abs=0.3)
    # Neto et al. 2007: c200 = 4.67 (M / 1e14 h^-1 Msun)^-0.11, M = 1e12 Msun = 7e11 h^-1 Msun
    assert neto_concentration(1e12) == pytest.approx(4.67 * (7e11 / 1e14) ** -0.11, rel=1e-12)
    assert 7.9 < neto_concentration(1e12) < 8.2
    assert neto_concentration(1e13) < neto_concentration(1e12)


def test_halo_radii_follow_truncated_nfw(fiducial):
    halo = fiducial.halo
    r = np.linalg.norm(halo.sample_positions(N_SAMPLE, np.random.default_rng(1)), axis=1)
    assert r.max() <= halo.truncation_radius
    assert stats.kstest(r, lambda x: _nfw_cdf(x, halo)).pvalue > P_MIN
    # enclosed mass at r_s: analytic fraction m(1)/m(c), binomial noise
    frac = np.mean(r < halo.scale_radius)
    expect = float(_nfw_cdf(halo.scale_radius, halo))
    assert abs(frac - expect) < 4 * math.sqrt(expect * (1 - expect) / N_SAMPLE)


def test_bulge_radii_follow_truncated_hernquist(fiducial):
    bulge = fiducial.bulge
    a, rb = bulge.scale_radius, bulge.truncation_radius
    assert a == pytest.approx(0.2 * rb)
    # R_b = 3.5 kpc (M_b / 1e10)^0.5 with M_b = 0.17 * 6e10
    assert units.sim_to_kpc(rb) == pytest.approx(3.5 * math.sqrt(1.02), rel=1e-12)
    r = np.linalg.norm(bulge.sample_positions(N_SAMPLE, np.random.default_rng(2)), axis=1)
    cdf = lambda x: (np.minimum(x, rb) / (np.minimum(x, rb) + a)) ** 2 / (rb / (rb + a)) ** 2  # noqa: E731
    assert stats.kstest(r, cdf).pvalue > P_MIN
    # density from the formula matches the derivative of the enclosed mass
    x = np.array([0.3 * a, a, 3 * a])
    dm = (bulge.enclosed_mass(x * 1.0001) - bulge.enclosed_mass(x * 0.9999)) / (0.0002 * x)
    np.testing.assert_allclose(dm / (4 * np.pi * x**2), bulge.density(x), rtol=1e-4)


def test_disk_radii_and_heights(fiducial):
    disk = fiducial.disk
    pos = disk.sample_positions(N_SAMPLE, np.random.default_rng(3))
    R = np.hypot(pos[:, 0], pos[:, 1])
    xt = disk.truncation_radius / disk.scale_length
    assert xt == pytest.approx(5.0)
    cdf_R = lambda r: (1 - (1 + r / disk.scale_length) * np.exp(-r / disk.scale_length)) / (  # noqa: E731
        1 - (1 + xt) * np.exp(-xt))
    assert stats.kstest(R, cdf_R).pvalue > P_MIN
    cdf_z = lambda z: 0.5 * (1 + np.tanh(z / disk.scale_height))  # noqa: E731
    assert stats.kstest(pos[:, 2], cdf_z).pvalue > P_MIN
    assert stats.kstest(np.arctan2(pos[:, 1], pos[:, 0]), "uniform", args=(-np.pi, 2 * np.pi)).pvalue > P_MIN


def test_thin_disk_rotation_curve_matches_freeman():
    """A thin, widely truncated disk has the circular speed of Freeman's (1970) exponential disk."""
    disk = ExponentialDisk(mass=1.0, scale_length=1.0, scale_height=0.01, truncation_radius=10.0)
    R, vc2 = disk.midplane_circular_speed_squared()
    for radius in (1.0, 2.0, 3.0):
        i = np.searchsorted(R, radius)
        y = R[i] / 2
        freeman = 4 * np.pi * disk.central_surface_density * y**2 * (i0(y) * k0(y) - i1(y) * k1(y))
        assert vc2[i] / freeman == pytest.approx(1.0, abs=0.015)


def test_gcs_radii_follow_plummer_like_profile(fiducial):
    gcs = fiducial.gcs
    a, rc = gcs.scale_radius, gcs.truncation_radius
    assert a == pytest.approx(0.3 * fiducial.disk_size) and rc == pytest.approx(3 * fiducial.disk_size)
    number = lambda r: r**2 * (a**2 + r**2) ** -1.75  # noqa: E731
    total = integrate.quad(number, 0, rc)[0]
    cdf = np.vectorize(lambda x: integrate.quad(number, 0, min(x, rc))[0] / total)
    r = np.linalg.norm(gcs.sample_positions(5000, np.random.default_rng(5)), axis=1)
    assert r.max() <= rc
    assert stats.kstest(r, cdf).pvalue > P_MIN
    half = gcs.half_number_radius()
    assert cdf(half) == pytest.approx(0.5, abs=2e-3)


def test_gcs_jeans_dispersion_matches_quadrature(fiducial):
    """Sampled GC dispersions in radial shells against the Jeans integral done by scipy quad."""
    gcs = GlobularClusterSystem(fiducial.gcs.scale_radius, fiducial.gcs.truncation_radius, f_rot=0.0)
    pot = fiducial.potential
    pos, vel = gcs.sample(40_000, pot, np.random.default_rng(6))
    r = np.linalg.norm(pos, axis=1)

    def sigma2(x):  # Simpson's rule on a linear grid (the model integrates trapezoids in ln r)
        s = np.linspace(x, gcs.truncation_radius, 4001)
        integrand = gcs.density(s) * pot.enclosed_mass(s) / s**2
        return integrate.simpson(integrand, x=s) / gcs.density(x)

    for lo, hi in ((0.1, 0.2), (0.4, 0.6), (1.0, 1.4)):
        sel = (r > lo) & (r < hi)
        measured = np.mean(vel[sel] ** 2)  # per component, isotropic, after f_rot = 0 rescaling
        expect = np.mean([sigma2(x) for x in r[sel][:200]])
        assert measured == pytest.approx(expect, rel=0.08)


@pytest.mark.parametrize("f_rot", [0.0, 0.3, 0.9, 1.0])
def test_add_rotation_sets_f_rot_and_keeps_kinetic_energy(f_rot):
    rng = np.random.default_rng(7)
    pos, vel = rng.normal(size=(200, 3)), rng.normal(size=(200, 3))
    out = add_rotation(pos, vel, f_rot)
    assert rotation_energy_fraction(pos, out) == pytest.approx(f_rot, abs=1e-12)
    assert np.sum(out**2) == pytest.approx(np.sum(vel**2), rel=1e-12)
    if f_rot > 0:
        assert np.mean(np.cross(pos, out)[:, 2]) > 0  # rotates about +z


def test_softened_field_tends_to_newton_and_weakens_the_centre(fiducial):
    from gcs_hpc.galaxy.potential import TotalPotential

    massive = [fiducial.halo, fiducial.disk, fiducial.bulge]
    r = np.array([0.01, 0.05, 0.2, 0.5, 2.0, 8.0])
    newton = fiducial.potential.enclosed_mass(r)
    tiny = TotalPotential(massive, softening=1e-6).effective_enclosed_mass(r)
    np.testing.assert_allclose(tiny, newton, rtol=5e-3)
    soft = TotalPotential(massive, softening=0.04).effective_enclosed_mass(r)
    assert np.all(soft[:3] < 0.95 * newton[:3])  # within a few softening lengths the pull is weaker
    np.testing.assert_allclose(soft[-2:], newton[-2:], rtol=5e-3)  # far out it is Newton's


def test_softened_disk_field_matches_a_direct_sum_over_its_particles():
    """The ICs' softened midplane v_c^2 of the disk against the Plummer direct sum of sampled particles."""
    from gcs_hpc.nbody import get_backend

    eps = units.kpc_to_sim(0.7)
    disk = GalaxyModel.from_spec(GalaxySpec()).disk
    pos = disk.sample_positions(100_000, np.random.default_rng(4))
    R, vc2 = disk.midplane_circular_speed_squared(eps)
    radii = np.array([0.05, 0.1, 0.2, 0.4, 0.6])
    angles = np.linspace(0.0, 2.0 * np.pi, 32, endpoint=False)
    points = np.array([[x * np.cos(a), x * np.sin(a), 0.0] for x in radii for a in angles])
    acc, _ = get_backend("compiled").accelerations(points, pos, np.full(len(pos), disk.mass / len(pos)), eps)
    measured = -np.sum(points[:, :2] * acc[:, :2], axis=1).reshape(len(radii), -1).mean(axis=1)
    np.testing.assert_allclose(measured, np.interp(radii, R, vc2), rtol=0.02)
    newton = np.interp(radii, *disk.midplane_circular_speed_squared())
    assert np.all(measured[:3] < 0.93 * newton[:3])  # the softening matters here, so the test can fail
