"""A training run's identity and output folder: digests that identify weights and the campaign a store
came from, and the places ``--out`` may not be (a file, a zarr store or a folder inside one)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from gcs_hpc.errors import ConfigError


def weights_digest(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 of the weights' float32 bytes: equal digests mean bit-identical weights."""
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, dtype=np.float32).tobytes())
    return h.hexdigest()


def store_config_hash(attrs: dict) -> str:
    """SHA-256 identifying the campaign a store came from: its config YAML and map spec attributes."""
    text = json.dumps({k: attrs.get(k) for k in ("config_yaml", "map_spec")}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


#: Files that mark a folder as a zarr store (v2 group/array, v3).
ZARR_MARKERS = (".zgroup", ".zarray", "zarr.json")


def check_out_folder(out: Path, store: str | Path) -> None:
    """Refuse an ``--out`` that is an existing file, or a zarr store or a folder inside one (training
    would write into the campaign's data).

    Raises
    ------
    ConfigError
        Naming ``--out`` and what it is.
    """
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is an existing file; allowed: a folder (new, or the --out of "
                          "an earlier run to resume it)")
    resolved, store_path = out.resolve(), Path(store).resolve()
    for folder in (resolved, *resolved.parents):
        if folder == store_path or any((folder / m).is_file() for m in ZARR_MARKERS):
            where = "" if folder == resolved else "inside "
            raise ConfigError(f"--out {str(out)!r} is {where}the zarr store {str(folder)!r}; "
                              "allowed: a folder outside any store (e.g. runs/<name>)")
