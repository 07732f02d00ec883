"""Checkpoints of a model's N-body run: a worker killed after a checkpoint costs only the time since it;
the rerun resumes from the checkpoint's step and lands bit-identical maps (NumPy). Real physics, tiny
models, a real subprocess killed with SIGKILL."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import xarray as xr

from gcs_hpc.campaign.run_model import (_checkpoint_step, checkpoint_directory, checkpoint_path,
                                        model_checkpoints, run_model, timed_run_model)

from .helpers import REPO, TEST_BACKEND, make_store, tiny_plan

#: A tiny model run long enough (a few seconds on an idle core, ~10 checkpoint intervals) to be killed
#: between checkpoints, however fast the machine.
T_END = 20.0
EVERY_S = 0.3

_WORKER = """
import pickle, sys
sys.path.insert(0, {repo!r})
from gcs_hpc.campaign.run_model import run_model
store, spec, map_spec = pickle.load(open({job!r}, "rb"))
run_model(store, 0, spec, map_spec, {backend!r}, checkpoint_every_s={every!r})
"""


def _maps(store):
    ds = xr.open_zarr(store)
    return ds.maps.isel(model=0).values, ds.counts.isel(model=0).values


def test_killed_model_resumes_from_its_checkpoint_bit_identical(tmp_path, caplog):
    plan = tiny_plan(1, t_end_disk=T_END, t_end_merger=T_END)
    spec = plan.models[0]
    store = make_store(tmp_path / "run.zarr", plan)
    assert checkpoint_directory(store) == tmp_path / "run.zarr.checkpoints"  # beside the store, not inside
    job = tmp_path / "job.pkl"
    job.write_bytes(pickle.dumps((str(store), spec, plan.map_spec)))
    code = _WORKER.format(repo=str(REPO), job=str(job), backend=TEST_BACKEND, every=EVERY_S)
    worker = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while not model_checkpoints(store, 0) and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert model_checkpoints(store, 0), f"no checkpoint written (worker exit {worker.poll()})"
        time.sleep(EVERY_S)  # one more checkpoint, usually
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.wait(timeout=30)
    (ckpt,) = model_checkpoints(store, 0)
    step = _checkpoint_step(ckpt)
    assert step > 0
    assert xr.open_zarr(store).status.values[0] == "pending"  # killed before its maps were written

    with caplog.at_level(logging.WARNING, logger="gcs_hpc.campaign"):
        outcome = timed_run_model(store, 0, spec, plan.map_spec, TEST_BACKEND, checkpoint_every_s=EVERY_S)
    assert outcome.status == "done" and outcome.resumed_from_step == step
    assert f"model 0 ({spec.suite}, seed {spec.seed}): resuming from checkpoint" in caplog.text
    assert f"at step {step}" in caplog.text
    assert not list(checkpoint_directory(store).iterdir())  # removed once done

    # an uninterrupted run of the same spec (no checkpoints at all): bit-identical maps and counts
    reference = make_store(tmp_path / "ref.zarr", plan)
    assert run_model(reference, 0, spec, plan.map_spec, TEST_BACKEND) == "done"
    for got, want in zip(_maps(store), _maps(reference)):
        np.testing.assert_array_equal(got, want)


def test_checkpoint_of_other_inputs_is_ignored_and_the_model_runs_from_the_start(tmp_path, caplog):
    from gcs_hpc.galaxy import build_model
    from gcs_hpc.nbody import evolve
    from gcs_hpc.units import kpc_to_sim

    plan = tiny_plan(2)
    store = make_store(tmp_path / "s.zarr", plan)
    other = plan.models[1]  # model 1's run, stopped with checkpoints, left in model 0's place
    for attempt, steps in (("a", 2), ("b", 3)):  # two attempts' files: the most advanced is taken over
        evolve(build_model(other), t_end=other.t_end, softening=kpc_to_sim(other.preset.softening_kpc),
               backend=TEST_BACKEND, checkpoint_path=checkpoint_path(store, 0, attempt),
               stop_after_steps=steps)
    assert [_checkpoint_step(p) for p in model_checkpoints(store, 0)] == [3, 2]
    with caplog.at_level(logging.WARNING, logger="gcs_hpc.campaign"):
        outcome = timed_run_model(store, 0, plan.models[0], plan.map_spec, TEST_BACKEND)
    assert outcome.status == "done" and outcome.resumed_from_step == 0, outcome.reason
    assert "at step 3" in caplog.text and "ignoring checkpoint" in caplog.text
    assert "belongs to another run" in caplog.text
    assert not model_checkpoints(store, 0)
    reference = make_store(tmp_path / "ref.zarr", plan)
    assert run_model(reference, 0, plan.models[0], plan.map_spec, TEST_BACKEND) == "done"
    for got, want in zip(_maps(store), _maps(reference)):
        np.testing.assert_array_equal(got, want)


def test_truncated_or_empty_checkpoint_restarts_the_model_from_t0_with_a_warning(tmp_path, caplog):
    """A checkpoint damaged on disk (cut short by a full disk or a crash; an empty file) never fails its
    model: the model runs from t = 0, says so in the log, and lands the maps of an uninterrupted run."""
    from gcs_hpc.galaxy import build_model
    from gcs_hpc.nbody import evolve
    from gcs_hpc.units import kpc_to_sim

    plan = tiny_plan(2)
    store = make_store(tmp_path / "s.zarr", plan)
    for index, keep in ((0, 0.5), (1, 0.0)):  # model 0: half of a real checkpoint; model 1: an empty file
        spec = plan.models[index]
        path = checkpoint_path(store, index, "cut")
        evolve(build_model(spec), t_end=spec.t_end, softening=kpc_to_sim(spec.preset.softening_kpc),
               backend=TEST_BACKEND, checkpoint_path=path, stop_after_steps=3)
        raw = path.read_bytes()
        path.write_bytes(raw[:int(len(raw) * keep)])
        assert _checkpoint_step(path) == 0  # unreadable: never preferred over a readable one
    reference = make_store(tmp_path / "ref.zarr", plan)
    for index in (0, 1):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gcs_hpc.campaign"):
            outcome = timed_run_model(store, index, plan.models[index], plan.map_spec, TEST_BACKEND)
        assert outcome.status == "done" and outcome.resumed_from_step == 0, outcome.reason
        assert "ignoring checkpoint" in caplog.text and "starting from t = 0" in caplog.text
        assert "is not a readable gcs_hpc checkpoint (truncated or corrupt?)" in caplog.text, caplog.text
        assert not model_checkpoints(store, index)
        assert run_model(reference, index, plan.models[index], plan.map_spec, TEST_BACKEND) == "done"
    assert list(xr.open_zarr(store).status.values) == ["done", "done"]
    ds, ref = xr.open_zarr(store), xr.open_zarr(reference)
    np.testing.assert_array_equal(ds.maps.values, ref.maps.values)
    np.testing.assert_array_equal(ds.counts.values, ref.counts.values)
