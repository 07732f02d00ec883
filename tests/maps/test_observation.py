"""The observation model: exact maps of hand-made GC sets, statistics of its draws, determinism, the
validated YAML, and the campaign's stored-angle maps re-made from the stored phase space."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.errors import ConfigError
from gcs_hpc.maps.observation import (ObservationSpec, isotropic_directions, load_observation, nearest_angle,
                                      observe_views, view_maps)
from gcs_hpc.specs import MapSpec

REPO = Path(__file__).resolve().parents[2]
IDEAL = ObservationSpec(name="ideal")
#: 2 x 2 pixels of 1 kpc, no smoothing: every pixel's value is its own GCs' mean and ddof = 1 dispersion.
GRID = MapSpec(npix=2, fov=2.0, fov_unit="kpc", smoothing=0.0, empty_fill=-7.0)


def face_on_phase_space() -> tuple[np.ndarray, np.ndarray]:
    """Four GCs and one NaN padding row. Seen face-on (theta = 0, phi = 0) the sky is x = pos_y,
    y = -pos_x and v_los = -vel_z."""
    pos = np.array([[-0.5, 0.5, 0.0], [-0.5, 0.3, 1.0], [0.5, 0.5, 0.0], [0.5, -0.5, 3.0], [np.nan] * 3])
    vel = np.array([[0, 0, -100.0], [0, 0, -200.0], [9.0, 9.0, 50.0], [0, 0, -30.0], [np.nan] * 3])
    return pos, vel


def test_hand_made_gcs_give_exact_maps():
    pos, vel = face_on_phase_space()
    maps, counts = view_maps(pos[None], vel[None], [0.0], [0.0], [1.0], IDEAL, GRID,
                             np.random.default_rng(0))
    # pixel (iy, ix): GCs 0 and 1 at (x, y) = (0.5, 0.5), (0.3, 0.5) -> (1, 1); GC 2 at (0.5, -0.5) ->
    # (0, 1); GC 3 at (-0.5, -0.5) -> (0, 0); pixel (1, 0) is empty.
    np.testing.assert_array_equal(counts[0], [[1, 1], [0, 2]])
    np.testing.assert_allclose(maps[0, 1], [[30.0, -50.0], [-7.0, 150.0]], rtol=1e-6)  # V
    np.testing.assert_allclose(maps[0, 0], [[0.0, 0.0], [-7.0, np.sqrt(5000.0)]], rtol=1e-6)  # sigma
    # Seen edge-on from +x (theta = 90, phi = 0): x = pos_y, y = pos_z, v_los = -vel_x; only GC 2 moves
    # along x. GC 1 (z = 1) and GC 3 (z = 3) leave the 2 kpc field (the edge is exclusive).
    maps, counts = view_maps(pos[None], vel[None], [90.0], [0.0], [1.0], IDEAL, GRID,
                             np.random.default_rng(0))
    np.testing.assert_array_equal(counts[0], [[0, 0], [0, 2]])
    np.testing.assert_allclose(maps[0, 1, 1, 1], -4.5, rtol=1e-6)


def test_views_of_different_models_in_one_call_equal_separate_calls():
    rng = np.random.default_rng(1)
    pos = rng.normal(0, 5, (3, 50, 3))
    vel = rng.normal(0, 100, (3, 50, 3))
    pos[1, 40:] = np.nan  # a model with fewer GCs
    vel[1, 40:] = np.nan
    theta, phi = isotropic_directions(3, rng)
    spec = MapSpec(fov=20.0, fov_unit="kpc", smoothing=2.0)
    together = view_maps(pos, vel, theta, phi, np.full(3, 4.0), IDEAL, spec, np.random.default_rng(2))
    for i in range(3):
        alone = view_maps(pos[i:i + 1], vel[i:i + 1], theta[i:i + 1], phi[i:i + 1], [4.0], IDEAL, spec,
                          np.random.default_rng(2))
        np.testing.assert_array_equal(together[1][i], alone[1][0])
        np.testing.assert_allclose(together[0][i], alone[0][0], rtol=1e-6, atol=1e-4)
    assert together[1][1].sum() <= 40


def many_views(n_views: int, n_gc: int = 200, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    pos = np.repeat(rng.normal(0.0, 4.0, (1, n_gc, 3)), n_views, axis=0)
    vel = np.repeat(rng.normal(0.0, 150.0, (1, n_gc, 3)), n_views, axis=0)
    theta, phi = isotropic_directions(n_views, rng)
    return pos, vel, theta, phi


def test_subsampling_is_uniform_in_number_and_fair_to_every_gc():
    pos, vel, theta, phi = many_views(4000)
    obs = ObservationSpec(n_gc=(50, 150))
    sky = observe_views(pos, vel, theta, phi, np.ones(4000), np.full(4000, 20.0), obs,
                        np.random.default_rng(4))
    n_seen = sky.seen.sum(axis=1)
    assert n_seen.min() == 50 and n_seen.max() == 150
    # uniform on 50..150: mean 100, variance (101^2 - 1) / 12 = 850; standard errors 0.46 and ~13
    assert abs(n_seen.mean() - 100.0) < 2.0
    assert abs(n_seen.var() - 850.0) < 60.0
    # every GC is seen in half the views on average (binomial se 0.008 per GC over 4000 views)
    per_gc = sky.seen.mean(axis=0)
    assert np.all(np.abs(per_gc - 0.5) < 0.05)
    # more wanted than there are: all of them
    sky = observe_views(pos[:10], vel[:10], theta[:10], phi[:10], np.ones(10), np.full(10, 20.0),
                        ObservationSpec(n_gc=(300, 400)), np.random.default_rng(4))
    assert sky.seen.all()


def test_radial_coverage_in_r_half_keeps_only_gcs_inside():
    pos, vel, theta, phi = many_views(500)
    r_half = np.random.default_rng(5).uniform(1.0, 3.0, 500)
    obs = ObservationSpec(r_inner=0.5, r_outer=2.0, radius_unit="R_half")
    sky = observe_views(pos, vel, theta, phi, r_half, np.full(500, 20.0), obs, np.random.default_rng(6))
    radius = np.hypot(sky.x_kpc, sky.y_kpc)
    inside = (radius >= 0.5 * r_half[:, None]) & (radius <= 2.0 * r_half[:, None])
    np.testing.assert_array_equal(sky.seen, inside)


def test_lognormal_velocity_errors_have_the_asked_median_spread_and_variance():
    pos, vel, theta, phi = many_views(200)
    obs = ObservationSpec(v_err="lognormal", v_err_median_kms=13.0, v_err_spread_dex=0.22)
    sky = observe_views(pos, vel, theta, phi, np.ones(200), np.full(200, 20.0), obs, np.random.default_rng(7))
    truth = observe_views(pos, vel, theta, phi, np.ones(200), np.full(200, 20.0), IDEAL,
                          np.random.default_rng(7))
    err = sky.v_err_kms.ravel()  # 40,000 draws
    assert abs(np.median(err) / 13.0 - 1.0) < 0.02
    assert abs(np.std(np.log10(err)) - 0.22) < 0.005
    delta = (sky.v_kms - truth.v_kms).ravel()
    assert abs(delta.mean()) < 4 * np.sqrt(np.mean(err**2) / len(err))
    # the added noise has the variance of the errors (relative se of the variance ~1.5% here)
    assert abs(np.mean(delta**2) / np.mean(err**2) - 1.0) < 0.05
    assert abs(np.mean((delta / err) ** 2) - 1.0) < 0.03


def test_uniform_errors_stay_in_their_range():
    pos, vel, theta, phi = many_views(50)
    obs = ObservationSpec(v_err="uniform", v_err_range_kms=(5.0, 25.0))
    sky = observe_views(pos, vel, theta, phi, np.ones(50), np.full(50, 20.0), obs, np.random.default_rng(8))
    assert sky.v_err_kms.min() >= 5.0 and sky.v_err_kms.max() <= 25.0
    assert abs(sky.v_err_kms.mean() - 15.0) < 0.3  # se 5.8 / sqrt(10,000)


def test_interlopers_come_at_their_rate_spread_and_place():
    pos, vel, theta, phi = many_views(1000)
    obs = ObservationSpec(interloper_fraction=0.1, interloper_sigma_kms=400.0, r_inner=1.0, r_outer=6.0,
                          radius_unit="kpc")
    sky = observe_views(pos, vel, theta, phi, np.ones(1000), np.full(1000, 20.0), obs,
                        np.random.default_rng(9))
    n_seen = sky.seen.sum()
    frac = sky.interloper.sum() / n_seen
    assert abs(frac - 0.1) < 4 * np.sqrt(0.09 / n_seen)
    v_int = sky.v_kms[sky.interloper]
    assert abs(np.std(v_int) / 400.0 - 1.0) < 0.05
    r_int = np.hypot(sky.x_kpc, sky.y_kpc)[sky.interloper]
    assert r_int.min() >= 1.0 and r_int.max() <= 6.0
    # uniform in area: the median radius of the annulus 1..6 kpc is sqrt((1 + 36) / 2) = 4.30 kpc
    assert abs(np.median(r_int) - np.sqrt(18.5)) < 0.1


def test_same_seed_same_maps_other_seed_other_maps():
    pos, vel, theta, phi = many_views(64)
    obs = load_observation(REPO / "configs" / "observation" / "sluggs.yaml")
    spec = obs.map_spec(MapSpec())
    args = (pos[:, :, :], vel, theta, phi, np.full(64, 3.0), obs, spec)
    a = view_maps(*args, np.random.default_rng(11))
    b = view_maps(*args, np.random.default_rng(11))
    c = view_maps(*args, np.random.default_rng(12))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_nearest_angle_counts_opposite_lines_of_sight_as_one():
    stored_theta, stored_phi = np.array([0.0, 90.0, 90.0]), np.array([0.0, 0.0, 90.0])
    idx = nearest_angle([179.0, 91.0, 88.0], [10.0, 178.0, 91.0], stored_theta, stored_phi)
    np.testing.assert_array_equal(idx, [0, 1, 2])


def test_yaml_is_validated_with_the_file_and_key_named(tmp_path):
    assert load_observation(REPO / "configs" / "observation" / "ideal.yaml").is_ideal
    assert load_observation("sluggs") == load_observation(REPO / "configs" / "observation" / "sluggs.yaml")
    sluggs = load_observation(REPO / "configs" / "observation" / "sluggs.yaml")
    assert not sluggs.is_ideal and sluggs.maps.fov_unit == "R_half" and sluggs.n_gc == (20, 330)
    cases = {"n_gcs: [1, 2]\n": "unknown key 'observation.n_gcs'; allowed keys: interloper_fraction",
             "n_gc: [50, 20]\n": r"observation.n_gc = \[50, 20\]: low end exceeds high end",
             "n_gc: [1.5, 20]\n": r"observation.n_gc\[0\] = 1.5 has the wrong type; expected an integer",
             "v_err: gaussian\n": "observation.v_err = 'gaussian' is not allowed; allowed values: 'none'",
             "interloper_fraction: 0.9\n": r"observation.interloper_fraction = 0.9 is out of range; "
                                           r"allowed range \[0.0, 0.5\]",
             "r_inner: 3.0\nr_outer: 2.0\n": r"observation.r_outer = 2.0 is out of range",
             "maps: {fov_unit: parsec}\n": "observation.maps.fov_unit = 'parsec' is not allowed"}
    for text, message in cases.items():
        path = tmp_path / "obs.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=message) as info:
            load_observation(path)
        assert str(path) in str(info.value)


def test_stored_angle_maps_from_the_stored_phase_space_equal_the_campaigns(tmp_path):
    """A real tiny model through the campaign's run_model; then every stored angle re-made from the
    store's GC phase space and R_half with the ideal observation model."""
    from gcs_hpc.campaign.plan import CampaignPlan
    from gcs_hpc.campaign.run_model import run_model
    from gcs_hpc.galaxy.models import galaxy_models
    from gcs_hpc.store import create_store, read_enclosed_mass, read_map_spec, read_phase_space
    from gcs_hpc.units import kpc_to_sim, sim_to_msun

    from tests.campaign.helpers import TEST_BACKEND, tiny_plan

    plan = tiny_plan(1)
    map_spec = MapSpec(n_angles=12, fov=6.0, fov_unit="R_half", smoothing=0.6)
    plan = CampaignPlan(plan.config, plan.models, map_spec, plan.config_yaml)
    store = tmp_path / "s.zarr"
    create_store(store, plan.models, map_spec, plan.config_yaml)
    assert run_model(store, 0, plan.models[0], map_spec, backend=TEST_BACKEND) == "done"
    ds = xr.open_zarr(store)
    pos, vel = read_phase_space(ds, 0)
    assert len(pos) == plan.models[0].galaxy.n_gc
    r_half = ds.r_half.isel(model=0).values
    obs = load_observation(REPO / "configs" / "observation" / "ideal.yaml")
    spec = obs.map_spec(read_map_spec(store))
    n = map_spec.n_angles
    maps, counts = view_maps(np.repeat(pos[None], n, 0), np.repeat(vel[None], n, 0), ds.theta.values,
                             ds.phi.values, r_half, obs, spec, np.random.default_rng(0))
    np.testing.assert_array_equal(counts, ds.counts.isel(model=0).values)
    np.testing.assert_allclose(maps, ds.maps.isel(model=0).values, rtol=1e-5, atol=1e-3)
    # Enclosed total mass: grows with radius, and at 50 kpc matches the initial model's analytic profile
    # (a stable disk at t = 1; 2,000 particles: a few percent of shot noise).
    radii = ds.enclosed_radius.isel(model=0).values
    mass = ds.enclosed_mass.isel(model=0).values
    order = np.argsort(radii)
    assert np.all(np.diff(mass[order]) >= 0)
    np.testing.assert_allclose(radii[list(ds.radius.values).index("r_half")], r_half.mean(), rtol=1e-12)
    model = galaxy_models(plan.models[0])[0]
    analytic = sim_to_msun(float(model.potential.enclosed_mass(np.array([kpc_to_sim(50.0)]))[0]))
    assert abs(read_enclosed_mass(ds, "50_kpc")[0] / analytic - 1.0) < 0.1
    assert read_enclosed_mass(ds, "50_kpc")[0] <= plan.models[0].M_total * (1 + 1e-9)


def test_ideal_spec_fields_are_the_defaults():
    assert IDEAL.is_ideal
    assert not dataclasses.replace(IDEAL, interloper_fraction=0.01).is_ideal


def test_a_real_catalogue_and_a_simulated_view_of_the_same_gcs_give_the_same_map():
    """observe's map of a catalogue equals view_maps of a phase space holding the same GCs seen face-on
    (theta = 0, phi = 0: sky x = pos_y, y = -pos_x, v_los = -vel_z): one map maker for both."""
    from gcs_hpc.observe.galaxies import Galaxy
    from gcs_hpc.observe.observed_maps import make_observed_maps
    from gcs_hpc.observe.project import ProjectedGCs

    galaxy = Galaxy("NGC 1", distance_mpc=10.0, v_sys_kms=1000.0, ra_deg=150.0, dec_deg=10.0,
                    r_eff_arcsec=41.25)
    rng = np.random.default_rng(21)
    x_east, y_north = rng.normal(0.0, 3.0, (2, 150))
    v_los = rng.normal(0.0, 120.0, 150)
    spec = MapSpec(npix=10, fov=6.0, fov_unit="R_half", smoothing=0.6)
    observed = make_observed_maps(ProjectedGCs(x_east, y_north, v_los, np.zeros(150)), galaxy, spec)
    x_map, y_map = -x_east, y_north  # the observed map's axes (observe.observed_maps notes)
    pos = np.stack([-y_map, x_map, np.zeros(150)], axis=1)
    vel = np.stack([np.zeros(150), np.zeros(150), -v_los], axis=1)
    maps, counts = view_maps(pos[None], vel[None], [0.0], [0.0], [galaxy.r_eff_kpc], IDEAL, spec,
                             np.random.default_rng(0))
    np.testing.assert_array_equal(counts[0], observed.counts)
    np.testing.assert_allclose(maps[0], observed.maps, rtol=1e-6, atol=1e-4)
