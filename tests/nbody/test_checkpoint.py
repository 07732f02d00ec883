"""Checkpoint and restart: a resumed NumPy run is bit-identical to an uninterrupted one."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.errors import CheckpointMismatchError
from gcs_hpc.nbody import evolve

from .models import plummer_sphere

RUN = dict(t_end=1.0, softening=0.05, dt=0.01, output_times=[0.25, 0.8], diagnostics_every=7)


@pytest.mark.parametrize("backend", ["direct", "auto", "tree"])
def test_restart_is_bit_identical(tmp_path, backend):
    sphere = plummer_sphere(400, seed=11, n_tracers=40)
    reference = evolve(sphere, backend=backend, **RUN)
    assert reference.stats["backend"] == {"auto": "compiled"}.get(backend, backend)
    path = tmp_path / "run.ckpt"
    partial = evolve(sphere, backend=backend, checkpoint_path=path, stop_after_steps=37, **RUN)
    assert path.exists() and partial.stats["complete"] is False and partial.stats["steps"] == 37
    resumed = evolve(sphere, backend=backend, checkpoint_path=path, checkpoint_every_s=0.0, **RUN)
    assert resumed.stats["complete"] and resumed.stats["steps"] == reference.stats["steps"]
    assert np.array_equal(resumed.particles.pos, reference.particles.pos)
    assert np.array_equal(resumed.particles.vel, reference.particles.vel)
    for t in RUN["output_times"]:
        assert np.array_equal(resumed.snapshots[t].pos, reference.snapshots[t].pos)
    assert [d["energy"] for d in resumed.diagnostics] == [d["energy"] for d in reference.diagnostics]
    assert not path.exists()  # removed once the run completed


def test_wall_time_checkpoints_are_written_and_resumable(tmp_path):
    sphere = plummer_sphere(200, seed=12)
    path = tmp_path / "wall.ckpt"
    # checkpoint after every step (0 s interval), stop (a walltime kill) after 20 steps
    evolve(sphere, backend="direct", checkpoint_path=path, checkpoint_every_s=0.0, stop_after_steps=20, **RUN)
    assert path.exists()
    resumed = evolve(sphere, backend="direct", checkpoint_path=path, **RUN)
    assert np.array_equal(resumed.particles.pos, evolve(sphere, backend="direct", **RUN).particles.pos)


def test_checkpoint_of_another_run_is_refused(tmp_path):
    path = tmp_path / "other.ckpt"
    evolve(plummer_sphere(200, seed=13), backend="direct", checkpoint_path=path, stop_after_steps=5, **RUN)
    with pytest.raises(CheckpointMismatchError, match="belongs to another run"):
        evolve(plummer_sphere(200, seed=14), backend="direct", checkpoint_path=path, **RUN)
    assert path.exists()  # nothing lost
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="not a readable gcs_hpc checkpoint"):
        evolve(plummer_sphere(200, seed=13), backend="direct", checkpoint_path=path, **RUN)
