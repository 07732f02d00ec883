"""Fixtures of the store tests."""

from __future__ import annotations

import pytest

from gcs_hpc.config import dump_yaml
from gcs_hpc.specs import MapSpec, ModelSpec

from .helpers import small_models


@pytest.fixture
def models() -> list[ModelSpec]:
    return small_models()


@pytest.fixture
def map_spec() -> MapSpec:
    return MapSpec(n_angles=6, npix=10)


@pytest.fixture
def config_yaml() -> str:
    return dump_yaml({"campaign": {"name": "test", "preset": "tiny"}, "maps": {"n_angles": 6}})
