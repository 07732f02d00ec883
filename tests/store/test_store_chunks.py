"""The direct chunk reader reads what zarr reads: written models, missing chunks as the fill value, and any
other layout through zarr itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from gcs_hpc.errors import StoreError
from gcs_hpc.store import create_store, write_model
from gcs_hpc.store.chunks import ChunkReader

from .helpers import fake_model_maps


@pytest.fixture
def written(tmp_path: Path, models, map_spec, config_yaml) -> Path:
    """A store whose models 0, 2 and 4 are written (1 and 3: no chunk files)."""
    path = tmp_path / "s.zarr"
    create_store(path, models, map_spec, config_yaml)
    for i in (0, 2, 4):
        write_model(path, i, *fake_model_maps(i, map_spec))
    return path


@pytest.mark.parametrize("name", ["maps", "counts"])
def test_direct_reads_equal_zarr_reads(written: Path, map_spec, name: str) -> None:
    reader = ChunkReader(written, name)
    assert reader.direct  # the layout this package writes
    every = np.arange(5)
    expected = zarr.open_group(str(written), mode="r")[name][:]
    got = reader.read(every)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # missing chunks: the fill value (NaN maps, -1 counts)
    if name == "maps":
        np.testing.assert_array_equal(got[2], fake_model_maps(2, map_spec)[0])
        assert np.isnan(got[1]).all()
    np.testing.assert_array_equal(reader.read([4, 0]), expected[[4, 0]])  # any order
    assert reader.read([]).shape == (0,) + expected.shape[1:]


def test_other_layouts_are_read_through_zarr(tmp_path: Path) -> None:
    group = zarr.open_group(str(tmp_path / "other.zarr"), mode="w", zarr_format=3)
    data = np.arange(4 * 3 * 2, dtype=np.float32).reshape(4, 3, 2)
    for name, kwargs in (("no_codec", {"compressors": None, "chunks": (1, 3, 2)}),
                         ("two_models_a_chunk", {"chunks": (2, 3, 2)})):
        group.create_array(name, shape=data.shape, dtype="float32", **kwargs)[:] = data
        reader = ChunkReader(tmp_path / "other.zarr", name)
        assert not reader.direct
        np.testing.assert_array_equal(reader.read([3, 1]), data[[3, 1]])


def test_bad_requests_name_the_problem(written: Path) -> None:
    with pytest.raises(StoreError, match="no array 'nope'"):
        ChunkReader(written, "nope")
    with pytest.raises(StoreError, match="outside 0..4"):
        ChunkReader(written, "maps").read([5])
