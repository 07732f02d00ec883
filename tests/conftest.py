"""Shared test set-up: markers, dask config isolation, the local SLURM, the shared/ data folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# dask_jobqueue writes ~/.config/dask on import unless DASK_CONFIG points elsewhere.
os.environ.setdefault("DASK_CONFIG", tempfile.mkdtemp(prefix="gcs_hpc_dask_config_"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_collection_modifyitems(config, items):
    from gcs_hpc.xp import has_cupy

    if not has_cupy():
        skip = pytest.mark.skip(reason="gpu test: no CuPy/CUDA device on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data with the SLUGGS catalogues (Forbes et al. 2017); skips when absent."""
    if not (SHARED_DATA / "forbes2017_gc_velocities.tsv").is_file():
        pytest.skip(f"real GC catalogues not found at {SHARED_DATA} (../shared is not part of the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def slurm() -> str:
    """Start (once) the real single-node SLURM on localhost with .ci/slurm-up; return the node name.

    Skips with the reason when SLURM cannot be started here (not root, packages missing).
    """
    script = REPO / ".ci" / "slurm-up"
    if not script.is_file():
        pytest.skip(".ci/slurm-up is missing")
    if shutil.which("slurmctld") is None:
        pytest.skip("slurmctld is not installed (apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        pytest.skip("the local SLURM test set-up runs as root")
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        pytest.fail(f".ci/slurm-up failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]
