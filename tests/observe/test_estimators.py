"""Classic estimators against analytic tracer populations of known mass (see populations.py), beyond the
contract every registered estimator passes (tests/observe/contract_estimators.py: its own analytic case,
scale invariance, bad input, pickling, seeded bootstrap)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.observe.estimators import (ESTIMATORS, ProjectedMassEstimator, TracerMassEstimator,
                                        VirialMassEstimator, default_estimators, get_estimator,
                                        tme_projection_integral)
from gcs_hpc.observe.tracer_geometry import (PAIR_BLOCK_BYTES, fit_projected_slope, fit_rotation,
                                             projected_pair_sum)
from gcs_hpc.units import G_KPC_KMS2_PER_MSUN as G

from . import populations as pop

M_POINT = 5.0e11


def _rel(a, b):
    return abs(a / b - 1.0)


def test_projection_integral_matches_closed_forms():
    # Kepler isotropic: pi/4; isothermal isotropic: 1 (WEA10 limits)
    assert tme_projection_integral(1.0, 0.0) == pytest.approx(math.pi / 4.0, rel=1e-12)
    assert tme_projection_integral(0.0, 0.0) == pytest.approx(1.0, rel=1e-12)
    # radial orbits: only the cos^2 term survives
    assert tme_projection_integral(1.0, 1.0) == pytest.approx(math.pi / 16.0, rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tme_kepler_exact_distribution_function(seed):
    rng = np.random.default_rng(seed)
    pos, vel = pop.kepler_power_law(rng, 20000, mass=M_POINT, gamma=3.5, r_in=1.0, r_out=50.0)
    x, y, v = pop.observe(rng, pos, vel)
    est = TracerMassEstimator(alpha=1.0, beta=0.0, gamma=3.5)
    assert _rel(est.mass(x, y, v), M_POINT) < 0.04


def test_tme_kepler_anisotropic():
    rng = np.random.default_rng(4)
    pos, vel = pop.kepler_anisotropic(rng, 20000, mass=M_POINT, gamma=3.0 + 0.2, beta=0.5, r_in=1.0,
                                      r_out=40.0)
    x, y, v = pop.observe(rng, pos, vel)
    right = TracerMassEstimator(alpha=1.0, beta=0.5, gamma=3.2).mass(x, y, v)
    wrong = TracerMassEstimator(alpha=1.0, beta=0.0, gamma=3.2).mass(x, y, v)
    assert _rel(right, M_POINT) < 0.04
    # ignoring radial anisotropy overestimates: C(beta=0)/C(beta=0.5) = 4.2/3.2 * 2.5/4
    assert wrong / right == pytest.approx(4.2 / 3.2 * 2.5 / 4.0, rel=0.02)


def test_tme_isothermal_mass_within_r_out():
    rng = np.random.default_rng(5)
    v0, r_out = 220.0, 60.0
    pos, vel = pop.isothermal(rng, 20000, v0=v0, gamma=3.2, r_in=2.0, r_out=r_out)
    x, y, v = pop.observe(rng, pos, vel)
    m_true = v0**2 * r_out / G
    assert _rel(TracerMassEstimator(alpha=0.0, gamma=3.2, r_out_kpc=r_out).mass(x, y, v), m_true) < 0.04
    # observer's r_out = largest projected radius, just inside the 3D edge for a large sample
    observed = TracerMassEstimator(alpha=0.0, gamma=3.2).estimate(x, y, v, n_bootstrap=0)
    assert 0.98 * r_out < observed.r_out_kpc < r_out
    assert _rel(observed.mass_msun, m_true) < 0.06


@pytest.mark.parametrize("a,r_t,r_out,max_dex", [(5.0, 40.0, 200.0, 0.06), (10.0, 20.0, 150.0, 0.12)])
def test_tme_hernquist_potential_within_known_bias(a, r_t, r_out, max_dex):
    """A Hernquist halo (scale a) is no power law. With alpha the tracer-averaged local slope
    -dln v_c^2/dln r = (r - a)/(r + a) and gamma fitted from the projected tracer profile, the TME is
    unbiased where the tracers lie mostly beyond a (Kepler-like) and ~0.1 dex high where they straddle a
    (WEA10 section 4 find biases of this size)."""
    rng = np.random.default_rng(6)
    m_h = 1.0e12
    pos, vel = pop.jeans_population(    # tracers: Hernquist profile of scale r_t, cut at r_out
        rng, 20000,
        tracer_cumulative_inverse=lambda u: r_t * np.sqrt(u) / (1.0 - np.sqrt(u)),
        tracer_density=lambda r: 1.0 / (r * (r + r_t) ** 3),
        enclosed_mass=lambda r: m_h * r**2 / (r + a) ** 2, r_max=r_out)
    r = np.linalg.norm(pos, axis=1)
    x, y, v = pop.observe(rng, pos, vel)
    alpha = float(np.mean((r - a) / (r + a)))
    m_true = m_h * r_out**2 / (r_out + a) ** 2
    m_est = TracerMassEstimator(alpha=alpha, beta=0.0).mass(x, y, v)
    assert abs(math.log10(m_est / m_true)) < max_dex


def test_pme_radial_orbits_point_mass_complete_population():
    orbits, beta = "radial", 1.0
    rng = np.random.default_rng(7)
    r_t = 5.0
    pos, vel = pop.jeans_population(
        rng, 20000,
        tracer_cumulative_inverse=lambda u: r_t * np.sqrt(u) / (1.0 - np.sqrt(u)),
        tracer_density=lambda r: 1.0 / (r * (r + r_t) ** 3),
        enclosed_mass=lambda r: M_POINT + 0.0 * r, beta=beta, r_max=1.0e4)
    x, y, v = pop.observe(rng, pos, vel)
    assert _rel(ProjectedMassEstimator(orbits).mass(x, y, v), M_POINT) < 0.05


def _pair_sum_full_matrix(x, y):
    """The former implementation: the whole (distinct positions)^2 matrix at once."""
    pts, counts = np.unique(np.stack([x, y], axis=1), axis=0, return_counts=True)
    n = int(counts.sum())
    diff = pts[:, None, :] - pts[None, :, :]
    sep = np.sqrt(np.sum(diff * diff, axis=-1))
    np.fill_diagonal(sep, np.inf)
    c = counts.astype(np.float64)
    return 0.5 * float(c @ (1.0 / sep) @ c) / (0.5 * (n * n - float(np.sum(c * c)))) * 0.5 * n * (n - 1)


@pytest.mark.parametrize("block_bytes", [1, 5000, 100_000, PAIR_BLOCK_BYTES])
def test_pair_sum_in_blocks_equals_full_matrix(block_bytes):
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(2, 300)) * 8.0
    idx = rng.integers(0, 300, 300)                  # a bootstrap resample: duplicated positions
    for xs, ys in ((x, y), (x[idx], y[idx])):
        assert projected_pair_sum(xs, ys, block_bytes) == pytest.approx(_pair_sum_full_matrix(xs, ys),
                                                                        rel=1e-12)
    # and by hand on three points: 1/3 + 1/4 + 1/5
    assert projected_pair_sum(np.array([0.0, 3.0, 0.0]), np.array([0.0, 0.0, 4.0]), block_bytes) == (
        pytest.approx(1 / 3 + 1 / 4 + 1 / 5, rel=1e-14))


def test_virial_memory_is_bounded_for_many_tracers():
    """20,000 GCs: an N x N float64 array is 3.2 GB; the blocked sum stays near its block budget."""
    rng = np.random.default_rng(13)
    n = 20000
    x, y, v = rng.normal(size=(3, n)) * np.array([[10.0], [10.0], [150.0]])
    tracemalloc.start()
    try:
        mass = VirialMassEstimator().mass(x, y, v)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert math.isfinite(mass) and mass > 0.0
    assert peak < PAIR_BLOCK_BYTES + 64 * n * 8 < n * n * 8 / 100
    assert projected_pair_sum(x[:400], y[:400], 1) == pytest.approx(_pair_sum_full_matrix(x[:400], y[:400]),
                                                                   rel=1e-12)


def test_velocity_errors_are_removed_in_quadrature():
    rng = np.random.default_rng(9)
    pos, vel = pop.isothermal(rng, 20000, v0=220.0, gamma=3.2, r_in=2.0, r_out=50.0)   # sigma 123 km/s
    x, y, v = pop.observe(rng, pos, vel)
    err = np.full_like(v, 60.0)
    noisy = v + rng.normal(0.0, 60.0, len(v))
    est = TracerMassEstimator(alpha=0.0, gamma=3.2)
    clean = est.mass(x, y, v)
    assert _rel(est.mass(x, y, noisy, err), clean) < 0.05
    assert est.mass(x, y, noisy) > 1.1 * clean      # ignoring the errors inflates the mass


def test_bootstrap_shrinks_as_inverse_sqrt_n():
    rng = np.random.default_rng(10)
    pos, vel = pop.isothermal(rng, 6400, v0=200.0, gamma=3.0 + 0.5, r_in=1.0, r_out=40.0)
    x, y, v = pop.observe(rng, pos, vel)
    est = ProjectedMassEstimator()
    small = est.estimate(x[:400], y[:400], v[:400], n_bootstrap=300, seed=1)
    large = est.estimate(x, y, v, n_bootstrap=300, seed=1)
    assert small.mass_err_msun / large.mass_err_msun == pytest.approx(4.0, rel=0.25)
    assert small.mass_p16_msun < small.mass_msun < small.mass_p84_msun


def test_rotation_term_recovers_added_rotation():
    rng = np.random.default_rng(12)
    pos, vel = pop.isothermal(rng, 5000, v0=200.0, gamma=3.2, r_in=2.0, r_out=50.0)
    x, y, v = pop.observe(rng, pos, vel)
    phi = np.arctan2(y, x)
    v_rot, phi_kin = 80.0, 30.0
    spun = v + v_rot * np.cos(phi - np.radians(phi_kin))
    fitted_v, fitted_phi = fit_rotation(x, y, spun)
    assert fitted_v == pytest.approx(v_rot, rel=0.1)
    assert fitted_phi == pytest.approx(phi_kin, abs=6.0)
    static = TracerMassEstimator(alpha=0.0, gamma=3.2).mass(x, y, v)
    result = TracerMassEstimator(alpha=0.0, gamma=3.2, rotation=True).estimate(x, y, spun, n_bootstrap=0)
    p = result.parameters
    assert _rel(p["mass_pressure_msun"], static) < 0.05
    r_out = result.r_out_kpc
    assert p["mass_rot_msun"] == pytest.approx(p["v_rot_kms"] ** 2 * r_out / G, rel=1e-12)
    assert result.mass_msun == pytest.approx(p["mass_pressure_msun"] + p["mass_rot_msun"], rel=1e-12)


def test_fitted_tracer_slope():
    rng = np.random.default_rng(13)
    # surface density Sigma ~ R^-2 between 1 and 30: p(R) ~ R^-1
    R = np.exp(rng.uniform(0.0, np.log(30.0), 5000))
    assert fit_projected_slope(R, 1.0, 30.0) == pytest.approx(2.0, abs=0.05)


def test_registry_and_bad_parameters():
    assert set(ESTIMATORS) == {"tme", "pme", "virial"}
    assert isinstance(get_estimator("pme", orbits="radial"), ProjectedMassEstimator)
    assert set(default_estimators()) >= {"tme_alpha0", "tme_alpha0_rot", "pme_isotropic", "virial"}
    with pytest.raises(ConfigError, match="allowed values: 'tme', 'pme', 'virial'"):
        get_estimator("jeans")
    with pytest.raises(ConfigError, match="tme.alpha = 2.0 is out of range; allowed range"):
        TracerMassEstimator(alpha=2.0)
    with pytest.raises(ConfigError, match="orbits"):
        ProjectedMassEstimator("circular")
    with pytest.raises(ConfigError, match="unexpected keyword"):
        get_estimator("virial", alpha=1.0)
