"""Workers with a lifetime shorter than a model: every model still lands exactly once.

A real LocalCluster whose worker processes leave after a few seconds (distributed's ``--lifetime``, as the
SLURM cluster files set it below the job walltime); each model's N-body run is longer than a worker's
life, so it can finish only by resuming from its checkpoints on the replacement workers the farm starts.
"""

from __future__ import annotations

import dask
import pytest

import gcs_hpc.campaign.farm as farm
from gcs_hpc.campaign.cluster import ClusterConfig, start_cluster
from gcs_hpc.store import model_status

from .helpers import TEST_BACKEND, make_store, tiny_plan

pytestmark = pytest.mark.slow


def test_models_longer_than_a_worker_lifetime_resume_on_new_workers(tmp_path, monkeypatch):
    from distributed import Client

    monkeypatch.setattr(farm, "REPLACE_POLL_S", 0.5)
    plan = tiny_plan(2, t_end_disk=8.0, t_end_merger=8.0)  # ~6 s of N-body each on an idle core
    store = make_store(tmp_path / "s.zarr", plan)
    config = ClusterConfig(kind="local", workers=2, dashboard_address="127.0.0.1:0", retries=0,
                           checkpoint_every_s=0.3,
                           local={"threads_per_worker": 1, "processes": True, "lifetime": "5s",
                                  "lifetime_stagger": "1s"})
    results = []
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0.5s"}):
        with start_cluster(config) as cluster, Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            report = farm.farm_models(client, plan, store, [0, 1], backend=TEST_BACKEND, retries=0,
                                      max_failures=None, checkpoint_every_s=config.checkpoint_every_s,
                                      on_result=lambda i, s: results.append((i, s)))
    # every model once, done; none lost to the workers that left mid-model
    assert sorted(results) == [(0, "done"), (1, "done")], report.failures
    assert list(model_status(store)) == ["done", "done"]
    assert report.workers_replaced >= 2  # the farm restarted the workers that reached their lifetime
    # the models were cut off by a worker's end and resumed from their checkpoints, not restarted at 0
    assert report.resumed and all(step > 0 for step in report.resumed.values()), report
    assert not list((tmp_path / "s.zarr.checkpoints").iterdir())
