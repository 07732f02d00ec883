"""Posteriors and their calibration on problems whose posterior is known exactly (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from gcs_hpc.errors import ConfigError
from gcs_hpc.learn import calibration
from gcs_hpc.learn.posterior import MassPosterior, from_labels

#: Coverage of n independent draws has sd sqrt(p (1 - p) / n): with n = 4000, 0.0074 at 68%.
N_TOY = 4000


def linear_gaussian_toy(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log M ~ N(12, 0.5^2) (prior); data d = 2 (log M - 12) + N(0, 0.3^2). The exact posterior of log M
    given d is Gaussian with variance 1 / (1/0.5^2 + 4/0.3^2) and mean 12 + var * 2 d / 0.3^2.
    Returns (truth, posterior mean, posterior sd)."""
    rng = np.random.default_rng(seed)
    truth = 12.0 + 0.5 * rng.normal(size=n)
    d = 2.0 * (truth - 12.0) + 0.3 * rng.normal(size=n)
    var = 1.0 / (1.0 / 0.5 ** 2 + 4.0 / 0.3 ** 2)
    return truth, 12.0 + var * 2.0 * d / 0.3 ** 2, np.full(n, np.sqrt(var))


def test_quantiles_of_one_gaussian_match_the_normal_ppf() -> None:
    mean, sd = np.array([11.0, 12.5, 13.2]), np.array([0.1, 0.3, 0.02])
    post = MassPosterior(mean[:, None], sd[:, None])
    for q in (0.025, 0.16, 0.5, 0.84, 0.975):
        np.testing.assert_allclose(post.quantile(q), stats.norm.ppf(q, mean, sd), atol=2e-6)


def test_mixture_quantiles_solve_the_mixture_cdf() -> None:
    means = np.array([[11.8, 12.4, 12.1], [12.0, 12.0, 12.0]])
    sds = np.array([[0.1, 0.2, 0.05], [0.1, 0.2, 0.3]])
    post = MassPosterior(means, sds)
    for i in range(2):
        def cdf(x: float, q: float) -> float:
            return float(np.mean(stats.norm.cdf(x, means[i], sds[i]))) - q

        for q in (0.025, 0.16, 0.5, 0.84, 0.975):
            assert post.quantile(q)[i] == pytest.approx(optimize.brentq(cdf, 10, 14, args=(q,)), abs=2e-6)
    # mixture sd: law of total variance
    np.testing.assert_allclose(post.total_sd_dex()[0], np.sqrt(np.mean(sds[0] ** 2) + np.var(means[0])))


def test_point_members_give_the_spread_of_the_ensemble() -> None:
    post = MassPosterior(np.array([[11.0, 12.0, 13.0, 14.0, 15.0]]), np.zeros((1, 5)))
    assert post.median()[0] == pytest.approx(13.0, abs=1e-5)
    lo, hi = post.interval(0.68)
    assert (lo[0], hi[0]) == (pytest.approx(11.0, abs=1e-5), pytest.approx(15.0, abs=1e-5))


def test_exact_posterior_is_calibrated_on_the_linear_gaussian_toy() -> None:
    truth, mean, sd = linear_gaussian_toy(N_TOY, seed=1)
    post = MassPosterior(mean[:, None], sd[:, None])
    m = calibration.calibration_metrics(post, truth)
    assert m["coverage_68"] == pytest.approx(0.68, abs=0.025)
    assert m["coverage_95"] == pytest.approx(0.95, abs=0.015)
    assert m["calibrated"] and m["pit_ks"] < 0.03
    # the PIT and the interval bounds agree on coverage
    pit = calibration.pit_values(post, truth)
    assert calibration.coverage_from_pit(pit, 0.68) == pytest.approx(m["coverage_68"], abs=1e-3)


def test_miscalibrated_posteriors_are_caught() -> None:
    truth, mean, sd = linear_gaussian_toy(N_TOY, seed=2)
    narrow = calibration.calibration_metrics(MassPosterior(mean[:, None], 0.5 * sd[:, None]), truth)
    wide = calibration.calibration_metrics(MassPosterior(mean[:, None], 2.0 * sd[:, None]), truth)
    # half the width: P(|z| < 0.5) = 0.38; twice: P(|z| < 2) = 0.95 for the 68% interval
    assert narrow["coverage_68"] == pytest.approx(0.383, abs=0.03) and not narrow["calibrated"]
    assert wide["coverage_68"] == pytest.approx(0.954, abs=0.02) and not wide["calibrated"]
    hist = np.array(narrow["pit_histogram"])
    assert hist[0] > 2 * hist[4] and hist[-1] > 2 * hist[5]   # U-shaped PIT of an overconfident net


def test_ensemble_of_exact_posteriors_stays_calibrated() -> None:
    truth, mean, sd = linear_gaussian_toy(N_TOY, seed=3)
    members = [MassPosterior(mean[:, None], sd[:, None]) for _ in range(5)]
    m = calibration.calibration_metrics(MassPosterior.combine(members), truth)
    assert m["n_members"] == 5 and m["calibrated"]


def test_label_scale_and_clipping_to_the_label_range(tmp_path) -> None:
    attrs = {"label_log10_mass_min": 11.0, "label_log10_mass_max": 13.0}
    post = from_labels(np.array([5.0, 12.0]), np.array([1.0, 0.5]), attrs)
    np.testing.assert_allclose(post.mean_dex[:, 0], [12.0, 13.4])
    np.testing.assert_allclose(post.sd_dex[:, 0], [0.2, 0.1])
    rows = post.summaries()
    assert rows[0]["median_msun"] == pytest.approx(1e12, rel=1e-5) and not rows[0]["outside_label_range"]
    lo, hi = rows[0]["interval_68_log10"]
    assert lo == pytest.approx(12.0 - 0.2 * stats.norm.ppf(0.84), abs=1e-5)
    upper_95 = 10 ** (12.0 + 0.2 * stats.norm.ppf(0.975))
    assert rows[0]["interval_95_msun"][1] == pytest.approx(upper_95, rel=1e-5)
    # past the top of the label range: clipped and flagged, the raw value kept
    assert rows[1]["outside_label_range"] and rows[1]["median_log10"] == 13.0
    assert rows[1]["median_log10_unclipped"] == pytest.approx(13.4, abs=1e-5)
    calibration.plot_calibration(tmp_path / "cal.png", {"toy": calibration.pit_values(post, [12.0, 13.0])})
    assert (tmp_path / "cal.png").stat().st_size > 1000


def test_bad_posteriors_are_refused() -> None:
    with pytest.raises(ConfigError, match="sd"):
        MassPosterior(np.zeros((2, 1)), -np.ones((2, 1)))
    with pytest.raises(ConfigError, match="shape|must both"):
        MassPosterior(np.zeros((2, 1)), np.zeros((3, 1)))
    with pytest.raises(ConfigError, match="level"):
        MassPosterior(np.zeros((2, 1)), np.ones((2, 1))).interval(1.5)
