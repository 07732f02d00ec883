"""simulate(): spec -> galaxy -> N-body -> final particles, the one pipeline the campaign and the
experiments share; its hooks (stages, a stale checkpoint) and its identity with the two steps by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gcs_hpc.errors import CheckpointMismatchError
from gcs_hpc.galaxy import build_model
from gcs_hpc.nbody import evolve
from gcs_hpc.nbody.simulate import STAGE_BUILT, STAGE_EVOLVED, simulate
from gcs_hpc.specs import GalaxySpec, ModelSpec, get_preset
from gcs_hpc.units import kpc_to_sim

#: A small disk run over a short time: enough steps to tell two runs apart, a few seconds.
SPEC = ModelSpec(kind="disk", galaxy=GalaxySpec(n_gc=50),
                 preset=dataclasses.replace(get_preset("tiny"), n_halo=600, n_disk=200), seed=3)
T_END = 0.2


def test_simulate_is_build_then_evolve_bit_identically():
    stages: list[tuple[str, float]] = []
    result = simulate(SPEC, "compiled", t_end=T_END, on_stage=lambda s, wall: stages.append((s, wall)))
    by_hand = evolve(build_model(SPEC), t_end=T_END, softening=kpc_to_sim(SPEC.preset.softening_kpc),
                     backend="compiled", energy_tolerance=SPEC.preset.energy_tolerance)
    np.testing.assert_array_equal(result.particles.pos, by_hand.particles.pos)
    np.testing.assert_array_equal(result.particles.vel, by_hand.particles.vel)
    assert [s for s, _ in stages] == [STAGE_BUILT, STAGE_EVOLVED] and all(wall > 0 for _, wall in stages)
    assert result.stats["backend"] == "compiled" and result.stats["steps"] > 1


def test_stale_checkpoint_restarts_with_the_hook_and_raises_without(tmp_path):
    path = tmp_path / "model.npz"
    other = dataclasses.replace(SPEC, seed=4)
    simulate(other, "compiled", t_end=T_END, checkpoint_path=path, stop_after_steps=3)  # another run's file
    assert path.exists()
    with pytest.raises(CheckpointMismatchError, match="belongs to another run"):
        simulate(SPEC, "compiled", t_end=T_END, checkpoint_path=path)
    seen: list[CheckpointMismatchError] = []
    result = simulate(SPEC, "compiled", t_end=T_END, checkpoint_path=path, on_stale_checkpoint=seen.append)
    assert len(seen) == 1 and result.stats["complete"] is not False
    fresh = simulate(SPEC, "compiled", t_end=T_END)
    np.testing.assert_array_equal(result.particles.pos, fresh.particles.pos)  # started from t = 0
    assert not path.exists()  # a finished run removes its checkpoint
