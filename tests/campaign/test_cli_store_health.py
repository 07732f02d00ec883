"""The campaign CLI and an unhealthy store (issue 12, probes 4 and 6), through ``python -m gcs_hpc.campaign``:
a read-only store (or empty folder) is refused before any cluster starts or model runs; ``--verify`` (and a
plain resume) finds done models whose maps chunk was deleted and the rerun computes just those again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.store import model_status

from ..store.helpers import read_only
from .helpers import REPO, TEST_BACKEND, TINY_CONFIG, make_store, tiny_plan

N_MODELS = 3


def _campaign(store: Path, *extra: str, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "gcs_hpc.campaign", "--n-models", str(N_MODELS), "--config",
           str(TINY_CONFIG), "--store", str(store), "--workers", "1", "--backend", TEST_BACKEND, *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(cmd, cwd=store.parent, env=env, capture_output=True, text=True, timeout=timeout)


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _maps_chunks(store: Path, index: int) -> list[Path]:
    return [p for p in (store / "maps" / "c" / str(index)).rglob("*") if p.is_file()]


@pytest.mark.parametrize("kind", ["store", "empty folder"])
def test_read_only_store_is_refused_before_any_model_runs(tmp_path, kind):
    store = tmp_path / "ro.zarr"
    if kind == "store":
        make_store(store, tiny_plan(N_MODELS))      # every model pending: a resume would run all three
    else:
        store.mkdir()
    before = _files(store)
    with read_only(store):
        proc = _campaign(store, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    assert f"error: store '{store}' is not writable (" in err, err
    assert re.search(r"(read-only file system|Permission denied)", err), err
    assert "nothing was computed or changed" in err and "another --store" in err
    assert "Traceback" not in err
    # refused before the store was opened for the run: no cluster, no model, no checkpoint, nothing changed
    assert "models done; running" not in proc.stdout and "done and 0 failed" not in proc.stdout
    assert _files(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ro.zarr"]
    if kind == "store":
        assert list(model_status(store)) == ["pending"] * N_MODELS


def test_verify_finds_a_deleted_maps_chunk_and_the_rerun_computes_it_again(tmp_path):
    store = tmp_path / "s.zarr"
    first = _campaign(store)
    assert first.returncode == 0, first.stdout + first.stderr
    assert list(model_status(store)) == ["done"] * N_MODELS
    maps = xr.open_zarr(store).maps.values.copy()
    assert np.isfinite(maps).all()
    kept = {p: p.stat().st_mtime_ns for p in _maps_chunks(store, 0)}

    for chunk in _maps_chunks(store, 1):            # model 1 is "done" but its maps are gone
        chunk.unlink()
    verify = _campaign(store, "--verify", timeout=120)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert f"verify {store}: {N_MODELS} done models checked; 1 broken, set back to pending" in verify.stdout
    assert "model 1: maps chunk is missing (reads as its fill value NaN)" in verify.stdout
    assert list(model_status(store)) == ["done", "pending", "done"]

    for chunk in _maps_chunks(store, 2):            # a plain resume verifies too
        chunk.unlink()
    rerun = _campaign(store)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "model 2: maps chunk is missing" in rerun.stdout
    assert f"1 of {N_MODELS} models done; running 2" in rerun.stdout
    assert list(model_status(store)) == ["done"] * N_MODELS
    again = xr.open_zarr(store).maps.values
    np.testing.assert_array_equal(again, maps)      # the same seeds give the same maps back
    assert {p: p.stat().st_mtime_ns for p in _maps_chunks(store, 0)} == kept   # model 0 was not rerun
    clean = _campaign(store, "--verify", timeout=120)
    assert f"{N_MODELS} done models checked; every one holds readable, complete data" in clean.stdout
