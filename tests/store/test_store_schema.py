"""What a user sees with xr.open_zarr: labelled dims, coordinates, units, attributes, labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import gcs_hpc
from gcs_hpc.errors import StoreError
from gcs_hpc.maps import pixel_centres, viewing_angles
from gcs_hpc.specs import MapSpec
from gcs_hpc.store import (create_store, label_bounds, label_to_mass, mass_to_label, read_map_spec,
                           write_model)

from .helpers import fake_model_maps


def test_open_zarr_shows_labelled_dims_and_coordinates(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    ds = xr.open_zarr(path)
    assert ds.maps.dims == ("model", "angle", "channel", "y", "x")
    assert ds.maps.dtype == np.float32
    assert ds.counts.dims == ("model", "angle", "y", "x")
    assert ds.counts.dtype == np.int32
    # gc: the largest GC number of the campaign (the equal-mass merger: 200 + 200)
    assert ds.sizes == {"model": 5, "angle": 6, "channel": 2, "y": 10, "x": 10, "gc": 400, "phase": 6,
                        "radius": 7}
    assert list(ds.channel.values) == ["sigma", "V"]
    per_model = ["kind", "suite", "M_total", "M_halo", "c", "f_b", "f_bary", "f_rot", "f_v", "m2",
                 "theta_1", "theta_2", "seed", "status", "error"]
    for name in per_model:
        assert name in ds.coords and ds[name].dims == ("model",), name
    for name in ("theta", "phi"):
        assert ds[name].dims == ("angle",)
    assert set(ds.data_vars) == {"maps", "counts", "gc_phase_space", "r_half", "enclosed_mass",
                                 "enclosed_radius"}
    # Values come from the specs; merger-only parameters are NaN for disks; c is NaN where unset.
    assert list(ds.kind.values) == ["disk"] * 3 + ["merger"] * 2
    assert list(ds.suite.values) == ["disk"] * 3 + ["merger"] * 2
    np.testing.assert_array_equal(ds.M_total.values, [m.M_total for m in models])
    np.testing.assert_array_equal(ds.M_halo.values, [m.galaxy.M_halo for m in models])
    np.testing.assert_array_equal(ds.c.values, [np.nan, 10.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(ds.m2.values, [np.nan] * 3 + [0.5, 1.0])
    np.testing.assert_array_equal(ds.theta_1.values, [np.nan] * 3 + [30.0, 90.0])
    np.testing.assert_array_equal(ds.seed.values, [0, 1, 2, 10, 11])
    assert list(ds.status.values) == ["pending"] * 5
    assert list(ds.error.values) == [""] * 5
    theta, phi = viewing_angles(6)
    np.testing.assert_array_equal(ds.theta.values, theta)
    np.testing.assert_array_equal(ds.phi.values, phi)
    np.testing.assert_array_equal(ds.x.values, pixel_centres(map_spec))
    assert ds.x.attrs["units"] == "R_d" and ds.y.attrs["units"] == "R_d"
    # Unwritten models read as NaN maps and -1 counts.
    assert np.isnan(ds.maps.isel(model=0).values).all()
    assert (ds.counts.isel(model=0).values == -1).all()
    # CF units and long_name on every variable and coordinate.
    for name in ds.variables:
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs, name
    assert ds.maps.attrs["units"] == "km s-1"
    assert ds.M_total.attrs["units"] == "Msun"
    # Store attributes.
    assert ds.attrs["gcs_hpc_version"] == gcs_hpc.__version__
    assert ds.attrs["config_yaml"] == config_yaml
    assert "created" in ds.attrs
    assert read_map_spec(path) == map_spec


def test_written_model_round_trips_through_xarray(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    maps, counts = fake_model_maps(3, map_spec)
    write_model(path, 3, maps, counts)
    ds = xr.open_zarr(path)
    np.testing.assert_array_equal(ds.maps.isel(model=3).values, maps)
    np.testing.assert_array_equal(ds.counts.isel(model=3).values, counts)
    np.testing.assert_array_equal(ds.maps.sel(model=3, channel="V").values, maps[:, 1])
    assert list(ds.status.values) == ["pending"] * 3 + ["done", "pending"]
    done = ds.isel(model=(ds.status == "done").values)
    assert done.sizes["model"] == 1 and done.M_total.values.tolist() == [models[3].M_total]


def test_concentration_actually_used_can_be_stored(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "cube.zarr"
    c_used = [8.1, 10.0, 6.5, 9.0, 7.7]
    create_store(path, models, map_spec, config_yaml, coords={"c": c_used})
    np.testing.assert_array_equal(xr.open_zarr(path).c.values, c_used)
    with pytest.raises(StoreError, match="kind.*not an overridable"):
        create_store(tmp_path / "other.zarr", models, map_spec, config_yaml, coords={"kind": ["a"] * 5})
    with pytest.raises(StoreError, match="c has 2 values; expected one per model"):
        create_store(tmp_path / "other.zarr", models, map_spec, config_yaml, coords={"c": [1.0, 2.0]})
    assert not (tmp_path / "other.zarr").exists()


def test_label_scale_spans_the_campaign_masses(tmp_path, models, map_spec, config_yaml):
    path = tmp_path / "cube.zarr"
    create_store(path, models, map_spec, config_yaml)
    attrs = xr.open_zarr(path).attrs
    masses = np.array([m.M_total for m in models])
    lo, hi = attrs["label_log10_mass_min"], attrs["label_log10_mass_max"]
    assert lo <= math.log10(masses.min()) < lo + 0.1 + 1e-9
    assert hi - 0.1 - 1e-9 < math.log10(masses.max()) <= hi
    labels = mass_to_label(masses, attrs)
    assert labels.min() >= 0 and labels.max() <= 10
    np.testing.assert_allclose(label_to_mass(labels, attrs), masses, rtol=1e-12)
    np.testing.assert_allclose(mass_to_label([10**lo, 10**hi], attrs), [0, 10], atol=1e-12)
    assert label_bounds([1e12, 1e12]) == (11.9, 12.1)
    with pytest.raises(StoreError, match="label normalisation"):
        mass_to_label(1e12, {})
    with pytest.raises(ValueError, match="> 0"):
        mass_to_label(-1.0, attrs)


def test_pixel_units_follow_the_field_of_view_unit(tmp_path, models, config_yaml):
    path = tmp_path / "cube.zarr"
    spec = MapSpec(n_angles=3, npix=8, fov=30.0, fov_unit="kpc", smoothing=3.0)
    create_store(path, models, spec, config_yaml)
    ds = xr.open_zarr(path)
    assert ds.x.attrs["units"] == "kpc"
    np.testing.assert_allclose(ds.x.values, np.linspace(-30 / 2 + 30 / 16, 30 / 2 - 30 / 16, 8))
    assert read_map_spec(path) == spec
