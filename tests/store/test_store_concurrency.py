"""Real OS processes writing one store: concurrent writers, killed writers, racing creators."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.store import create_store, model_status, pending_indices, validate_store, write_model

from .helpers import fake_model_maps
from .writers import (CONFIG, MAP_SPEC, N_MODELS, create, models, write_forever, write_models,
                      write_region_then_hang)

SPAWN = mp.get_context("spawn")  # fresh interpreters, as on a cluster (no forked zarr threads)


def _content(path: Path) -> dict[str, bytes]:
    """Every file of the store but the root metadata (which holds the creation time) and zarr's
    temporary files."""
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file() and p.relative_to(path) != Path("zarr.json") and ".partial" not in p.name}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The cube written by one writer, model after model."""
    path = tmp_path_factory.mktemp("reference") / "cube.zarr"
    create_store(path, models(), MAP_SPEC, CONFIG)
    for i in range(N_MODELS):
        write_model(path, i, *fake_model_maps(i, MAP_SPEC))
    return path


def _new_store(tmp_path: Path) -> Path:
    path = tmp_path / "cube.zarr"
    create_store(path, models(), MAP_SPEC, CONFIG)
    return path


def _assert_same_cube(path: Path, reference: Path) -> None:
    assert _content(path) == _content(reference)
    assert xr.open_zarr(path).load().identical(xr.open_zarr(reference).load().assign_attrs(
        created=xr.open_zarr(path).attrs["created"]))


def test_concurrent_writers_give_the_cube_of_one_writer(tmp_path, reference):
    path = _new_store(tmp_path)
    barrier = SPAWN.Barrier(3)
    procs = [SPAWN.Process(target=write_models, args=(str(path), list(range(k, N_MODELS, 3)), barrier))
             for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert pending_indices(path) == []
    _assert_same_cube(path, reference)


def test_writer_killed_between_maps_and_status_leaves_model_pending(tmp_path, reference):
    path = _new_store(tmp_path)
    for i in range(N_MODELS):
        if i != 5:
            write_model(path, i, *fake_model_maps(i, MAP_SPEC))
    parent, child = SPAWN.Pipe()
    proc = SPAWN.Process(target=write_region_then_hang, args=(str(path), 5, child))
    proc.start()
    assert parent.poll(60) and parent.recv() == "region written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    assert model_status(path)[5] == "pending"
    assert pending_indices(path) == [5]
    validate_store(path)
    for i in pending_indices(path):  # the rerun
        write_model(path, i, *fake_model_maps(i, MAP_SPEC))
    _assert_same_cube(path, reference)


@pytest.mark.parametrize("delay_s", [0.0, 0.15, 0.4])
def test_writer_killed_mid_write_never_leaves_a_wrong_done_model(tmp_path, reference, delay_s):
    path = _new_store(tmp_path)
    parent, child = SPAWN.Pipe()
    proc = SPAWN.Process(target=write_forever, args=(str(path), child))
    proc.start()
    assert parent.poll(60) and parent.recv() == "started"
    time.sleep(delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(timeout=30)
    validate_store(path)
    ds = xr.open_zarr(path).load()  # every chunk is readable: no torn files
    for i, status in enumerate(model_status(path)):
        if status == "done":
            np.testing.assert_array_equal(ds.maps.values[i], fake_model_maps(i, MAP_SPEC)[0])
        else:
            assert status == "pending"
    for i in pending_indices(path):
        write_model(path, i, *fake_model_maps(i, MAP_SPEC))
    assert pending_indices(path) == []
    _assert_same_cube(path, reference)


def test_racing_creators_make_one_valid_store(tmp_path):
    path = tmp_path / "cube.zarr"
    barrier = SPAWN.Barrier(3)
    procs = [SPAWN.Process(target=create, args=(str(path), barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    validate_store(path)
    assert pending_indices(path) == list(range(N_MODELS))
    assert [p.name for p in tmp_path.iterdir()] == ["cube.zarr"]
