"""The farm on a real dask LocalCluster (worker processes): worker killed mid-model, physics failures.

Real physics throughout (tiny preset, short runs); the store is checked model by model.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.campaign.cluster import ClusterConfig, start_cluster
from gcs_hpc.campaign.farm import farm_models
from gcs_hpc.campaign.plan import CampaignPlan
from gcs_hpc.campaign.progress import Progress
from gcs_hpc.campaign.run_model import model_checkpoints, pause_path, run_model
from gcs_hpc.store import model_status

from .helpers import TEST_BACKEND, make_store, tiny_plan

#: Upper bound for each awaited event (a failure guard only; on an idle machine they take seconds).
WAIT_S = 300


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    config = ClusterConfig(kind="local", workers=2, dashboard_address="127.0.0.1:0",
                           local={"threads_per_worker": 1, "processes": True})
    with start_cluster(config) as cluster, Client(cluster) as dask_client:
        dask_client.wait_for_workers(2, timeout=WAIT_S)
        yield dask_client


def _executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def test_worker_killed_mid_model_reruns_it_and_every_model_lands_once(client, tmp_path):
    # The store's pause file holds every model at its first checkpoint (a checkpoint every step or so), so
    # the worker is killed mid-model by construction, never after a guessed number of seconds.
    plan = tiny_plan(3, t_end_disk=0.5, t_end_merger=0.5)
    store = make_store(tmp_path / "s.zarr", plan)
    pids = client.run(os.getpid)
    killed: dict[str, object] = {}

    def kill_a_worker_mid_model() -> None:
        deadline = time.monotonic() + WAIT_S
        try:
            while time.monotonic() < deadline:
                for worker, keys in client.run(_executing).items():
                    indices = [int(key.split("-")[2]) for key in keys]
                    # a model paused on this worker: checkpoint on disk, maps not yet written
                    paused = [i for i in indices if model_checkpoints(store, i)]
                    if paused:
                        killed.update(worker=worker, index=paused[0],
                                      status_at_kill=model_status(store).tolist())
                        os.kill(pids[worker], signal.SIGKILL)
                        return
                time.sleep(0.05)
        finally:
            pause_path(store).unlink()  # let the models go on (the killed one on another worker)

    pause_path(store).touch()
    killer = threading.Thread(target=kill_a_worker_mid_model, daemon=True)
    killer.start()
    report = farm_models(client, plan, store, list(range(3)), backend=TEST_BACKEND, retries=0,
                         max_failures=None, checkpoint_every_s=0.0)
    killer.join(timeout=WAIT_S)
    assert killed, "no model was caught running to kill its worker"
    index = killed["index"]
    assert killed["status_at_kill"][index] == "pending"
    # every model reported exactly once, and done, in the store as in the report
    assert sorted(report.finished) == [0, 1, 2]
    assert report.statuses == {i: "done" for i in range(3)} and not report.stopped
    assert list(model_status(store)) == ["done"] * 3
    assert report.resumed.get(index, 0) > 0  # the rerun resumed from the killed attempt's checkpoint
    # the model whose worker died holds exactly what a clean run of its spec gives
    reference = make_store(tmp_path / "ref.zarr", plan)
    assert run_model(reference, index, plan.models[index], plan.map_spec, TEST_BACKEND) == "done"
    got, want = xr.open_zarr(store), xr.open_zarr(reference)
    np.testing.assert_array_equal(got.maps.isel(model=index).values, want.maps.isel(model=index).values)
    np.testing.assert_array_equal(got.counts.isel(model=index).values, want.counts.isel(model=index).values)
    # the nanny restarted the killed worker: as many workers as before, none of them the killed process
    client.wait_for_workers(len(pids), timeout=WAIT_S)
    after = client.run(os.getpid)
    assert len(after) == len(pids) and pids[killed["worker"]] not in after.values()


def test_failed_models_are_recorded_and_the_rest_go_on(client, tmp_path):
    plan = tiny_plan(4)
    models = list(plan.models)
    for i in (1, 2):  # these two cannot pass an energy check of 1e-12
        models[i] = dataclasses.replace(models[i], preset=dataclasses.replace(models[i].preset,
                                                                              energy_tolerance=1e-12))
    plan = CampaignPlan(plan.config, tuple(models), plan.map_spec, plan.config_yaml)
    store = make_store(tmp_path / "s.zarr", plan)
    lines = []

    class Lines:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    progress = Progress(total=4, interactive=False, interval_s=0.0, stream=Lines())
    report = farm_models(client, plan, store, list(range(4)), backend=TEST_BACKEND, max_failures=None,
                         progress=progress)
    assert report.statuses == {0: "done", 1: "failed", 2: "failed", 3: "done"}
    assert not report.stopped
    ds = xr.open_zarr(store)
    assert list(ds.status.values) == ["done", "failed", "failed", "done"]
    for i in (1, 2):
        assert "SimulationError" in str(ds.error.values[i]) and str(ds.error.values[i]) == report.failures[i]
    assert str(ds.error.values[0]) == "" and str(ds.error.values[3]) == ""
    text = "".join(lines)
    assert "4/4" not in text and "2/4 done, 2 failed" in text and "models/h" in text


def test_max_failures_stops_the_farm_and_leaves_the_rest_pending(client, tmp_path):
    plan = tiny_plan(6, energy_tolerance=1e-12)
    store = make_store(tmp_path / "s.zarr", plan)
    report = farm_models(client, plan, store, list(range(6)), backend=TEST_BACKEND, max_failures=2)
    assert report.stopped and report.n_failed == 2 and report.n_done == 0
    # models already running when the farm stopped may still finish (failed); the rest never ran
    status = list(model_status(store))
    assert status.count("failed") >= 2 and "pending" in status and "done" not in status


def _scheduler_tasks(dask_scheduler) -> tuple[int, int]:
    return len(dask_scheduler.tasks), len(dask_scheduler.task_groups)


def test_submission_window_bounds_the_scheduler_and_nothing_is_left_after(client, tmp_path):
    """At most ``window`` model tasks exist at once (2 workers x 2 < window 5), topped up as models finish;
    afterwards neither the scheduler nor the client holds any task of the campaign."""
    n, window = 14, 5
    plan = tiny_plan(n, t_end_disk=0.05, t_end_merger=0.05)
    store = make_store(tmp_path / "s.zarr", plan)
    seen: list[int] = []

    def observe(index: int, status: str) -> None:  # called by the farm as each model finishes
        seen.append(client.run_on_scheduler(_scheduler_tasks)[0])

    report = farm_models(client, plan, store, list(range(n)), backend=TEST_BACKEND, max_failures=None,
                         window=window, on_result=observe)
    assert sorted(report.finished) == list(range(n)) and report.n_done == n
    assert list(model_status(store)) == ["done"] * n
    assert report.max_in_flight == window  # the window was used to the full, never more
    assert len(seen) == n and max(seen) <= window, seen
    deadline = time.monotonic() + WAIT_S  # releases reach the scheduler asynchronously (a failure guard)
    while client.run_on_scheduler(_scheduler_tasks) != (0, 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.run_on_scheduler(_scheduler_tasks) == (0, 0)
    assert not client.futures and not client.refcount
