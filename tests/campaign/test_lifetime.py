"""Workers with a lifetime shorter than a model: every model still lands exactly once.

A real LocalCluster whose worker processes leave after 30 +- 2 seconds (distributed's ``--lifetime``, as the
SLURM cluster files set it below the job walltime). No model can finish before its worker's end, however
fast the machine: the store's pause file (``<store>.pause``) holds every model at its first checkpoint.
The test lets them go on only after events, never after a number of seconds: each model's checkpoint was
taken over by a new attempt (its file renamed to the new attempt's name: the worker that held it left),
the farm said it restarted the workers that left, and the worker processes that ran the models' first
attempts have exited. The models then finish only by resuming from their
checkpoints on the replacement workers.
"""

from __future__ import annotations

import os
import re
import threading
import time

import dask
import psutil
import pytest

import gcs_hpc.campaign.farm as farm
from gcs_hpc.campaign.cluster import ClusterConfig, start_cluster
from gcs_hpc.campaign.progress import Progress
from gcs_hpc.campaign.run_model import model_checkpoints, pause_path
from gcs_hpc.store import model_status

from .helpers import TEST_BACKEND, make_store, tiny_plan

pytestmark = pytest.mark.slow
#: Upper bound for each awaited event (a failure guard only: on an idle machine they take seconds).
WAIT_S = 300


class _Lines:
    """A progress stream that keeps the lines written to it."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def restarted(self) -> int:
        """Workers the farm said it restarts."""
        return sum(int(n) for n in re.findall(r"restarting (\d+) worker\(s\) that left", self.text))


def _executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def _workers_running(client, index: int) -> set[int]:
    """Process ids of the workers running model ``index`` now."""
    pids = client.run(os.getpid, on_error="ignore")
    running = client.run(_executing, on_error="ignore")
    return {pids[w] for w, keys in running.items() if w in pids
            and any(int(key.split("-")[2]) == index for key in keys)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_models_longer_than_a_worker_lifetime_resume_on_new_workers(tmp_path, monkeypatch):
    from distributed import Client

    monkeypatch.setattr(farm, "REPLACE_POLL_S", 0.5)
    plan = tiny_plan(2, t_end_disk=0.5, t_end_merger=0.5)
    store = make_store(tmp_path / "s.zarr", plan)
    config = ClusterConfig(kind="local", workers=2, dashboard_address="127.0.0.1:0", retries=0,
                           checkpoint_every_s=1e-3,  # a checkpoint every step or so: paused at step >= 1
                           local={"threads_per_worker": 1, "processes": True, "lifetime": "30s",
                                  "lifetime_stagger": "2s"})
    results, outcome, lines = [], {}, _Lines()
    progress = Progress(total=2, interactive=False, interval_s=3600.0, stream=lines)
    pause_path(store).touch()  # every model stops at its first checkpoint: none can outlive its worker

    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0.5s"}):
        with start_cluster(config) as cluster, Client(cluster) as client:
            client.wait_for_workers(2, timeout=WAIT_S)

            def run_farm() -> None:
                try:
                    outcome["report"] = farm.farm_models(
                        client, plan, store, [0, 1], backend=TEST_BACKEND, retries=0, max_failures=None,
                        checkpoint_every_s=config.checkpoint_every_s, progress=progress,
                        on_result=lambda i, s: results.append((i, s)))
                except BaseException as exc:  # reported by the assertions below
                    outcome["error"] = exc

            # the processes that run the models' first attempts (from t = 0): the first workers, and any
            # worker seen running a model when its first checkpoint appears
            first_workers = set(client.run(os.getpid).values())
            farming = threading.Thread(target=run_farm, daemon=True)
            farming.start()
            deadline = time.monotonic() + WAIT_S
            first: dict[int, set[str]] = {}  # checkpoint files of the attempt each model paused in first

            def each_model_moved_to_a_new_worker() -> bool:
                for index in (0, 1):
                    names = {path.name for path in model_checkpoints(store, index)}
                    if index not in first:
                        if names:
                            first[index] = names
                            first_workers.update(_workers_running(client, index))
                    elif names - first[index]:  # a new attempt took the checkpoint over
                        first[index] = set()
                return len(first) == 2 and not any(first.values())

            # Events: each model's checkpoint taken over by a new attempt, the farm restarted the workers
            # that left, and every process that held a first attempt has exited (a worker closing at the
            # end of its lifetime waits a while for its running task: unpaused then, that would finish).
            while not (each_model_moved_to_a_new_worker() and lines.restarted() >= 2
                       and not any(_alive(pid) for pid in first_workers)):
                assert farming.is_alive(), (outcome, lines.text)
                assert time.monotonic() < deadline, f"events not seen in {WAIT_S} s: {first}\n{lines.text}"
                time.sleep(0.05)
            assert not results  # nothing finished while paused
            pause_path(store).unlink()
            farming.join(WAIT_S)
            assert not farming.is_alive(), f"the farm did not finish in {WAIT_S} s:\n{lines.text}"
    assert "error" not in outcome, outcome
    report = outcome["report"]
    # every model once, done; none lost to the workers that left mid-model
    assert sorted(results) == [(0, "done"), (1, "done")], report.failures
    assert list(model_status(store)) == ["done", "done"]
    assert report.workers_replaced >= 2  # the farm restarted the workers that reached their lifetime
    # the models were cut off by a worker's end and resumed from their checkpoints, not restarted at 0
    # (a resumed attempt that ends just as its own worker leaves is run again and reported from t = 0:
    # distributed drops the result of a worker already retired, so not every model need be reported)
    assert report.resumed and all(step > 0 for step in report.resumed.values()), report
    assert not list((tmp_path / "s.zarr.checkpoints").iterdir())
