"""Region writes, status, resume, refusal of mismatched or corrupt stores (nothing overwritten)."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.errors import StoreError
from gcs_hpc.specs import MapSpec
from gcs_hpc.store import (create_store, mark_failed, model_status, pending_indices, validate_store,
                           write_model)
from gcs_hpc.store.cube import _write_region

from .helpers import fake_model_maps


def checksums(path: Path) -> dict[str, str]:
    """SHA-256 of every file under ``path`` (names relative), to prove nothing changed."""
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def store(tmp_path, models, map_spec, config_yaml) -> Path:
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    return path


def test_status_flow_and_resume(store, map_spec):
    assert pending_indices(store) == [0, 1, 2, 3, 4]
    write_model(store, 1, *fake_model_maps(1, map_spec))
    mark_failed(store, 2, "SimulationError: energy error 0.3 above 0.05 at step 120")
    assert list(model_status(store)) == ["pending", "done", "failed", "pending", "pending"]
    assert pending_indices(store) == [0, 2, 3, 4]  # failed models are retried
    # A failed model that later succeeds is done, its error cleared.
    write_model(store, 2, *fake_model_maps(2, map_spec))
    assert pending_indices(store) == [0, 3, 4]
    import xarray as xr

    assert list(xr.open_zarr(store).error.values) == [""] * 5
    with pytest.raises(StoreError, match="model 1 is done; refusing to mark it failed"):
        mark_failed(store, 1, "late failure")
    assert model_status(store)[1] == "done"


def test_identical_rewrite_is_a_no_op_on_content(store, map_spec):
    write_model(store, 0, *fake_model_maps(0, map_spec))
    before = checksums(store)
    write_model(store, 0, *fake_model_maps(0, map_spec))
    assert checksums(store) == before


@pytest.mark.parametrize(
    ("index", "maps_shape", "counts_shape", "match"),
    [
        (5, None, None, "model index 5 is out of range; allowed 0 .. 4"),
        (-1, None, None, "out of range"),
        (0, (6, 2, 10, 9), None, r"maps of model 0 have shape \(6, 2, 10, 9\)"),
        (0, None, (5, 10, 10), r"counts of model 0 have shape \(5, 10, 10\)"),
    ],
)
def test_bad_writes_are_refused_and_write_nothing(store, map_spec, index, maps_shape, counts_shape, match):
    maps, counts = fake_model_maps(0, map_spec)
    if maps_shape:
        maps = np.zeros(maps_shape, np.float32)
    if counts_shape:
        counts = np.zeros(counts_shape, np.int32)
    write_model(store, 0, *fake_model_maps(0, map_spec))
    before = checksums(store)
    with pytest.raises(StoreError, match=match):
        write_model(store, index, maps, counts)
    assert checksums(store) == before
    assert model_status(store)[0] == "done"


def test_non_finite_maps_are_refused(store, map_spec):
    maps, counts = fake_model_maps(0, map_spec)
    maps[0, 0, 0, 0] = np.nan
    with pytest.raises(StoreError, match="NaN or inf"):
        write_model(store, 0, maps, counts)
    assert model_status(store)[0] == "pending"


def test_reopening_with_the_same_campaign_is_accepted_and_keeps_results(store, models, map_spec,
                                                                         config_yaml):
    write_model(store, 4, *fake_model_maps(4, map_spec))
    before = checksums(store)
    create_store(store, models, map_spec, config_yaml)
    assert checksums(store) == before
    assert pending_indices(store) == [0, 1, 2, 3]


def _mismatches(models, map_spec, config_yaml):
    other_models = list(models)
    other_models[2] = dataclasses.replace(models[2], seed=99)
    heavier = list(models)
    heavier[0] = dataclasses.replace(models[0], galaxy=dataclasses.replace(models[0].galaxy, M_halo=4e11))
    return [
        ((models, map_spec, config_yaml + "extra: 1\n"), "config_yaml differs"),
        ((models, dataclasses.replace(map_spec, smoothing=0.5), config_yaml), "attribute map_spec differs"),
        ((models, dataclasses.replace(map_spec, n_angles=7), config_yaml), "chunks"),
        ((models[:4], map_spec, config_yaml), r"shape \(5,\) differs from \(4,\)"),
        ((other_models, map_spec, config_yaml), "seed differs at model 2"),
        ((heavier, map_spec, config_yaml), "M_total differs at model 0"),
    ]


def test_mismatched_store_is_refused_without_changes(store, models, map_spec, config_yaml):
    write_model(store, 0, *fake_model_maps(0, map_spec))
    before = checksums(store)
    for args, match in _mismatches(models, map_spec, config_yaml):
        with pytest.raises(StoreError, match=match) as info:
            create_store(store, *args)
        assert "nothing was written" in str(info.value)
        assert checksums(store) == before


def test_corrupt_or_foreign_paths_give_clear_errors(tmp_path, store, models, map_spec, config_yaml):
    validate_store(store)
    shutil.rmtree(store / "counts")
    with pytest.raises(StoreError, match="array 'counts' is missing"):
        validate_store(store)
    with pytest.raises(StoreError, match="array 'counts' is missing"):
        write_model(store, 0, *fake_model_maps(0, map_spec))
    before = checksums(store)
    with pytest.raises(StoreError, match="array 'counts' is missing"):
        create_store(store, models, map_spec, config_yaml)
    assert checksums(store) == before
    status_chunk = store / "status" / "c" / "0"
    status_chunk.parent.mkdir(parents=True, exist_ok=True)
    status_chunk.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="corrupt: status cannot be read"):
        model_status(store)
    with pytest.raises(StoreError, match="does not exist"):
        model_status(tmp_path / "nowhere.zarr")
    foreign = tmp_path / "results"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(StoreError, match="not a zarr v3 store"):
        create_store(foreign, models, map_spec, config_yaml)
    assert (foreign / "thesis.tex").read_text() == "precious"
    empty = tmp_path / "empty"
    empty.mkdir()
    create_store(empty, models, map_spec, config_yaml)  # an empty folder is fine
    validate_store(empty)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_region_write_alone_does_not_mark_done(store, map_spec):
    _write_region(store, 3, *fake_model_maps(3, map_spec))
    assert model_status(store)[3] == "pending"
    assert 3 in pending_indices(store)


def test_small_fov_unit_store_reads_back_its_spec(tmp_path, models, config_yaml):
    from gcs_hpc.store import read_map_spec

    spec = MapSpec(n_angles=2, npix=4, fov=3.0, fov_unit="R_half", smoothing=0.0, empty_fill=50.0)
    create_store(tmp_path / "c.zarr", models, spec, config_yaml)
    assert read_map_spec(tmp_path / "c.zarr") == spec
