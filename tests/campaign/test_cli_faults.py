"""The whole campaign from the command line on a real LocalCluster: killed and resumed, failures, exit
codes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import xarray as xr

from gcs_hpc.store import model_status

from .helpers import REPO, TEST_BACKEND, TINY_CONFIG


def _command(store: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gcs_hpc.campaign", "--n-models", "6", "--config", str(TINY_CONFIG),
            "--store", str(store), "--workers", "2", "--backend", TEST_BACKEND, "--progress-interval", "1",
            *extra]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _chunk_mtimes(store: Path, index: int) -> dict[str, int]:
    files = [p for p in (store / "maps").rglob("*") if p.is_file() and p.relative_to(store / "maps").parts[:2]
             == ("c", str(index))]
    return {str(p): p.stat().st_mtime_ns for p in files}


def test_campaign_killed_then_rerun_resumes_only_the_missing_models(tmp_path):
    store = tmp_path / "run.zarr"
    proc = subprocess.Popen(_command(store), cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and list(model_status(store)).count("done") >= 2:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "campaign finished before it could be killed:\n" + proc.stdout.read()
        proc.send_signal(signal.SIGKILL)  # the client and scheduler die at once, no clean-up
        proc.wait(timeout=30)
    finally:
        try:  # its orphaned worker processes (started by us, same session)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    status = list(model_status(store))
    done_before = [i for i, s in enumerate(status) if s == "done"]
    assert 2 <= len(done_before) < 6, status
    mtimes = {i: _chunk_mtimes(store, i) for i in done_before}
    assert all(mtimes.values())

    rerun = subprocess.run(_command(store), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    left = 6 - len(done_before)
    assert f"{len(done_before)} of 6 models done; running {left}" in rerun.stdout
    assert re.search(rf"{left} done and 0 failed of {left} run", rerun.stdout), rerun.stdout
    assert list(model_status(store)) == ["done"] * 6
    for i in done_before:  # models done before the kill were not computed again
        assert _chunk_mtimes(store, i) == mtimes[i]
    again = subprocess.run(_command(store), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0 and "nothing to run" in again.stdout


def test_failures_up_to_max_failures_then_a_clear_stop(tmp_path):
    config = tmp_path / "strict.yaml"
    config.write_text(TINY_CONFIG.read_text().replace(
        "preset_overrides: {t_end_disk: 0.2, t_end_merger: 0.2}",
        "preset_overrides: {t_end_disk: 0.2, t_end_merger: 0.2, energy_tolerance: 1.0e-12}"))
    store = tmp_path / "strict.zarr"
    cmd = [sys.executable, "-m", "gcs_hpc.campaign", "--n-models", "6", "--config", str(config),
           "--store", str(store), "--workers", "1", "--backend", TEST_BACKEND, "--max-failures", "2"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "stopped after 2 failed models (--max-failures 2)" in proc.stderr
    assert "SimulationError" in proc.stdout  # the reasons are listed
    ds = xr.open_zarr(store)
    status = list(ds.status.values)
    assert status.count("failed") >= 2 and "pending" in status and "done" not in status
    for s, error in zip(status, ds.error.values):
        assert ("energy" in str(error).lower()) == (s == "failed")
