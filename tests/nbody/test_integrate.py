"""Leapfrog physics: Kepler period and energy, second order, energy conservation, Plummer equilibrium,
tracers, outputs, loud failure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcs_hpc.errors import ConfigError, SimulationError
from gcs_hpc.nbody import evolve
from gcs_hpc.particles import Particles

from .models import kepler_binary, lagrangian_radii, plummer_sphere

KEPLER_SOFTENING = 1e-5


def kepler_period(m1: float = 1.0, m2: float = 0.5, a: float = 1.0) -> float:
    return 2.0 * math.pi * math.sqrt(a**3 / (m1 + m2))


def separation(p: Particles) -> float:
    return float(np.linalg.norm(p.pos[0] - p.pos[1]))


def test_kepler_orbit_period_and_energy():
    period = kepler_period()
    binary = kepler_binary(e=0.5)
    result = evolve(binary, t_end=period, softening=KEPLER_SOFTENING, backend="direct", dt=period / 4000,
                    output_times=[0.5 * period, period], diagnostics_every=100)
    # pericentre after half a period, back at apocentre (the start) after one period
    assert separation(result.snapshots[0.5 * period]) == pytest.approx(0.5, rel=1e-4)
    assert np.allclose(result.snapshots[period].pos, binary.pos, atol=2e-4)
    energy = result.diagnostics[0]["energy"]
    assert energy == pytest.approx(-1.0 * 0.5 / 2.0, rel=1e-8)  # -m1 m2 / (2a), softening negligible
    assert result.stats["max_rel_energy_error"] < 1e-4
    assert result.stats["steps"] == 4000
    np.testing.assert_allclose(result.diagnostics[-1]["angular_momentum"],
                               result.diagnostics[0]["angular_momentum"],
                               rtol=1e-12)


def test_energy_error_is_second_order():
    period = kepler_period()
    binary = kepler_binary(e=0.5)
    errors = [evolve(binary, t_end=period, softening=KEPLER_SOFTENING, backend="direct", dt=period / n,
                     diagnostics_every=1).stats["max_rel_energy_error"] for n in (400, 800, 1600)]
    for coarse, fine in zip(errors, errors[1:]):
        assert 3.3 < coarse / fine < 4.8


def test_plummer_energy_conservation_float64():
    sphere = plummer_sphere(600, seed=2, scale=3 * math.pi / 16)
    result = evolve(sphere, t_end=2.0, softening=0.05, backend="compiled", dt=0.005, diagnostics_every=5)
    assert result.stats["max_rel_energy_error"] < 1e-4
    first, last = result.diagnostics[0], result.diagnostics[-1]
    assert np.max(np.abs(last["momentum"])) < 1e-12
    np.testing.assert_allclose(last["angular_momentum"], first["angular_momentum"], atol=1e-12)
    assert np.linalg.norm(last["centre_of_mass"]) < 1e-10


@pytest.mark.slow
def test_plummer_lagrangian_radii_stay_put_over_ten_crossing_times():
    # virial (Henon) units: M = G = 1, E = -1/4, crossing time 2 sqrt(2); radii averaged over the last two
    # crossing times to beat the sqrt(N) noise of one snapshot
    sphere = plummer_sphere(4000, seed=4, scale=3 * math.pi / 16, virial_softening=0.02)
    t_cross = 2.0 * math.sqrt(2.0)
    times = [k * t_cross for k in (8.0, 8.25, 8.5, 8.75, 9.0, 9.25, 9.5, 9.75, 10.0)]
    result = evolve(sphere, t_end=10.0 * t_cross, softening=0.02, backend="tree", output_times=times,
                    diagnostics_every=50)
    initial = lagrangian_radii(sphere.pos, sphere.mass)
    late = np.mean([lagrangian_radii(result.snapshots[t].pos, sphere.mass) for t in times], axis=0)
    assert np.all(np.abs(late / initial - 1.0) < 0.03), (initial, late)
    assert result.stats["max_rel_energy_error"] < 5e-3


@pytest.mark.parametrize("backend", ["direct", "compiled", "tree"])
def test_tracers_source_nothing(backend):
    massive_only = plummer_sphere(300, seed=8)
    with_tracers = plummer_sphere(300, seed=8, n_tracers=100)
    kwargs = dict(t_end=0.3, softening=0.05, backend=backend, dt=0.01, diagnostics_every=10)
    a = evolve(massive_only, **kwargs)
    b = evolve(with_tracers, **kwargs)
    n = len(massive_only)
    assert np.array_equal(a.particles.pos, b.particles.pos[:n])
    assert np.array_equal(a.particles.vel, b.particles.vel[:n])
    assert a.stats["max_rel_energy_error"] == b.stats["max_rel_energy_error"]
    assert not np.array_equal(with_tracers.pos[n:], b.particles.pos[n:])  # the tracers did move


def test_outputs_land_exactly_and_runs_are_deterministic():
    sphere = plummer_sphere(300, seed=9, n_tracers=20)
    full = evolve(sphere, t_end=1.0, softening=0.05, backend="direct", output_times=[0.0, 0.37, 1.0])
    assert sorted(full.snapshots) == [0.0, 0.37, 1.0]
    assert np.array_equal(full.snapshots[0.0].pos, sphere.pos)
    short = evolve(sphere, t_end=0.37, softening=0.05, backend="direct", dt=full.stats["dt"])
    assert np.array_equal(short.particles.pos, full.snapshots[0.37].pos)
    again = evolve(sphere, t_end=1.0, softening=0.05, backend="direct", output_times=[0.0, 0.37, 1.0])
    assert np.array_equal(again.particles.pos, full.particles.pos)
    assert np.array_equal(full.snapshots[1.0].vel, full.particles.vel)
    assert full.stats["t"] == 1.0 and full.diagnostics[-1]["t"] == 1.0
    assert np.array_equal(sphere.pos, plummer_sphere(300, seed=9, n_tracers=20).pos)  # input untouched


def test_diverging_run_raises_naming_model_step_and_time():
    binary = kepler_binary(e=0.9)
    with pytest.raises(SimulationError, match=r"model 'kepler-test'.*energy error.*step \d+, t = ") as info:
        evolve(binary, t_end=20.0, softening=KEPLER_SOFTENING, backend="direct", dt=0.5, diagnostics_every=1,
               model_name="kepler-test")
    assert "rel_energy_error" in info.value.diagnostics


def test_non_finite_input_raises():
    sphere = plummer_sphere(100, seed=1)
    sphere.pos[3, 0] = np.nan
    with pytest.raises(SimulationError, match=r"non-finite .* at step 0, t = 0"):
        evolve(sphere, t_end=1.0, softening=0.05, backend="direct", model_name="nan-model")


def test_bad_arguments_name_the_field():
    sphere = plummer_sphere(100, seed=1)
    with pytest.raises(ConfigError, match=r"nbody.t_end = -1.0 is out of range"):
        evolve(sphere, t_end=-1.0, softening=0.05)
    with pytest.raises(ConfigError, match=r"nbody.softening"):
        evolve(sphere, t_end=1.0, softening=0.0)
    with pytest.raises(ConfigError, match=r"output_times"):
        evolve(sphere, t_end=1.0, softening=0.05, output_times=[2.0])
    with pytest.raises(ConfigError, match=r"backend.*allowed values"):
        evolve(sphere, t_end=1.0, softening=0.05, backend="pm")
