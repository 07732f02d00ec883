"""200 micro models on worker jobs of the real local SLURM (.ci/slurm-up): every model done exactly
once, the scheduler never holds more than the submission window, nothing is left on it afterwards, and a
worker whose job ends mid-campaign (scancel, as at its walltime) is replaced by a new SLURM job.
Measurements of the same farm at this scale are in benchmarks/farm_scale.py."""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import dask
import pytest

from gcs_hpc.campaign.cluster import load_cluster_config, start_cluster
from gcs_hpc.campaign.config import load_campaign_config
import gcs_hpc.campaign.farm as farm
from gcs_hpc.campaign.farm import farm_models, submission_window
from gcs_hpc.campaign.monitor import SchedulerMonitor
from gcs_hpc.campaign.plan import plan_campaign
from gcs_hpc.store import model_status

from .helpers import REPO, TEST_BACKEND, make_store

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
N_MODELS, N_JOBS = 200, 4


def test_200_models_on_slurm_worker_jobs_each_done_exactly_once(slurm, tmp_path, monkeypatch):
    from distributed import Client

    plan = plan_campaign(load_campaign_config(REPO / "configs" / "models" / "micro.yaml"), N_MODELS)
    store = make_store(tmp_path / "scale.zarr", plan)
    cluster_file = tmp_path / "scale.yaml"
    cluster_file.write_text(
        f"kind: slurm\nworkers: {N_JOBS}\nbackend: {TEST_BACKEND}\ndashboard_address: 127.0.0.1:0\n"
        f"retries: 1\ncheckpoint_every_s: null\nsecurity_directory: {tmp_path / 'credentials'}\n"
        "slurm:\n  cores: 1\n  processes: 1\n  memory: 1GiB\n  walltime: '00:10:00'\n"
        "  job_name: gcs-test-scale\n"
        "  worker_extra_args: ['--lifetime', '5m', '--lifetime-stagger', '30s']\n"
        f"  local_directory: {tmp_path / 'scratch'}\n  log_directory: {tmp_path / 'logs'}\n")
    config = load_cluster_config(cluster_file)
    window = submission_window(config.planned_threads)
    seen: Counter[int] = Counter()
    cancelled: list[str] = []

    def on_result(index: int, status: str) -> None:
        seen.update([index])
        if sum(seen.values()) == N_MODELS // 4:  # a worker job ends mid-campaign (as at its walltime)
            job = next(iter(cluster.workers.values()))
            cancelled.append(job.job_id)
            subprocess.run(["scancel", job.job_id], timeout=30, check=True)

    monkeypatch.setattr(farm, "REPLACE_POLL_S", 0.5)
    # replace workers 1 s after they leave (default 15 s, for jobs that vanish without a word)
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "1s"}), \
            start_cluster(config) as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tls://")  # the production path: TLS, worker jobs
        client.wait_for_workers(1, timeout=180)
        with SchedulerMonitor(client, interval_s=0.2) as monitor:
            report = farm_models(client, plan, store, list(range(N_MODELS)), backend=config.backend,
                                 retries=config.retries, max_failures=None, window=window,
                                 on_result=on_result)
        after = monitor.wait_until_idle()
    assert report.failures == {} and not report.stopped
    assert seen == Counter(range(N_MODELS))  # every model reported exactly once
    assert sorted(report.finished) == list(range(N_MODELS))
    assert list(model_status(store)) == ["done"] * N_MODELS
    # bounded scheduler state: never more model tasks than the window (4 one-thread workers -> 8)
    assert window == 8 and report.max_in_flight <= window
    assert 0 < monitor.peak["n_tasks"] <= window, monitor.peak
    assert after["n_tasks"] == 0 and after["n_task_groups"] == 0
    # the worker whose job was cancelled mid-campaign was replaced by a new worker job
    assert cancelled and report.workers_replaced >= 1
    deadline = time.monotonic() + 60
    while _jobs("gcs-test-scale") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _jobs("gcs-test-scale")  # the cluster cancelled its worker jobs on exit


def _jobs(name: str) -> list[str]:
    return subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True,
                          timeout=30).stdout.split()
