"""The campaign on the real single-node SLURM (.ci/slurm-up): sbatch jobs/campaign.sh, and SLURMCluster
worker jobs submitted from the CLI. Tiny models; the store is checked model by model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
import xarray as xr

from .helpers import REPO, TEST_BACKEND, TINY_CONFIG

pytestmark = pytest.mark.slurm


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _sbatch_and_wait(args: list[str], cwd, timeout: float = 420) -> tuple[str, str, str]:
    """Submit, poll scontrol every 0.5 s (sbatch --wait backs off to tens of seconds); return
    (job id, final state, exit code)."""
    proc = subprocess.run(["sbatch", "--parsable", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    job_id = proc.stdout.strip().split(";")[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True,
                              timeout=30).stdout
        state = re.search(r"JobState=(\S+)", info).group(1)
        if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED"):
            return job_id, state, re.search(r"ExitCode=(\S+)", info).group(1)
        time.sleep(0.5)
    subprocess.run(["scancel", job_id], timeout=30)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def _squeue_jobs(name: str) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-n", name, "-o", "%i"], capture_output=True, text=True, timeout=30)
    return out.stdout.split()


def test_sbatch_campaign_script_fills_the_store(slurm, tmp_path):
    store = tmp_path / "batch.zarr"
    job_id, state, exit_code = _sbatch_and_wait(
        ["--job-name", "gcs-test-campaign", "--mem", "2G", "--time", "00:10:00",
         str(REPO / "jobs" / "campaign.sh"), "--n-models", "4", "--config", str(TINY_CONFIG), "--store",
         str(store), "--workers", "2", "--backend", TEST_BACKEND, "--progress-interval", "2"], tmp_path)
    logs = sorted((tmp_path / "logs").glob("campaign-*.log"))
    log = logs[0].read_text() if logs else "(no campaign log)"
    assert (state, exit_code) == ("COMPLETED", "0:0"), log
    assert logs == [tmp_path / "logs" / f"campaign-{job_id}.log"]
    assert "python /" in log  # the interpreter it ran is logged
    assert "campaign summary: 4 done and 0 failed of 4 run" in log
    assert "campaign: " in log and "models/h" in log  # periodic lines in the batch log
    ds = xr.open_zarr(store)
    assert list(ds.status.values) == ["done"] * 4
    assert (ds.counts.sum(dim=("y", "x")) > 0).all()
    # requeue-safe: the same command again finds every model done
    job_id, state, _ = _sbatch_and_wait(["--job-name", "gcs-test-campaign", "--mem", "2G",
                                         str(REPO / "jobs" / "campaign.sh"), "--n-models", "4", "--config",
                                         str(TINY_CONFIG), "--store", str(store)], tmp_path)
    assert state == "COMPLETED"
    second = (tmp_path / "logs" / f"campaign-{job_id}.log").read_text()
    assert "nothing to run: every model is done" in second


def test_cli_submits_worker_jobs_through_slurmcluster(slurm, tmp_path):
    cluster = tmp_path / "node.yaml"
    cluster.write_text(
        "kind: slurm\nworkers: 2\nbackend: compiled\ndashboard_address: 127.0.0.1:0\nretries: 1\n"
        f"security_directory: {tmp_path / 'credentials'}\n"
        "slurm:\n  cores: 1\n  processes: 1\n  memory: 1GiB\n  walltime: '00:10:00'\n"
        "  job_name: gcs-test-worker\n"
        "  worker_extra_args: ['--lifetime', '9m', '--lifetime-stagger', '30s']\n"
        f"  local_directory: {tmp_path / 'scratch'}\n")
    store = tmp_path / "slurm.zarr"
    proc = subprocess.run(
        [sys.executable, "-m", "gcs_hpc.campaign", "--n-models", "4", "--config", str(TINY_CONFIG),
         "--cluster", str(cluster), "--store", str(store), "--progress-interval", "2"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=420)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "slurm cluster, 2 workers, backend compiled" in proc.stdout
    assert "dask scheduler: listening on tls://" in proc.stdout  # TLS with campaign-made credentials by default
    assert "campaign summary: 4 done and 0 failed of 4 run" in proc.stdout
    assert list(xr.open_zarr(store).status.values) == ["done"] * 4
    worker_logs = list((tmp_path / "logs" / "workers").glob("*.err"))
    assert worker_logs, "the worker jobs wrote no logs"
    assert any("Starting Worker" in p.read_text() or "Start worker" in p.read_text() for p in worker_logs)
    assert not _squeue_jobs("gcs-test-worker")  # the campaign cancelled its worker jobs on exit
