"""Nets with the physical-scale input (issue 15) get (maps, log10 R_half/kpc) pairs from every training
path: the in-memory and streaming store pipelines, the NumPy reference, fresh views under an observation
model (in-thread and from the background EpochMaker); and a training run with an observation model
turns the input on by itself and is evaluated with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.campaign.config import DEFAULT_MAPS
from gcs_hpc.learn import data, evaluate, nets, targets, train, views

from .test_views import SLUGGS, build_phase_space_store

BATCH, STEPS = 8, 4


@pytest.fixture(scope="module")
def rhalf_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Maps on the default campaign's grid (8 R_half wide), which is also the SLUGGS model's."""
    return build_phase_space_store(tmp_path_factory.mktemp("scale") / "ps.zarr", map_spec=DEFAULT_MAPS)


def _attached(source: data.StoreMaps) -> data.StoreMaps:
    targets.attach(source, "M_total", targets.DEFAULT_ENCLOSED_RADIUS, scale_input=True)
    return source


def _check_stored_images(batches: list, source: data.StoreMaps, images: np.ndarray) -> None:
    """Every (x, s, y) is one stored image: its inputs, its log10 R_half, its model's label."""
    maps = data.maps_to_inputs(source.read_models(np.unique(images[:, 0])).reshape(
        -1, len(source.channel_names), source.npix, source.npix))
    scale = source.image_scale[np.unique(images[:, 0])].reshape(-1)
    label = np.repeat(source.labels[np.unique(images[:, 0])], source.n_angles)
    seen = 0
    for (x, s), y in batches:
        x, s, y = np.asarray(x), np.asarray(s), np.asarray(y)
        assert x.shape == (BATCH, source.npix, source.npix, 2) and s.shape == y.shape == (BATCH, 1)
        for k in range(BATCH):
            row = int(np.argmin(np.abs(scale - s[k, 0])))   # R_half differs between images
            assert scale[row] == s[k, 0] and label[row] == y[k, 0]
            np.testing.assert_array_equal(x[k], maps[row])
            seen += 1
    assert seen == BATCH * STEPS


def _check_views(batches: list, source: views.ObservedStoreMaps) -> None:
    """Every (s, y) of a fresh view is log10 of one of its model's stored R_half and that model's label."""
    for (x, s), y in batches:
        assert np.asarray(x).shape == (BATCH, source.npix, source.npix, 2)
        for s_k, y_k in zip(np.asarray(s)[:, 0], np.asarray(y)[:, 0]):
            model = np.flatnonzero(source.labels == y_k)
            assert np.isin(np.float32(s_k), np.log10(source.r_half[model]).astype(np.float32)).any()


def _net_takes(batches: list) -> None:
    """A scale-input net runs a forward pass on the batches as they come (two inputs)."""
    net = nets.build_net("conv2", 2, 10, seed=0, head="gaussian", scale_input=True)
    inputs, _ = batches[0]
    assert tuple(net(inputs, training=True).shape) == (BATCH, 2)


def test_store_pipelines_serve_maps_with_their_scale(rhalf_store: Path) -> None:
    source = _attached(data.StoreMaps(rhalf_store, 2))
    images = data.images_of(np.arange(10), source.n_angles)
    common = dict(seed=3, epoch=1, worker=0)
    in_memory = list(data.training_dataset(source, images, BATCH, STEPS, **common))
    streamed = list(data.training_dataset(source, images, BATCH, STEPS, memory_mb=0.0, cache_mb=0.01,
                                          **common))
    reference = list(data.iterate_batches(source, images, BATCH, steps=STEPS, **common))
    for batches in (in_memory, streamed, reference):
        _check_stored_images(batches, source, images)
    _net_takes(in_memory)
    _net_takes(streamed)


def test_fresh_views_serve_maps_with_their_scale(rhalf_store: Path) -> None:
    source = _attached(views.ObservedStoreMaps(rhalf_store, 2, SLUGGS))
    images = data.images_of(np.arange(10), source.n_angles)
    common = dict(seed=3, epoch=0, worker=0)
    in_thread = list(views.training_dataset(source, images, BATCH, STEPS, background=False, **common))
    background = list(views.training_dataset(source, images, BATCH, STEPS, **common))
    source.epoch_maker.close()
    for (xa, sa), ya in in_thread:
        assert np.isfinite(np.asarray(sa)).all()
    for a, b in zip(in_thread, background):   # the EpochMaker's batches, bit for bit
        for u, v in zip((a[0][0], a[0][1], a[1]), (b[0][0], b[0][1], b[1])):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    _check_views(in_thread, source)
    _net_takes(background)


def test_training_with_an_observation_model_takes_the_scale_and_is_evaluated_with_it(
        rhalf_store: Path, tmp_path: Path) -> None:
    cfg = train.TrainConfig(store=str(rhalf_store), arch="conv2", channels=2, epochs=1, batch_size=8,
                            out=str(tmp_path / "net"), head="gaussian", observation=str(SLUGGS), threads=1)
    train.train(cfg, log=lambda _m: None)      # scale input auto: the observation model's maps are in R_half
    meta = json.loads((tmp_path / "net" / "metadata.json").read_text())
    assert meta["scale_input"] is True and "log10_scale_kpc" in meta["ood"]["ranges"]
    m = evaluate.evaluate(rhalf_store, tmp_path / "net", tmp_path / "eval")  # the stored maps, same grid
    assert m["n_images"] > 0 and np.isfinite(m["rmse"])
