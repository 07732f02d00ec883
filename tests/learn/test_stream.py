"""The streaming input pipeline (stores larger than the memory budget): its epoch plan, its batches beside
the in-memory pipeline's and the NumPy reader's, its determinism and its bounded block reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.learn import data, stream
from gcs_hpc.units import VELOCITY_KMS


@pytest.fixture(scope="module")
def train_images(learn_store: Path) -> np.ndarray:
    return data.make_split(data.open_store(learn_store), "model").train


def counting_source(path: Path) -> tuple[data.StoreMaps, list[int]]:
    """A StoreMaps whose block reads are counted (models per read)."""
    source = data.StoreMaps(path, 2)
    reads: list[int] = []
    original = source.read_models
    source.read_models = lambda m: (reads.append(len(m)), original(m))[1]
    return source, reads


def epoch_of(source: data.StoreMaps, images: np.ndarray, batch: int, steps: int, **kw) -> list:
    return list(data.training_dataset(source, images, batch, steps, worker=0, **kw).as_numpy_iterator())


def image_set(batches: list) -> list[bytes]:
    """The epoch's (image, label) pairs as sorted byte strings (a multiset, order ignored)."""
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    return sorted(xi.tobytes() + yi.tobytes() for xi, yi in zip(x, y))


def test_plan_serves_every_image_once_block_by_block(train_images: np.ndarray) -> None:
    plan = stream.epoch_plan(train_images, 3, seed=5, epoch=2, worker=0)
    assert len(plan.blocks) == -(-len(np.unique(train_images[:, 0])) // 3)
    assert sorted(map(tuple, plan.rows)) == sorted(map(tuple, train_images))
    for k, block in enumerate(plan.blocks):
        assert np.isin(plan.block_rows(k)[:, 0], block).all() and np.all(np.diff(block) > 0)
    one_block = stream.epoch_plan(train_images, 10**6, seed=5, epoch=2, worker=0)
    order = data.epoch_order(train_images, seed=5, epoch=2, worker=0)
    np.testing.assert_array_equal(one_block.rows, train_images[order])  # the in-memory pipeline's order
    cut = plan.first(50)
    assert len(cut.rows) == 50 and cut.starts[-1] == 50 and len(cut.blocks) == len(cut.starts) - 1
    np.testing.assert_array_equal(cut.rows, plan.rows[:50])
    with pytest.raises(ConfigError, match="cannot serve"):
        plan.first(len(plan.rows) + 1)


def test_streaming_serves_the_same_images_and_labels_per_epoch_as_in_memory(learn_store: Path,
                                                                           train_images: np.ndarray) -> None:
    source, reads = counting_source(learn_store)
    model_mb = source.model_nbytes / 2**20
    batch = 16
    steps = len(train_images) // batch  # 16 angles per model: the whole epoch in full batches
    assert steps * batch == len(train_images)
    memory = epoch_of(source, train_images, batch, steps, seed=3, epoch=1)
    reads.clear()
    streamed = epoch_of(source, train_images, batch, steps, seed=3, epoch=1, memory_mb=0.0,
                        cache_mb=2.5 * model_mb)
    assert len(streamed) == len(memory) == steps
    assert max(reads) == 2 and sum(reads) == len(np.unique(train_images[:, 0]))  # blocks of 2, each once
    assert image_set(streamed) == image_set(memory)
    # ... in another order (blocks of 2 models), and another order again in another epoch
    assert not np.array_equal(streamed[0][0], memory[0][0])
    other = epoch_of(source, train_images, batch, steps, seed=3, epoch=2, memory_mb=0.0,
                     cache_mb=2.5 * model_mb)
    assert image_set(other) == image_set(memory) and not np.array_equal(other[0][0], streamed[0][0])


def test_streaming_is_the_numpy_plan_and_deterministic_with_noise(learn_store: Path,
                                                                  train_images: np.ndarray) -> None:
    source = data.StoreMaps(learn_store, 2)
    cache = 3.5 * source.model_nbytes / 2**20  # blocks of 3 models, batches across block boundaries
    kw = dict(seed=9, epoch=4, memory_mb=0.0, cache_mb=cache)
    streamed = epoch_of(source, train_images, 12, 20, **kw)
    reference = list(data.iterate_batches(source, train_images, 12, steps=20, seed=9, epoch=4,
                                          cache_mb=cache))
    assert len(streamed) == len(reference) == 20
    for (xs, ys), (xr, yr) in zip(streamed, reference):
        np.testing.assert_array_equal(xs, xr)
        np.testing.assert_array_equal(ys, yr)
    noisy = [epoch_of(source, train_images, 12, 20, noise_kms=5.0, **kw) for _ in range(2)]
    assert all(np.array_equal(p[0], q[0]) for p, q in zip(*noisy))  # same seed: same batches, same noise
    noise_kms = np.concatenate([(p[0] - q[0]).ravel() for p, q in zip(noisy[0], streamed)]) * VELOCITY_KMS
    assert abs(noise_kms.std() - 5.0) < 0.2 and abs(noise_kms.mean()) < 0.2
    # one block: the in-memory pipeline's batches bit for bit, its TF noise included
    one_block = epoch_of(source, train_images, 12, 20, seed=9, epoch=4, memory_mb=0.0, noise_kms=5.0)
    memory = epoch_of(source, train_images, 12, 20, seed=9, epoch=4, noise_kms=5.0)
    assert all(np.array_equal(p[0], q[0]) and np.array_equal(p[1], q[1]) for p, q in zip(one_block, memory))


def test_streaming_carries_the_scale_input(learn_store: Path, train_images: np.ndarray) -> None:
    source = data.StoreMaps(learn_store, 2)
    rng = np.random.default_rng(0)
    source.image_scale = rng.uniform(0.0, 1.0, size=(len(source.labels), source.n_angles)).astype(np.float32)
    cache = 2.5 * source.model_nbytes / 2**20
    streamed = epoch_of(source, train_images, 16, 6, seed=1, epoch=0, memory_mb=0.0, cache_mb=cache)
    reference = list(data.iterate_batches(source, train_images, 16, steps=6, seed=1, cache_mb=cache))
    for ((xs, ss), ys), ((xr, sr), yr) in zip(streamed, reference):
        assert ss.shape == (16, 1)
        np.testing.assert_array_equal(xs, xr)
        np.testing.assert_array_equal(ss, sr)
        np.testing.assert_array_equal(ys, yr)


def test_streaming_refuses_more_steps_than_images(learn_store: Path, train_images: np.ndarray) -> None:
    source = data.StoreMaps(learn_store, 2)
    with pytest.raises(ConfigError, match="steps"):
        stream.streaming_dataset(source, train_images, 16, len(train_images) // 16 + 1, seed=0, epoch=0,
                                 worker=0)
    with pytest.raises(ConfigError, match="reads_in_flight"):
        stream.streaming_dataset(source, train_images, 16, 2, seed=0, epoch=0, worker=0, reads_in_flight=0)
