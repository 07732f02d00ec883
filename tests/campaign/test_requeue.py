"""`jobs/campaign.sh` requeued mid-run on the real local SLURM (.ci/slurm-up): the requeued job resumes the
same store, runs only the models not yet done (the one cut off resumes from its N-body checkpoint), leaves
the models done before the requeue untouched, and creates nothing others can read or write.

No timing: once two models are done the test creates the store's pause file (``<store>.pause``), so the
next model stops at its first checkpoint and waits; the test requeues the job only after the job's log
says so (``paused at step N``). The requeue therefore always cuts a model off after a checkpoint, however
fast or slow the machine; every wait is for an event (a status in the store, a log line, a job state)."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time

import pytest

from gcs_hpc.campaign.run_model import pause_path
from gcs_hpc.store import model_status

from .helpers import REPO, TEST_BACKEND, TINY_CONFIG
from .test_cli_faults import _chunk_mtimes

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
N = 8
#: Upper bound for the whole test's events (a failure guard only; ~1 min on an idle machine).
WAIT_S = 900


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _text(log) -> str:
    return log.read_text() if log.exists() else "(no log yet)"


def _job(job_id: str) -> dict[str, str]:
    info = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True,
                          timeout=30).stdout
    return dict(re.findall(r"(\w+)=(\S+)", info))


def test_requeued_campaign_job_resumes_the_same_store(slurm, tmp_path):
    config = tmp_path / "tiny-long.yaml"  # longer models: more than two done before the test can pause
    config.write_text(TINY_CONFIG.read_text().replace("{t_end_disk: 0.2, t_end_merger: 0.2}",
                                                      "{t_end_disk: 1.5, t_end_merger: 1.5}"))
    cluster = tmp_path / "inside.yaml"  # a checkpoint every step or so: a model pauses at its first steps
    cluster.write_text("kind: local\nworkers: 1\ndashboard_address: 127.0.0.1:0\ncheckpoint_every_s: 0.001\n"
                       "local: {threads_per_worker: 1, processes: true}\n")
    store = tmp_path / "requeue.zarr"
    submit = subprocess.run(
        ["sbatch", "--parsable", "--job-name", "gcs-test-requeue", "--mem", "2G", "--time", "00:30:00",
         str(REPO / "jobs" / "campaign.sh"), "--n-models", str(N), "--config", str(config), "--cluster",
         str(cluster), "--store", str(store), "--backend", TEST_BACKEND, "--progress-interval", "2"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert submit.returncode == 0, submit.stderr
    job_id = submit.stdout.strip().split(";")[0]
    log = tmp_path / "logs" / f"campaign-{job_id}.log"
    try:
        deadline = time.monotonic() + WAIT_S

        def wait_for(event, what: str) -> None:
            while not event():
                assert _job(job_id)["JobState"] in ("PENDING", "RUNNING", "CONFIGURING"), _text(log)
                assert time.monotonic() < deadline, f"{what} not seen in {WAIT_S} s:\n{_text(log)}"
                time.sleep(0.05)

        wait_for(lambda: store.exists() and list(model_status(store)).count("done") >= 2, "two models done")
        pause_path(store).touch()  # the next model to reach a checkpoint stops there and waits
        wait_for(lambda: "paused at step" in _text(log), "a model paused")
        requeue = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=30)
        assert requeue.returncode == 0, requeue.stderr
        # the first run is gone once SLURM has the job back in the queue
        while _job(job_id)["JobState"] != "PENDING":
            assert time.monotonic() < deadline and _job(job_id)["JobState"] != "COMPLETED"
            time.sleep(0.1)
        status = list(model_status(store))
        done_before = [i for i, s in enumerate(status) if s == "done"]
        mtimes = {i: _chunk_mtimes(store, i) for i in done_before}
        checkpoints = list((tmp_path / "requeue.zarr.checkpoints").glob("*.npz"))
        assert 2 <= len(done_before) < N, status
        pause_path(store).unlink()  # the requeued run goes through
        # SLURM holds a requeued job back for a while (Reason=BeginTime); release it now
        subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], timeout=30)
        while _job(job_id)["JobState"] in ("PENDING", "REQUEUED", "RUNNING", "CONFIGURING", "COMPLETING"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
    finally:
        subprocess.run(["scancel", job_id], timeout=30)
    info, text = _job(job_id), log.read_text()
    assert (info["JobState"], info["ExitCode"], info["Restarts"]) == ("COMPLETED", "0:0", "1"), text
    left = N - len(done_before)
    # the requeued run found the store and ran only what was missing, each model once
    assert "(restart 1)" in text
    assert f"{len(done_before)} of {N} models done; running {left}" in text, text
    assert f"campaign summary: {left} done and 0 failed of {left} run" in text, text
    assert list(model_status(store)) == ["done"] * N
    for i in done_before:  # untouched: no chunk of a model done before the requeue was written again
        assert _chunk_mtimes(store, i) == mtimes[i]
    assert checkpoints  # the model cut off by the requeue resumed from its checkpoint
    assert "resuming from checkpoint" in text and "1 models resumed from their N-body checkpoints" in text
    assert text.count("paused at step") == 1  # only the model held for the requeue paused
    assert not (tmp_path / "requeue.zarr.checkpoints").exists()  # swept when the campaign finished
    # owner-only: store, checkpoints and logs (the job script's umask 077)
    for top in (store, tmp_path / "logs"):
        for path in [top, *top.rglob("*")]:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path}: {oct(path.stat().st_mode)}"
