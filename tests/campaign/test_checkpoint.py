"""Checkpoints of a model's N-body run: a worker killed after a checkpoint costs only the time since it;
the rerun resumes from the checkpoint's step and lands bit-identical maps (NumPy). Real physics, tiny
models, a real subprocess killed with SIGKILL.

No timing: the model is held at a checkpoint by the store's pause file (``<store>.pause``) and killed
there, so it cannot finish before the kill however fast the machine; the test waits for the worker's
``paused at step N`` line, never for a number of seconds."""

from __future__ import annotations

import logging
import pickle
import re
import subprocess
import sys
import threading
import time

import numpy as np
import xarray as xr

from gcs_hpc.campaign.run_model import (_checkpoint_step, checkpoint_directory, checkpoint_path,
                                        model_checkpoints, pause_path, run_model, timed_run_model)

from .helpers import REPO, TEST_BACKEND, make_store, tiny_plan

#: A tiny model with many checkpoint intervals (its length does not matter: it is held at a checkpoint).
T_END = 20.0
EVERY_S = 0.3
#: Upper bound for the worker to reach its first checkpoint (a failure guard; it takes ~1 s when idle).
WAIT_S = 300

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


def _wait_for_line(stream, pattern: str, timeout_s: float) -> tuple[re.Match | None, str]:
    """Read ``stream`` line by line until one matches ``pattern`` (or it ends, or ``timeout_s`` passes);
    return the match (None if none) and the text read."""
    lines: list[str] = []
    found: list[re.Match] = []

    def read() -> None:
        for line in stream:
            lines.append(line)
            match = re.search(pattern, line)
            if match:
                found.append(match)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout_s)
    return (found[0] if found else None), "".join(lines)


def test_killed_model_resumes_from_its_checkpoint_bit_identical(tmp_path, caplog):
    plan = tiny_plan(1, t_end_disk=T_END, t_end_merger=T_END)
    spec = plan.models[0]
    store = make_store(tmp_path / "run.zarr", plan)
    assert checkpoint_directory(store) == tmp_path / "run.zarr.checkpoints"  # beside the store, not inside
    assert pause_path(store) == tmp_path / "run.zarr.pause"
    job = tmp_path / "job.pkl"
    job.write_bytes(pickle.dumps((str(store), spec, plan.map_spec)))
    code = _WORKER.format(repo=str(REPO), job=str(job), backend=TEST_BACKEND, every=EVERY_S)
    pause_path(store).touch()  # the model stops at its first checkpoint and waits there
    worker = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        paused, text = _wait_for_line(worker.stderr, r"paused at step (\d+)", WAIT_S)
        assert paused, f"the worker never paused (exit {worker.poll()}):\n{text}"
        worker.kill()  # SIGKILL while it holds the model at its checkpoint
    finally:
        worker.kill()
        worker.wait(timeout=30)
        worker.stderr.close()
    pause_path(store).unlink()
    (ckpt,) = model_checkpoints(store, 0)
    step = _checkpoint_step(ckpt)
    assert step == int(paused.group(1)) > 0
    assert xr.open_zarr(store).status.values[0] == "pending"  # killed before its maps were written

    with caplog.at_level(logging.WARNING, logger="gcs_hpc.campaign"):
        outcome = timed_run_model(store, 0, spec, plan.map_spec, TEST_BACKEND, checkpoint_every_s=EVERY_S)
    assert outcome.status == "done" and outcome.resumed_from_step == step
    assert f"model 0 ({spec.suite}, seed {spec.seed}): resuming from checkpoint" in caplog.text
    assert f"at step {step}" in caplog.text
    assert "paused" not in caplog.text  # the pause file is gone: the rerun runs through
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


def test_paused_model_waits_at_a_checkpoint_and_goes_on_to_the_same_maps(tmp_path, caplog):
    """The store's pause file stops a model right after a checkpoint; removing it lets the model go on to
    the maps of a run never paused."""
    plan = tiny_plan(1)
    spec = plan.models[0]
    store = make_store(tmp_path / "s.zarr", plan)
    pause_path(store).touch()
    outcome: dict[str, str] = {}
    running = threading.Thread(target=lambda: outcome.update(status=run_model(
        store, 0, spec, plan.map_spec, TEST_BACKEND, checkpoint_every_s=0.0)), daemon=True)
    with caplog.at_level(logging.WARNING, logger="gcs_hpc.campaign"):
        running.start()
        deadline = time.monotonic() + WAIT_S
        while "paused at step" not in caplog.text:
            assert running.is_alive() and time.monotonic() < deadline, (outcome, caplog.text)
            time.sleep(0.05)
        step = int(re.search(r"paused at step (\d+)", caplog.text).group(1))
        assert step > 0 and _checkpoint_step(model_checkpoints(store, 0)[0]) == step  # its state is on disk
        assert running.is_alive() and xr.open_zarr(store).status.values[0] == "pending"
        assert str(pause_path(store)) in caplog.text  # the log says how to go on
        pause_path(store).unlink()
        running.join(WAIT_S)
    assert outcome == {"status": "done"}
    assert f"continuing from step {step}" in caplog.text and caplog.text.count("paused at step") == 1
    assert not model_checkpoints(store, 0)
    reference = make_store(tmp_path / "ref.zarr", plan)
    assert run_model(reference, 0, spec, plan.map_spec, TEST_BACKEND) == "done"
    for got, want in zip(_maps(store), _maps(reference)):
        np.testing.assert_array_equal(got, want)
