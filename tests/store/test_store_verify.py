"""Store health: done models whose chunks are missing or damaged are found and set back to pending; a
read-only store (or empty folder) is refused up front and left as it was (issue 12, probes 4 and 6)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.errors import StoreError
from gcs_hpc.specs import MapSpec
from gcs_hpc.store import create_store, model_status, write_model
from gcs_hpc.store.verify import check_writable, verify_store

from .helpers import fake_model_maps, read_only, small_models


def _store(tmp_path):
    models, spec = small_models(), MapSpec(n_angles=2, npix=4)
    path = tmp_path / "s.zarr"
    create_store(path, models, spec, "name: t\n")
    for i in range(len(models)):
        write_model(path, i, *fake_model_maps(i, spec))
    return path, spec


def test_verify_finds_deleted_and_truncated_chunks_and_sets_them_pending(tmp_path):
    path, spec = _store(tmp_path)
    assert not verify_store(path).broken
    (missing,) = [p for p in (path / "maps" / "c" / "1").rglob("*") if p.is_file()]
    missing.unlink()
    (cut,) = [p for p in (path / "counts" / "c" / "3").rglob("*") if p.is_file()]
    cut.write_bytes(cut.read_bytes()[:5])
    report = verify_store(path)
    assert report.n_done == 5 and report.reset
    assert set(report.broken) == {1, 3}
    assert "maps chunk is missing (reads as its fill value NaN)" in report.broken[1]
    assert "counts chunk cannot be decoded" in report.broken[3]
    assert "2 broken, set back to pending" in report.summary() and "model 3: counts" in report.summary()
    assert list(model_status(path)) == ["done", "pending", "done", "pending", "done"]
    ds = xr.open_zarr(path)
    assert str(ds.error.values[1]).startswith("verify: maps chunk is missing")
    assert np.all(ds.counts.values[3] == -1)  # the damaged chunk was cleared: the store reads again
    write_model(path, 3, *fake_model_maps(3, spec))  # the rerun lands normally
    np.testing.assert_array_equal(xr.open_zarr(path).counts.values[3], fake_model_maps(3, spec)[1])
    assert not verify_store(path).broken  # model 1 is pending now, model 3 holds its data again


def test_read_only_store_is_refused_before_anything_and_left_as_it_was(tmp_path):
    path, _ = _store(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in path.rglob("*")}
    with read_only(path):
        with pytest.raises(StoreError, match=r"s\.zarr' is not writable \(.*(read-only file system|"
                                             r"Permission denied).*nothing was computed or changed"):
            check_writable(path)
    assert {p: p.stat().st_mtime_ns for p in path.rglob("*")} == before


def test_read_only_empty_folder_is_never_replaced(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    inode = folder.stat().st_ino
    with read_only(folder):
        with pytest.raises(StoreError, match=r"empty' exists and is not writable \(read-only\); nothing was "
                                             "written"):
            create_store(folder, small_models(), MapSpec(n_angles=2, npix=4), "name: t\n")
        assert folder.stat().st_ino == inode and not any(folder.iterdir())
    assert folder.is_dir() and folder.stat().st_ino == inode and not any(folder.iterdir())
