"""Fresh views each epoch from the store's GC phase space: determinism, fairness, the ideal model's
equality with the stored maps, refusal of version-1 stores, and a real training run with --observation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn import views
from gcs_hpc.maps import ENCLOSED_RADII, view_maps
from gcs_hpc.maps.observation import ObservationSpec, load_observation
from gcs_hpc.specs import MapSpec

from .conftest import SIGMA_1E12_KMS, build_store, synthetic_specs

REPO = Path(__file__).resolve().parents[2]
SLUGGS = REPO / "configs" / "observation" / "sluggs.yaml"
IDEAL = REPO / "configs" / "observation" / "ideal.yaml"


def build_phase_space_store(path: Path, n_models: int = 12, n_angles: int = 8,
                            map_spec: MapSpec | None = None) -> Path:
    """A version-2 store of synthetic GC systems: isotropic Gaussians whose dispersion grows as
    M^(1/3), with rotation f_rot; maps made from them along the stored angles (ideal observation) on
    ``map_spec`` (default: 6 R_half wide, smoothing 0.6 R_half; its n_angles is replaced)."""
    import dataclasses

    from gcs_hpc import store
    from gcs_hpc.maps import viewing_angles

    specs = synthetic_specs(n_models, 0, 0, seed=1)
    map_spec = MapSpec(fov=6.0, fov_unit="R_half", smoothing=0.6) if map_spec is None else map_spec
    map_spec = dataclasses.replace(map_spec, n_angles=n_angles)
    store.create_store(path, specs, map_spec, "# synthetic phase-space store\n")
    theta, phi = viewing_angles(n_angles)
    for i, spec in enumerate(specs):
        rng = np.random.default_rng(100 + i)
        scale = (spec.M_total / 1e12) ** (1 / 3)
        n_gc = spec.galaxy.n_gc
        pos = rng.normal(0.0, 8.0 * scale, (n_gc, 3))
        vel = rng.normal(0.0, SIGMA_1E12_KMS * scale, (n_gc, 3))
        vel[:, :2] += 80.0 * spec.galaxy.f_rot * np.stack([-pos[:, 1], pos[:, 0]], axis=1) / (8.0 * scale)
        r_half = 3.0 * scale * (1.0 + 0.05 * np.cos(np.radians(theta)))
        maps, counts = view_maps(np.repeat(pos[None], n_angles, 0), np.repeat(vel[None], n_angles, 0), theta,
                                 phi, r_half, ObservationSpec(), map_spec, rng)
        radii = np.linspace(1.0, 50.0, len(ENCLOSED_RADII))
        summary = {"gc_phase_space": np.concatenate([pos, vel], axis=1), "r_half": r_half,
                   "enclosed_mass": spec.M_total * radii / 60.0, "enclosed_radius": radii}
        store.write_model(path, i, maps, counts, summary)
    return path


@pytest.fixture(scope="module")
def phase_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_phase_space_store(tmp_path_factory.mktemp("views") / "ps.zarr")


def test_ideal_observation_at_stored_angles_gives_the_stored_maps(phase_store):
    source = views.ObservedStoreMaps(phase_store, 2, IDEAL)
    stored = xr.open_zarr(phase_store).maps.isel(model=[2, 7]).values
    np.testing.assert_allclose(source.read_models([2, 7]), stored, rtol=1e-5, atol=1e-3)
    assert source.models_read == {2, 7}


def test_fresh_views_are_deterministic_new_each_epoch_and_fair(phase_store):
    source = views.ObservedStoreMaps(phase_store, 2, SLUGGS)
    assert source.npix == 10 and source.map_spec.fov == 8.0
    images = np.stack([np.arange(12).repeat(8), np.tile(np.arange(8), 12)], axis=1)

    def epoch(e: int) -> list:
        return list(views.iterate_view_batches(source, images, 8, 6, seed=5, epoch=e, worker=0))

    a, b, c = epoch(0), epoch(0), epoch(1)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0], c[0][0])
    x, y = a[0]
    assert x.shape == (8, 10, 10, 2) and x.dtype == np.float32 and y.shape == (8, 1)
    assert np.isfinite(x).all()
    # 48 images of 12 models: each model four times (a new permutation per pass); labels are the models'
    labels = np.concatenate([yb[:, 0] for _, yb in a])
    values, counts = np.unique(labels, return_counts=True)
    assert len(values) == 12 and set(counts) == {4}
    np.testing.assert_array_equal(np.sort(values), np.sort(source.labels[:12]))


def test_background_epochs_equal_the_in_thread_batches(phase_store):
    """The EpochMaker's process makes the same batches, bit for bit, and one epoch ahead."""
    source = views.ObservedStoreMaps(phase_store, 2, SLUGGS)
    images = np.stack([np.arange(12).repeat(8), np.tile(np.arange(8), 12)], axis=1)
    maker = views.EpochMaker(source)
    try:
        for epoch in (0, 1, 3):  # 1 was made ahead; 3 was not
            x, rows, r_half = maker.epoch(images, 8, 5, 7, epoch, 0, 2.0)
            batches = list(views.iterate_view_batches(source, images, 8, 5, seed=7, epoch=epoch,
                                                      noise_kms=2.0))
            np.testing.assert_array_equal(x, np.concatenate([b[0] for b in batches]))
            np.testing.assert_array_equal(source.labels[rows], np.concatenate([b[1][:, 0] for b in batches]))
            assert r_half.shape == (40,)
    finally:
        maker.close()


def test_fresh_views_of_more_massive_galaxies_have_larger_dispersion(phase_store):
    source = views.ObservedStoreMaps(phase_store, 1, SLUGGS)
    rng = np.random.default_rng(0)
    order = np.argsort(source.mass_msun[:12])
    light, heavy = order[0], order[-1]
    maps_l, _ = source.fresh_views(np.full(200, light), rng)
    maps_h, _ = source.fresh_views(np.full(200, heavy), rng)
    ratio = (source.mass_msun[heavy] / source.mass_msun[light]) ** (1 / 3)
    measured = np.median(maps_h[maps_h > 0]) / np.median(maps_l[maps_l > 0])
    assert abs(measured / ratio - 1.0) < 0.15


def test_version_1_or_ideal_map_store_without_phase_space_is_refused(tmp_path):
    from gcs_hpc.store.cube import _create, _expected_attrs
    from gcs_hpc.store.schema import build_schema

    specs = synthetic_specs(3, 0, 0)
    path = tmp_path / "v1.zarr"
    _create(path, build_schema(specs, MapSpec(n_angles=4), None, version=1),
            _expected_attrs(specs, MapSpec(n_angles=4), "# v1\n", version=1))
    with pytest.raises(StoreError, match=r"has no 'gc_phase_space' \(schema version 1\)"):
        views.ObservedStoreMaps(path, 2, SLUGGS)
    # a version-2 store whose models were written without a summary: the models are named
    store = build_store(tmp_path / "nosummary.zarr", n_disk=4, n_merger=0, n_unknown=0, n_angles=4)
    source = views.ObservedStoreMaps(store, 2, SLUGGS)
    with pytest.raises(StoreError, match=r"models \[0, 1\] have no GC phase space written"):
        source.read_models([0, 1])


def test_training_with_an_observation_model_records_it(phase_store, tmp_path):
    from gcs_hpc.learn.train import TrainConfig, main, train

    out = tmp_path / "net"
    cfg = TrainConfig(store=str(phase_store), arch="conv2", channels=2, epochs=2, out=str(out), batch_size=8,
                      observation=str(SLUGGS), scale_input=False)
    summary = train(cfg, log=lambda m: None)
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["observation"]["name"] == "sluggs" and meta["observation"]["n_gc"] == [20, 330]
    assert meta["map_spec"]["fov_unit"] == "R_half" and meta["map_spec"]["fov"] == 8.0
    history = [json.loads(line) for line in (out / "logs" / "worker-0.jsonl").read_text().splitlines()]
    assert len(history) == 2 and all(np.isfinite(h["loss"]) for h in history)
    # the training models are recorded though their views were made in the background process
    assert set(summary["models_read"]) == set(summary["shard_models"])
    # a bad observation file is refused up front, naming file and key
    bad = tmp_path / "bad.yaml"
    bad.write_text("n_gc: [0, 10]\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*observation.n_gc\[0\] = 0 is out of range"):
        TrainConfig(store=str(phase_store), arch="conv2", channels=2, epochs=1, out=str(tmp_path / "x"),
                    observation=str(bad))
    assert main(["--store", str(phase_store), "--arch", "conv2", "--channels", "2", "--epochs", "1",
                 "--out", str(tmp_path / "y"), "--observation", str(bad)]) == 2


def test_observation_yaml_loads_for_views():
    assert load_observation(IDEAL).is_ideal


def test_maps_in_disk_units_use_each_models_r_d(phase_store):
    from gcs_hpc.galaxy import disk_size_kpc
    from gcs_hpc.specs import GalaxySpec

    obs = ObservationSpec(maps=MapSpec(fov=1.2, fov_unit="R_d", smoothing=0.12))
    source = views.ObservedStoreMaps(phase_store, 2, obs)
    m_halo = xr.open_zarr(phase_store).M_halo.values
    np.testing.assert_allclose(source.disk_size_kpc,
                               [disk_size_kpc(GalaxySpec(M_halo=float(m))) for m in m_halo])
    maps = source.read_models([0])
    pos, vel = source.pos[0], source.vel[0]
    valid = source.valid[0]
    ref, _ = view_maps(np.repeat(pos[None], 8, 0), np.repeat(vel[None], 8, 0), source.theta, source.phi,
                       source.r_half[0], ObservationSpec(), obs.maps, np.random.default_rng(0),
                       disk_size_kpc=np.full(8, source.disk_size_kpc[0]), valid=np.repeat(valid[None], 8, 0))
    np.testing.assert_array_equal(maps[0], ref)
