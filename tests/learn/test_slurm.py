"""jobs/train.sh on the real local SLURM: srun starts two workers whose cluster comes from the step."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest


pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[2]


def test_train_job_runs_two_workers_from_the_srun_step(slurm: str, learn_store: Path,
                                                        tmp_path: Path, learn_env) -> None:
    out, logs = tmp_path / "run", tmp_path / "logs"
    cmd = ["sbatch", "--parsable", "--nodes=1", "--ntasks-per-node=2", "--cpus-per-task=1", "--mem=3G",
           "--time=10", "--chdir", str(REPO), "--output", str(tmp_path / "slurm-%j.out"),
           str(REPO / "jobs" / "train.sh"),
           "--store", str(learn_store), "--arch", "conv2", "--channels", "1", "--epochs", "1",
           "--batch-size", "8", "--out", str(out)]
    proc = subprocess.run(cmd, env=learn_env(GCS_LOG_DIR=str(logs)), capture_output=True, text=True,
                          timeout=60, check=True)
    state = _wait_for_job(proc.stdout.strip().split(";")[0], timeout_s=300)
    log_text = "".join(p.read_text() for p in logs.glob("train-*.log")) if logs.exists() else ""
    assert state == "COMPLETED", state + "\n" + log_text
    summaries = [json.loads((out / "logs" / f"worker-{i}.json").read_text()) for i in range(2)]
    assert [s["n_workers"] for s in summaries] == [2, 2]
    assert summaries[0]["weights_sha256"] == summaries[1]["weights_sha256"]
    assert not set(summaries[0]["models_read"]) & set(summaries[1]["models_read"])
    assert (out / "model.keras").is_file() and "epoch 1/1" in log_text


def _wait_for_job(job_id: str, timeout_s: float) -> str:
    """Poll the job's state every half second (sbatch --wait polls with growing intervals)."""
    deadline = time.monotonic() + timeout_s
    state = "UNKNOWN"
    while time.monotonic() < deadline:
        text = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
        m = re.search(r"JobState=(\w+)", text)
        state = m.group(1) if m else state
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"):
            return state
        time.sleep(0.5)
    subprocess.run(["scancel", job_id])
    return f"still {state} after {timeout_s} s (cancelled)"
