"""Schema version 2: GC phase space, projected half-mass radii and enclosed masses beside the maps;
version-1 stores still open and resume."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.errors import StoreError
from gcs_hpc.store import (ENCLOSED_RADII, PHASE, SCHEMA_VERSION, create_store, model_status, pending_indices,
                           read_enclosed_mass, read_phase_space, read_r_half, schema_version, validate_store,
                           write_model)
from gcs_hpc.store.cube import _create, _expected_attrs, _write_region
from gcs_hpc.store.schema import build_schema, gc_count

from .helpers import fake_model_maps


def fake_summary(index: int, n_gc: int, n_angles: int) -> dict[str, np.ndarray]:
    """Deterministic, distinct summary arrays of model ``index`` with ``n_gc`` GCs."""
    rng = np.random.default_rng(5000 + index)
    radii = np.linspace(1.0, 50.0, len(ENCLOSED_RADII))
    return {"gc_phase_space": np.concatenate([rng.normal(0, 10, (n_gc, 3)), rng.normal(0, 150, (n_gc, 3))],
                                             axis=1),
            "r_half": rng.uniform(2.0, 6.0, n_angles),
            "enclosed_mass": 1e10 * np.cumsum(rng.uniform(1.0, 2.0, len(ENCLOSED_RADII))),
            "enclosed_radius": radii}


def make_v1_store(path, models, map_spec, config_yaml) -> None:
    """A store exactly as the version-1 code created it (same template builder, version 1)."""
    _create(path, build_schema(models, map_spec, None, version=1),
            _expected_attrs(models, map_spec, config_yaml, version=1))


def test_summary_round_trips_exactly_with_nan_padding(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    assert schema_version(path) == SCHEMA_VERSION == 2
    n_gc = [gc_count(m) for m in models]
    assert n_gc == [200, 200, 200, 300, 400]
    for i in (0, 3):
        write_model(path, i, *fake_model_maps(i, map_spec), fake_summary(i, n_gc[i], map_spec.n_angles))
    ds = xr.open_zarr(path)
    assert ds.gc_phase_space.dims == ("model", "gc", "phase")
    assert list(ds.phase.values) == list(PHASE)
    assert list(ds.radius.values) == list(ENCLOSED_RADII)
    assert ds.gc_phase_space.encoding["chunks"] == (1, 400, 6)
    assert ds.r_half.dims == ("model", "angle") and ds.r_half.attrs["units"] == "kpc"
    assert ds.enclosed_mass.attrs["units"] == "Msun" and ds.enclosed_radius.attrs["units"] == "kpc"
    for i in (0, 3):
        want = fake_summary(i, n_gc[i], map_spec.n_angles)
        stored = ds.gc_phase_space.isel(model=i).values
        np.testing.assert_array_equal(stored[:n_gc[i]], want["gc_phase_space"])
        assert np.isnan(stored[n_gc[i]:]).all()  # padding up to the campaign's largest N_gc
        pos, vel = read_phase_space(ds, i)
        np.testing.assert_array_equal(np.concatenate([pos, vel], axis=1), want["gc_phase_space"])
        np.testing.assert_array_equal(ds.r_half.isel(model=i).values, want["r_half"])
        np.testing.assert_array_equal(read_r_half(ds)[i], want["r_half"])
        np.testing.assert_array_equal(ds.enclosed_mass.isel(model=i).values, want["enclosed_mass"])
        assert read_enclosed_mass(ds, "5_r_half")[i] == want["enclosed_mass"][2]
        assert read_enclosed_mass(path, "fov_half")[i] == want["enclosed_mass"][3]
    # Models not written read as NaN; asking for an unwritten phase space is an error naming the model.
    assert np.isnan(read_enclosed_mass(ds, "10_kpc")[[1, 2, 4]]).all()
    with pytest.raises(StoreError, match="model 1 has no GC phase space"):
        read_phase_space(ds, 1)
    with pytest.raises(StoreError, match="radius '3_r_half' is unknown; allowed: r_half, 2_r_half, 5_r_half"):
        read_enclosed_mass(ds, "3_r_half")
    validate_store(path)


def test_a_crash_before_status_leaves_the_model_pending_and_a_rerun_rewrites_it(tmp_path, models, map_spec,
                                                                                config_yaml):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    first = fake_summary(100, 200, map_spec.n_angles)
    _write_region(path, 2, *fake_model_maps(2, map_spec), first)  # killed before status = done
    assert 2 in pending_indices(path)
    create_store(path, models, map_spec, config_yaml)  # the resumed campaign accepts its store
    second = fake_summary(2, 200, map_spec.n_angles)
    write_model(path, 2, *fake_model_maps(2, map_spec), second)
    assert pending_indices(path) == [0, 1, 3, 4]
    ds = xr.open_zarr(path)
    np.testing.assert_array_equal(ds.gc_phase_space.isel(model=2).values[:200], second["gc_phase_space"])
    np.testing.assert_array_equal(ds.enclosed_radius.isel(model=2).values, second["enclosed_radius"])


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("r_half"), "must map exactly gc_phase_space, r_half, enclosed_mass, enclosed_radius"),
    (lambda s: s.update(gc_phase_space=np.zeros((401, 6))), r"shape \(401, 6\); the store expects "
                                                              r"\(n_gc, 6\) with 1 <= n_gc <= 400"),
    (lambda s: s.update(r_half=np.ones(5)), r"r_half of model 1 has shape \(5,\); the store expects \(6,\)"),
    (lambda s: s["enclosed_mass"].__setitem__(0, np.nan), "enclosed_mass of model 1 holds NaN"),
    (lambda s: s["enclosed_radius"].__setitem__(0, 0.0), "enclosed_radius of model 1 must be > 0 kpc"),
])
def test_bad_summary_is_refused_and_nothing_is_written(tmp_path, models, map_spec, config_yaml, change,
                                                       message):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    summary = fake_summary(1, 200, map_spec.n_angles)
    change(summary)
    with pytest.raises(StoreError, match=message):
        write_model(path, 1, *fake_model_maps(1, map_spec), summary)
    ds = xr.open_zarr(path)
    assert np.isnan(ds.maps.isel(model=1).values).all()
    assert np.isnan(ds.gc_phase_space.isel(model=1).values).all()
    assert model_status(path)[1] == "pending"


def test_version_1_store_opens_validates_and_resumes(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "old.zarr"
    make_v1_store(path, models, map_spec, config_yaml)
    assert schema_version(path) == 1
    write_model(path, 0, *fake_model_maps(0, map_spec))  # written by the version-1 campaign
    # The new code resumes it: create_store accepts it, validate_store passes, a write lands.
    create_store(path, models, map_spec, config_yaml)
    validate_store(path)
    assert pending_indices(path) == [1, 2, 3, 4]
    maps, counts = fake_model_maps(4, map_spec)
    write_model(path, 4, maps, counts, fake_summary(4, 400, map_spec.n_angles))  # summary: no arrays for it
    assert pending_indices(path) == [1, 2, 3]
    ds = xr.open_zarr(path)
    assert set(ds.data_vars) == {"maps", "counts"} and "gc" not in ds.sizes
    np.testing.assert_array_equal(ds.maps.isel(model=4).values, maps)
    assert ds.attrs["schema_version"] == 1
    with pytest.raises(StoreError, match=r"no 'enclosed_mass' \(schema version 1; it needs version 2"):
        read_enclosed_mass(ds, "5_r_half")
    # Still refused when it really differs from the campaign (another map spec).
    with pytest.raises(StoreError, match="attribute map_spec differs"):
        create_store(path, models, type(map_spec)(n_angles=7), config_yaml)


def test_unknown_schema_version_is_refused_by_name(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "future.zarr"
    _create(path, build_schema(models, map_spec), {**_expected_attrs(models, map_spec, config_yaml),
                                                   "schema_version": 3})
    with pytest.raises(StoreError, match="schema version 3, which this gcs_hpc .* does not read; "
                                         "allowed: 1, 2"):
        create_store(path, models, map_spec, config_yaml)
