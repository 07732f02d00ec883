"""Splits, worker shards and the lazy zarr batch reader (NumPy side; the tf.data wrapper at the end)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gcs_hpc import store
from gcs_hpc.errors import ConfigError, StoreError
from gcs_hpc.learn import data
from gcs_hpc.units import VELOCITY_KMS


@pytest.fixture(scope="module")
def ds(learn_store: Path):
    return data.open_store(learn_store)


def test_only_done_models_are_used(ds) -> None:
    done = data.done_models(ds)
    assert 3 not in done and 5 not in done and len(done) == ds.sizes["model"] - 2
    for kind in data.SPLITS:
        s = data.make_split(ds, kind)
        used = np.union1d(s.models("train"), s.models("test"))
        assert np.isin(used, done).all()


def test_split_by_model_shares_no_galaxy(ds) -> None:
    s = data.make_split(ds, "model", test_fraction=0.25, seed=3)
    assert np.intersect1d(s.models("train"), s.models("test")).size == 0
    n_done = len(data.done_models(ds))
    assert len(s.models("test")) == round(0.25 * n_done)
    assert len(s.train) + len(s.test) == n_done * ds.sizes["angle"]
    assert not np.array_equal(s.models("test"), data.make_split(ds, "model", 0.25, seed=4).models("test"))
    np.testing.assert_array_equal(s.test, data.make_split(ds, "model", 0.25, seed=3).test)


def test_split_by_image_is_80_20_and_leaks(ds) -> None:
    s = data.make_split(ds, "image")
    n = len(data.done_models(ds)) * ds.sizes["angle"]
    assert len(s.test) == round(0.2 * n) and len(s.train) == n - len(s.test)
    pairs = {tuple(r) for r in s.train} & {tuple(r) for r in s.test}
    assert not pairs
    assert np.intersect1d(s.models("train"), s.models("test")).size > 0  # views of a galaxy in both


def test_split_by_suite_tests_only_unknown(ds) -> None:
    s = data.make_split(ds, "suite")
    suite = data.string_coord(ds, "suite")
    assert set(suite[s.models("test")]) == {"unknown"}
    assert set(suite[s.models("train")]) == {"disk", "merger"}


@pytest.mark.parametrize("kind", ["model", "image"])
def test_suite_filter_keeps_excluded_suites_out_of_train_and_test(ds, kind) -> None:
    suite = data.string_coord(ds, "suite")
    everything = data.make_split(ds, kind, seed=1)
    assert "unknown" in set(suite[np.union1d(everything.models("train"), everything.models("test"))])
    s = data.make_split(ds, kind, seed=1, suites=("disk", "merger"))
    assert set(suite[s.models("train")]) == {"disk", "merger"}
    assert set(suite[s.models("test")]) <= {"disk", "merger"} and len(s.test) > 0
    kept = data.done_models(ds)[np.isin(suite[data.done_models(ds)], ["disk", "merger"])]
    assert len(s.train) + len(s.test) == len(kept) * ds.sizes["angle"]
    assert s.describe()["suites"] == ["disk", "merger"] and everything.describe()["suites"] is None
    np.testing.assert_array_equal(s.test, data.make_split(ds, kind, seed=1, suites="disk,merger").test)
    only_disk = data.make_split(ds, kind, seed=1, suites=["disk"])
    assert set(suite[np.union1d(only_disk.models("train"), only_disk.models("test"))]) == {"disk"}
    # no filter: the split is the one made before the filter existed
    np.testing.assert_array_equal(everything.test, data.make_split(ds, kind, 0.2, 1).test)


def test_bad_suite_filters(ds) -> None:
    with pytest.raises(ConfigError, match=r"\['halo'\], not in this store; allowed: \['disk', 'merger'"):
        data.make_split(ds, "model", suites="disk,halo")
    with pytest.raises(ConfigError, match="'suite' split"):
        data.make_split(ds, "suite", suites="disk,merger")
    for bad in ("", "disk,,merger", ()):
        with pytest.raises(ConfigError, match="non-empty suite names"):
            data.make_split(ds, "model", suites=bad)
    with pytest.raises(ConfigError, match="twice"):
        data.make_split(ds, "model", suites="disk,disk")


def test_bad_split_arguments(ds) -> None:
    with pytest.raises(ConfigError, match="split"):
        data.make_split(ds, "galaxy")
    with pytest.raises(ConfigError, match="test_fraction"):
        data.make_split(ds, "model", test_fraction=1.0)
    with pytest.raises(StoreError, match="does not exist"):
        data.open_store("/nonexistent/store.zarr")


def test_shards_are_disjoint_and_cover_the_training_set(ds) -> None:
    s = data.make_split(ds, "model")
    shards = [data.shard_images(s.train, w, 3) for w in range(3)]
    models = [set(np.unique(sh[:, 0])) for sh in shards]
    assert not (models[0] & models[1]) and not (models[1] & models[2]) and not (models[0] & models[2])
    assert sum(len(sh) for sh in shards) == len(s.train)
    steps = data.steps_per_epoch(s.train, 3, 8)
    assert steps == min(len(sh) for sh in shards) // 8
    with pytest.raises(ConfigError, match="batch_size"):
        data.steps_per_epoch(s.train, 3, 10_000)


def test_batches_read_lazily_only_the_shard(learn_store: Path, ds) -> None:
    s = data.make_split(ds, "model")
    mine = data.shard_images(s.train, 1, 2)
    source = data.StoreMaps(learn_store, 2)
    reads: list[int] = []
    original = source.read_models
    source.read_models = lambda m: (reads.append(len(m)), original(m))[1]
    one_model_mb = source.model_nbytes / 2**20
    batches = list(data.iterate_batches(source, mine, 8, steps=len(mine) // 8, epoch=0, worker=1,
                                        cache_mb=2.5 * one_model_mb))
    assert max(reads) == 2  # never more than the cache holds
    assert source.models_read == set(np.unique(mine[:, 0]).tolist())
    assert len(batches) == len(mine) // 8 and all(x.shape == (8, 10, 10, 2) for x, _ in batches)
    # labels are the store's label mapping of M_total of the shard's models
    labels = np.concatenate([y[:, 0] for _, y in batches])
    expected = store.mass_to_label(np.asarray(ds["M_total"].values)[mine[:, 0]], dict(ds.attrs))
    assert np.isin(labels, np.float32(expected)).all()


def test_inputs_are_the_maps_over_the_velocity_unit_and_noise_is_in_kms(learn_store: Path, ds) -> None:
    images = data.images_of(np.array([0]), ds.sizes["angle"])
    source = data.StoreMaps(learn_store, 1)
    (x, y), = data.iterate_batches(source, images, len(images), shuffle=False)
    sigma = np.asarray(ds["maps"].sel(channel="sigma").isel(model=0).values)
    np.testing.assert_allclose(x[..., 0], sigma / VELOCITY_KMS, rtol=1e-6)
    (xn, _), = data.iterate_batches(source, images, len(images), shuffle=False, noise_kms=5.0)
    noise_kms = (xn - x) * VELOCITY_KMS
    assert abs(noise_kms.std() - 5.0) < 0.3 and abs(noise_kms.mean()) < 0.3
    assert y[0, 0] == pytest.approx(store.mass_to_label(float(ds["M_total"][0]), dict(ds.attrs)), rel=1e-6)


def test_same_seed_same_batches(learn_store: Path, ds) -> None:
    s = data.make_split(ds, "model")
    source = data.StoreMaps(learn_store, 2)
    a = list(data.iterate_batches(source, s.train, 16, steps=4, seed=1, epoch=2, noise_kms=5.0))
    b = list(data.iterate_batches(source, s.train, 16, steps=4, seed=1, epoch=2, noise_kms=5.0))
    c = list(data.iterate_batches(source, s.train, 16, steps=4, seed=1, epoch=3, noise_kms=5.0))
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])


def test_tf_dataset_yields_the_same_batches(learn_store: Path, ds) -> None:
    s = data.make_split(ds, "model")
    source = data.StoreMaps(learn_store, 2)
    tf_batches = list(data.training_dataset(source, s.train, 16, 3, seed=0, epoch=0, worker=0)
                      .as_numpy_iterator())
    np_batches = list(data.iterate_batches(source, s.train, 16, steps=3, seed=0, epoch=0))
    assert len(tf_batches) == 3
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1])
               for p, q in zip(tf_batches, np_batches))


def test_in_memory_and_streaming_pipelines_serve_the_same_batches(learn_store: Path, ds) -> None:
    s = data.make_split(ds, "model")
    source = data.StoreMaps(learn_store, 2)
    assert data.shard_nbytes(source, s.train) <= data.MEMORY_BUDGET_MB * 2**20  # the default path is memory
    memory = list(data.training_dataset(source, s.train, 16, 3, seed=4, epoch=1, worker=0)
                  .as_numpy_iterator())
    streamed = list(data.training_dataset(source, s.train, 16, 3, seed=4, epoch=1, worker=0, memory_mb=0.0)
                    .as_numpy_iterator())
    assert len(memory) == len(streamed) == 3
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(memory, streamed))


def test_in_memory_pipeline_reads_once_and_is_deterministic_with_noise_in_kms(learn_store: Path, ds) -> None:
    s = data.make_split(ds, "model")
    source = data.StoreMaps(learn_store, 2)
    reads: list[int] = []
    original = source.read_models
    source.read_models = lambda m: (reads.append(len(m)), original(m))[1]

    def epoch(e: int, noise: float, seed: int = 7) -> list:
        return list(data.training_dataset(source, s.train, 16, 4, seed=seed, epoch=e, worker=0,
                                          noise_kms=noise).as_numpy_iterator())

    clean, a, b, c = epoch(0, 0.0), epoch(0, 5.0), epoch(0, 5.0), epoch(1, 5.0)
    assert len(reads) == 1  # the shard is read once, then served from memory every epoch
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(a, b))  # same seed and epoch: same noise
    assert not np.array_equal(a[0][0], c[0][0])  # another epoch: another order and noise
    assert not np.array_equal(a[0][0], epoch(0, 5.0, seed=8)[0][0])
    noise_kms = np.concatenate([(p[0] - q[0]).ravel() for p, q in zip(a, clean)]) * VELOCITY_KMS
    assert abs(noise_kms.std() - 5.0) < 0.2 and abs(noise_kms.mean()) < 0.2
    with pytest.raises(ConfigError, match="steps"):
        data.epoch_dataset(clean[0][0], clean[0][1], 16, 2, seed=0, epoch=0)
