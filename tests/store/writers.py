"""Functions run in spawned writer processes (kept light: no xarray or pytest import in the children)."""

from __future__ import annotations

import dataclasses
import time

from gcs_hpc.specs import MapSpec, ModelSpec
from gcs_hpc.store import create_store, write_model
from gcs_hpc.store.cube import _write_region

from .helpers import fake_model_maps, small_models

MAP_SPEC = MapSpec(n_angles=100)  # 80 kB per model: writes take long enough to be interrupted
CONFIG = "campaign: {name: concurrency}\n"
N_MODELS = 12


def models() -> list[ModelSpec]:
    """Twelve models: the five small ones repeated with new seeds."""
    base = small_models()
    return [dataclasses.replace(base[i % len(base)], seed=100 + i) for i in range(N_MODELS)]


def write_models(path: str, indices: list[int], barrier) -> None:
    barrier.wait(timeout=60)
    for i in indices:
        write_model(path, i, *fake_model_maps(i, MAP_SPEC))


def write_region_then_hang(path: str, index: int, conn) -> None:
    _write_region(path, index, *fake_model_maps(index, MAP_SPEC))
    conn.send("region written")
    time.sleep(120)  # the parent kills us here: maps written, status not yet


def write_forever(path: str, conn) -> None:
    conn.send("started")
    while True:
        for i in range(N_MODELS):
            write_model(path, i, *fake_model_maps(i, MAP_SPEC))


def create(path: str, barrier) -> None:
    barrier.wait(timeout=60)
    create_store(path, models(), MAP_SPEC, CONFIG)
