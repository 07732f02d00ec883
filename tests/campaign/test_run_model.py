"""run_model: one real model end to end into its store region; a physics failure is recorded, not raised."""

from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from gcs_hpc.campaign.plan import CampaignPlan
from gcs_hpc.campaign.run_model import run_model, timed_run_model

from .helpers import TEST_BACKEND, make_store, tiny_plan


def test_model_lands_in_its_region_only_and_is_deterministic(tmp_path):
    plan = tiny_plan(3)
    store = make_store(tmp_path / "a.zarr", plan)
    assert run_model(store, 1, plan.models[1], plan.map_spec, backend=TEST_BACKEND) == "done"
    ds = xr.open_zarr(store)
    assert list(ds.status.values) == ["pending", "done", "pending"]
    maps = ds.maps.isel(model=1).values
    counts = ds.counts.isel(model=1).values
    assert maps.shape == (plan.map_spec.n_angles, 2, plan.map_spec.npix, plan.map_spec.npix)
    assert np.isfinite(maps).all()
    # every GC inside the field is counted; the tiny model keeps most of its 200 GCs in 1.2 R_d
    assert 0 < counts.sum(axis=(1, 2)).min() <= plan.models[1].galaxy.n_gc
    assert (maps[:, 0][counts > 0] > 0).any()  # sigma is positive where GCs are
    # the same spec again, in another store: bit-identical maps (NumPy backend determinism)
    other = make_store(tmp_path / "b.zarr", plan)
    fresh = xr.open_zarr(other)
    for name in ("maps", "counts"):  # the other models' regions still hold the template's fill values
        np.testing.assert_array_equal(ds[name].isel(model=[0, 2]).values,
                                      fresh[name].isel(model=[0, 2]).values)
    index, status, seconds, reason, resumed = timed_run_model(other, 1, plan.models[1], plan.map_spec,
                                                              TEST_BACKEND)
    assert (index, status, reason, resumed) == (1, "done", "", 0) and seconds > 0
    np.testing.assert_array_equal(xr.open_zarr(other).maps.isel(model=1).values, maps)


def test_failed_physics_check_is_recorded_with_its_reason(tmp_path):
    plan = tiny_plan(2, energy_tolerance=1e-12)  # no leapfrog conserves energy to 1e-12
    store = make_store(tmp_path / "s.zarr", plan)
    index, status, _, reason, _ = timed_run_model(store, 0, plan.models[0], plan.map_spec, TEST_BACKEND)
    assert status == "failed" and "SimulationError" in reason and "energy" in reason.lower()
    ds = xr.open_zarr(store)
    assert list(ds.status.values) == ["failed", "pending"]
    assert str(ds.error.values[0]) == reason
    assert "model 0" in reason  # names the model


def test_mixed_plan_models_keep_their_own_presets(tmp_path):
    """A plan may hold models with different presets: the spec travels with the task."""
    plan = tiny_plan(2)
    strict = dataclasses.replace(plan.models[1], preset=dataclasses.replace(plan.models[1].preset,
                                                                            energy_tolerance=1e-12))
    mixed = CampaignPlan(plan.config, (plan.models[0], strict), plan.map_spec, plan.config_yaml)
    store = make_store(tmp_path / "m.zarr", mixed)
    assert run_model(store, 0, mixed.models[0], mixed.map_spec, TEST_BACKEND) == "done"
    assert run_model(store, 1, mixed.models[1], mixed.map_spec, TEST_BACKEND) == "failed"
