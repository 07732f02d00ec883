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

# dask_jobqueue writes ~/.config/dask on import unless DASK_CONFIG points elsewhere (removed at the end).
_DASK_CONFIG = None if "DASK_CONFIG" in os.environ else tempfile.mkdtemp(prefix="gcs_hpc_dask_config_")
if _DASK_CONFIG is not None:
    os.environ["DASK_CONFIG"] = _DASK_CONFIG
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
#: Where tests must never write: the campaign's default credential folder (security_directory).
HOME_STATE = Path.home() / ".gcs_hpc"
#: Ignored paths every test run makes (caches, the editable install's metadata).
_EXPECTED_IGNORED = ("__pycache__/", ".pytest_cache/", ".egg-info/")
_SOURCE_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".toml", ".cfg", ".sh", "/")


def pytest_collection_modifyitems(config, items):
    from gcs_hpc.xp import has_cupy

    if not has_cupy():
        skip = pytest.mark.skip(reason="gpu test: no CuPy/CUDA device on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


def _home_state() -> dict[str, float]:
    """Files and folders under ~/.gcs_hpc with their modification times (empty when it does not exist)."""
    if not HOME_STATE.exists():
        return {}
    return {str(p): p.stat().st_mtime for p in [HOME_STATE, *HOME_STATE.rglob("*")]}


def _repo_leftovers() -> set[str] | None:
    """Untracked and ignored paths of the working tree that are not caches (None outside a git checkout)."""
    try:
        proc = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.splitlines()
    # ignored outputs (stores, logs, slurm-N.out ...) anywhere; untracked files unless they are sources
    # (someone editing the tree while the tests run adds those)
    paths = {line[3:] for line in lines if line.startswith("!! ")} | {
        line[3:] for line in lines if line.startswith("?? ") and not line.endswith(_SOURCE_SUFFIXES)}
    return {p for p in paths if not any(part in p for part in _EXPECTED_IGNORED)}


@pytest.fixture(scope="session", autouse=True)
def writes_nothing_outside_tmp():
    """Fail the session when its tests wrote into ~/.gcs_hpc or left files in the repository (e.g. a
    ``slurm-N.out``, a store, logs); remove this session's DASK_CONFIG folder.

    Compares the state before and after the session, so files that were already there are not counted;
    edits made in the working tree by hand while the tests run would be (run the suite on a quiet tree).
    """
    home_before, repo_before = _home_state(), _repo_leftovers()
    yield
    if _DASK_CONFIG is not None:
        shutil.rmtree(_DASK_CONFIG, ignore_errors=True)
    problems = []
    home_after = _home_state()
    changed = sorted(p for p, t in home_after.items() if home_before.get(p) != t)
    if changed:
        problems.append(f"tests wrote under {HOME_STATE} (point security_directory into tmp_path): "
                        f"{', '.join(changed[:5])}")
    repo_after = _repo_leftovers()
    if repo_before is not None and repo_after is not None and repo_after - repo_before:
        problems.append(f"tests left files in the repository {REPO} (write only inside tmp_path; sbatch "
                        f"--output/--chdir into tmp_path): {', '.join(sorted(repo_after - repo_before)[:10])}")
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


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
