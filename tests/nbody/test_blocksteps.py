"""Individual (block, power-of-two) time steps: the scheme's mechanics against the global leapfrog, an
eccentric Kepler orbit (analytic), a small isolated disk (energy and force evaluations, both schemes
measured), determinism, bit-exact restarts, validation.

Measured on the isolated disk below (exact forces, to t = 2): 1.35x fewer particle-force evaluations than
the global step, max |dE/E| 1.4e-3 against 0.9e-3 (sampled at the same times). The issue's target of
"energy no worse" is not met in general (benchmarks/block_steps.py); the bound here is a regression guard.
"""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from gcs_hpc.errors import CheckpointMismatchError, ConfigError
from gcs_hpc.galaxy import build_model
from gcs_hpc.nbody import BlockSteps, evolve
from gcs_hpc.nbody.simulate import simulate
from gcs_hpc.specs import PRESETS, GalaxySpec, ModelSpec
from gcs_hpc.units import kpc_to_sim

from .models import kepler_binary, plummer_sphere

#: Block steps may be this much worse in max |dE/E| than the global step on the small disk (measured 1.6).
DISK_ENERGY_FACTOR = 2.5
#: Fewest times fewer particle-force evaluations block steps must need on the small disk (measured 1.35).
DISK_FORCE_RATIO = 1.2


def test_one_bin_is_the_global_leapfrog_bit_for_bit():
    sphere = plummer_sphere(300, seed=21, n_tracers=30)
    kwargs = dict(t_end=0.5, softening=0.05, backend="tree", output_times=[0.25])
    global_ = evolve(sphere, **kwargs)
    block = evolve(sphere, time_steps=BlockSteps(coarse_levels=0, fine_levels=0), **kwargs)
    assert np.array_equal(block.particles.pos, global_.particles.pos)
    assert np.array_equal(block.snapshots[0.25].vel, global_.snapshots[0.25].vel)
    assert block.stats["particle_forces"] == global_.stats["particle_forces"] == 330 * global_.stats["steps"]
    assert (block.stats["time_steps"], global_.stats["time_steps"]) == ("block", "global")


def test_eccentric_kepler_orbit_is_followed_through_pericentre():
    # e = 0.9 from apocentre: the global step, set at apocentre, is 30x too long at pericentre; block steps
    # refine there (up to 2**12 finer) and keep the analytic orbit
    period = 2.0 * math.pi * math.sqrt(1.0 / 1.5)
    binary = kepler_binary(e=0.9)
    kwargs = dict(t_end=period, softening=1e-3, backend="direct", output_times=[0.5 * period, period],
                  diagnostics_every=1, energy_tolerance=10.0)
    block = evolve(binary, time_steps=BlockSteps(coarse_levels=0, fine_levels=12), **kwargs)
    global_ = evolve(binary, **kwargs)
    half = block.snapshots[0.5 * period]
    assert float(np.linalg.norm(half.pos[0] - half.pos[1])) == pytest.approx(0.1, rel=1e-3)  # a (1 - e)
    assert np.allclose(block.snapshots[period].pos, binary.pos, atol=2e-3)
    assert block.stats["max_rel_energy_error"] < 3e-3
    assert global_.stats["max_rel_energy_error"] > 0.1  # what the fixed step gets wrong
    assert block.stats["particle_forces"] < 8 * global_.stats["particle_forces"]


@pytest.fixture(scope="module")
def small_disk():
    preset = dataclasses.replace(PRESETS["tiny"], n_halo=800, n_disk=300)
    spec = ModelSpec(kind="disk", galaxy=GalaxySpec(), preset=preset, seed=3)
    return build_model(spec), kpc_to_sim(preset.softening_kpc)


def test_small_disk_energy_and_force_evaluations_against_the_global_step(small_disk):
    particles, eps = small_disk
    kwargs = dict(t_end=2.0, softening=eps, backend="compiled")
    block = evolve(particles, time_steps=BlockSteps(), diagnostics_every=1, **kwargs)
    global_ = evolve(particles, diagnostics_every=16, **kwargs)  # the same times as block's outer steps
    de_block, de_global = (r.stats["max_rel_energy_error"] for r in (block, global_))
    ratio = global_.stats["particle_forces"] / block.stats["particle_forces"]
    assert de_block < DISK_ENERGY_FACTOR * de_global, (de_block, de_global)
    assert ratio > DISK_FORCE_RATIO, ratio
    again = evolve(particles, time_steps=BlockSteps(), diagnostics_every=1, **kwargs)
    assert np.array_equal(again.particles.pos, block.particles.pos)  # deterministic
    assert again.stats["particle_forces"] == block.stats["particle_forces"]


def test_restart_is_bit_identical_and_global_checkpoints_are_refused(tmp_path):
    sphere = plummer_sphere(400, seed=22, n_tracers=40)
    kwargs = dict(t_end=1.0, softening=0.05, backend="tree", output_times=[0.5], diagnostics_every=2,
                  dt=0.02, time_steps=BlockSteps(coarse_levels=3, fine_levels=2))  # outer steps of 0.16
    reference = evolve(sphere, **kwargs)
    path = tmp_path / "block.ckpt"
    partial = evolve(sphere, checkpoint_path=path, stop_after_steps=4, **kwargs)
    assert path.exists() and partial.stats["steps"] == 4 and not partial.stats["complete"]
    resumed = evolve(sphere, checkpoint_path=path, **kwargs)
    assert np.array_equal(resumed.particles.pos, reference.particles.pos)
    assert np.array_equal(resumed.particles.vel, reference.particles.vel)
    assert np.array_equal(resumed.snapshots[0.5].pos, reference.snapshots[0.5].pos)
    assert resumed.stats["particle_forces"] == reference.stats["particle_forces"]
    assert [d["energy"] for d in resumed.diagnostics] == [d["energy"] for d in reference.diagnostics]
    evolve(sphere, checkpoint_path=path, stop_after_steps=4, **{**kwargs, "time_steps": None})
    with pytest.raises(CheckpointMismatchError, match="belongs to another run"):
        evolve(sphere, checkpoint_path=path, **kwargs)


def test_simulate_passes_block_steps_through():
    spec = ModelSpec(kind="disk", galaxy=GalaxySpec(), preset=PRESETS["tiny"], seed=4)
    result = simulate(spec, "tree", t_end=0.2, time_steps=BlockSteps(coarse_levels=2))
    assert result.stats["time_steps"] == "block" and result.stats["complete"]
    s = result.stats  # at most one evaluation per particle per finest step (2**(2 + 1) per outer step)
    assert s["n"] * s["steps"] <= s["particle_forces"] <= s["n"] * 2 ** (2 + 1) * s["steps"]


def test_block_steps_spec_is_validated_hashable_and_pickles():
    spec = BlockSteps(coarse_levels=3, fine_levels=2, eta=0.4, velocity_courant=2.0)
    assert pickle.loads(pickle.dumps(spec)) == spec and hash(spec) == hash(BlockSteps(3, 2, 0.4, 2.0))
    with pytest.raises(ConfigError, match="coarse_levels"):
        BlockSteps(coarse_levels=-1)
    with pytest.raises(ConfigError, match="fine_levels"):
        BlockSteps(coarse_levels=15, fine_levels=10)
    with pytest.raises(ConfigError, match="velocity_courant"):
        BlockSteps(velocity_courant=0.0)
    with pytest.raises(ConfigError, match="time_steps"):
        evolve(plummer_sphere(50, seed=1), t_end=0.1, softening=0.05, time_steps="block")
