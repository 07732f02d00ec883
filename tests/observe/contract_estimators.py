"""The contract of a classic mass estimator (:class:`gcs_hpc.observe.estimators.MassEstimator`), checked
for every entry of :data:`gcs_hpc.observe.estimators.ESTIMATORS` built with its default parameters:

- it recovers the known mass of the analytic tracer population its
  :attr:`~gcs_hpc.observe.estimators.MassEstimator.exact_for` names (its documented assumption and
  constant): isotropic tracers around a point mass, tracers in a singular isothermal sphere (the mass
  inside the estimator's r_out) or a self-consistent Plummer sphere, seen along a random line of sight;
- it is dimensionally a mass: positions scaled by lambda and velocities (and their errors) by mu scale
  the mass and its bootstrap spread by lambda mu^2, exactly;
- it refuses bad input (too few tracers, non-finite values, arrays of different lengths, tracers at one
  position, a bootstrap of one, a non-positive r_out) with an error naming what is wrong;
- a pickled estimator (it travels to dask workers) gives the same estimate; the bootstrap is seeded.
"""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pytest

from gcs_hpc.errors import CatalogError, ConfigError
from gcs_hpc.observe.estimators import ESTIMATORS, MassEstimator, get_estimator
from gcs_hpc.units import G_KPC_KMS2_PER_MSUN as G
from tests.contracts import RegistryContract
from tests.observe import populations as pop

#: The point mass, the isothermal circular speed and the Plummer mass of the analytic cases.
M_POINT_MSUN, V0_KMS, M_PLUMMER_MSUN = 5.0e11, 220.0, 2.0e11
#: Largest relative error on each analytic case (its tracer sample's noise and the estimator's
#: documented bias for finite samples; the tracer numbers below).
ANALYTIC_RTOL = {"point_mass": 0.05, "isothermal": 0.05, "self_consistent": 0.08}


def point_mass_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """20,000 isotropic tracers (Hernquist profile, scale 5 kpc) with Jeans velocities around a point
    mass: (positions, velocities, mass)."""
    r_t = 5.0
    pos, vel = pop.jeans_population(
        rng, 20000, tracer_cumulative_inverse=lambda u: r_t * np.sqrt(u) / (1.0 - np.sqrt(u)),
        tracer_density=lambda r: 1.0 / (r * (r + r_t) ** 3),
        enclosed_mass=lambda r: M_POINT_MSUN + 0.0 * r, r_max=1.0e4)
    return pos, vel, M_POINT_MSUN


def isothermal_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """20,000 tracers rho ~ r^-2.5 over two decades (0.6 to 60 kpc: nearly scale-free, so a fitted
    projected slope finds it) in a singular isothermal sphere (exact Maxwellian); the mass is
    v0^2 r / G inside radius r (the value returned: per kpc)."""
    pos, vel = pop.isothermal(rng, 20000, v0=V0_KMS, gamma=2.5, r_in=0.6, r_out=60.0)
    return pos, vel, V0_KMS**2 / G


def self_consistent_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """3,000 tracers that are the mass: an isotropic Plummer sphere of scale 4 kpc."""
    pos, vel = pop.plummer(rng, 3000, mass=M_PLUMMER_MSUN, a=4.0)
    return pos, vel, M_PLUMMER_MSUN


CASES = {"point_mass": point_mass_case, "isothermal": isothermal_case,
         "self_consistent": self_consistent_case}


class MassEstimatorContract(RegistryContract):
    """Checks every registered mass estimator must pass (one test per estimator)."""

    registry = ESTIMATORS

    @pytest.fixture
    def estimator(self, name: str) -> MassEstimator:
        return get_estimator(name)

    @pytest.fixture(scope="class")
    def tracers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """2,000 isothermal tracers seen along a random line of sight, 10 km/s errors: x, y, v, v_err."""
        rng = np.random.default_rng(31)
        pos, vel = pop.isothermal(rng, 2000, v0=200.0, gamma=3.5, r_in=1.0, r_out=40.0)
        x, y, v = pop.observe(rng, pos, vel)
        return x, y, v, np.full_like(v, 10.0)

    def test_registered_under_its_name_with_a_known_analytic_case(self, name, estimator):
        assert type(estimator) is self.registry[name] and estimator.name == name
        assert type(estimator).exact_for in CASES, (
            f"{name}.exact_for = {type(estimator).exact_for!r}; allowed: {', '.join(CASES)}")

    def test_exact_on_its_analytic_case(self, estimator):
        case = type(estimator).exact_for
        rng = np.random.default_rng(41)
        pos, vel, mass = CASES[case](rng)
        x, y, v = pop.observe(rng, pos, vel)
        result = estimator.estimate(x, y, v, n_bootstrap=0)
        if case == "isothermal":  # M(<r) = v0^2 r / G at the radius the estimate refers to
            mass *= result.r_out_kpc
        assert result.mass_msun == pytest.approx(mass, rel=ANALYTIC_RTOL[case])

    def test_mass_scales_as_radius_times_velocity_squared(self, estimator, tracers):
        x, y, v, v_err = tracers
        stretch, speed = 3.7, 0.6
        base = estimator.estimate(x, y, v, v_err, n_bootstrap=20, seed=2)
        scaled = estimator.estimate(stretch * x, stretch * y, speed * v, speed * v_err, n_bootstrap=20,
                                    seed=2)
        factor = stretch * speed**2
        assert scaled.mass_msun == pytest.approx(factor * base.mass_msun, rel=1e-9)
        assert scaled.mass_err_msun == pytest.approx(factor * base.mass_err_msun, rel=1e-9)
        assert scaled.r_out_kpc == pytest.approx(stretch * base.r_out_kpc, rel=1e-12)
        assert math.isfinite(base.mass_msun) and base.mass_msun > 0.0

    @pytest.mark.parametrize("bad, message", [
        ({"x": [1.0, 2.0, 3.0, 4.0]}, "too few"),
        ({"v": "nan"}, "tracer column v has non-finite values"),
        ({"y": "short"}, "must be 1-D of one length"),
        ({"x": "same", "y": "same"}, "share one position"),
    ])
    def test_refuses_bad_tracers(self, estimator, tracers, bad, message):
        x, y, v, v_err = (np.array(a[:20]) for a in tracers)
        columns: dict[str, Any] = {"x": x, "y": y, "v": v, "v_err": v_err}
        for key, change in bad.items():
            if change == "nan":
                columns[key] = np.where(np.arange(20) == 3, np.nan, columns[key])
            elif change == "short":
                columns[key] = columns[key][:-1]
            elif change == "same":
                columns[key] = np.full(20, 1.5)
            else:
                columns = {k: np.asarray(change) if k == key else c[: len(change)]
                           for k, c in columns.items()}
        with pytest.raises(CatalogError, match=message):
            estimator.mass(**columns)

    def test_refuses_bad_settings(self, name, estimator, tracers):
        x, y, v, _ = tracers
        with pytest.raises(ConfigError, match=rf"{name}.n_bootstrap = 1 gives no spread"):
            estimator.estimate(x, y, v, n_bootstrap=1)
        with pytest.raises(ConfigError, match=rf"{name}.r_out_kpc = -1.0 is out of range"):
            get_estimator(name, r_out_kpc=-1.0)

    def test_a_pickled_estimator_gives_the_same_estimate(self, estimator, tracers):
        copy = pickle.loads(pickle.dumps(estimator))
        assert type(copy) is type(estimator) and copy.parameters() == estimator.parameters()
        first, second = (e.estimate(*tracers, n_bootstrap=10, seed=1) for e in (estimator, copy))
        assert first == second

    def test_bootstrap_is_seeded(self, estimator, tracers):
        a, b, c = (estimator.estimate(*tracers, n_bootstrap=50, seed=s) for s in (3, 3, 4))
        assert a == b and a.mass_err_msun != c.mass_err_msun
        assert a.mass_p16_msun < a.mass_msun < a.mass_p84_msun
