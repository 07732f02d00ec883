"""Small campaigns and fake maps shared by the store tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gcs_hpc.specs import PRESETS, GalaxySpec, MapSpec, MergerSpec, ModelSpec


def small_models() -> list[ModelSpec]:
    """Three disks and two mergers with known parameters."""
    tiny = PRESETS["tiny"]
    disks = [ModelSpec("disk", GalaxySpec(M_halo=m, f_b=fb, f_rot=fr, c=c), tiny, seed=i)
             for i, (m, fb, fr, c) in enumerate([(3e11, 0.0, 0.1, None), (1e12, 0.17, 0.3, 10.0),
                                                 (5e12, 1.0, 0.5, None)])]
    mergers = [ModelSpec("merger", GalaxySpec(M_halo=m), tiny, seed=10 + i,
                         merger=MergerSpec(m2=m2, f_v=fv, theta_1=t1, theta_2=t2))
               for i, (m, m2, fv, t1, t2) in enumerate([(1e12, 0.5, 0.2, 30.0, 60.0),
                                                       (2e12, 1.0, 0.8, 90.0, 0.0)])]
    return disks + mergers


def fake_model_maps(index: int, spec: MapSpec) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic, distinct maps and counts for model ``index`` (the store does not care about physics)."""
    rng = np.random.default_rng(1000 + index)
    maps = rng.normal(100.0, 30.0, (spec.n_angles, 2, spec.npix, spec.npix)).astype(np.float32)
    counts = rng.integers(0, 6, (spec.n_angles, spec.npix, spec.npix)).astype(np.int32)
    return maps, counts


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """Make ``folder`` read-only for this process: a read-only bind mount as root (who ignores
    permissions), its write bits removed otherwise. Skips the test when root cannot mount here.

    Child processes see it too (same mount namespace, same files), so a CLI run in a subprocess meets a
    read-only store."""
    if os.geteuid() == 0:
        if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode:
            pytest.skip("cannot bind-mount here to make a read-only folder")
        try:
            remount = ["mount", "-o", "remount,ro,bind", str(folder)]
            if subprocess.run(remount, capture_output=True).returncode:
                pytest.skip("cannot remount read-only here")
            yield folder
        finally:
            subprocess.run(["umount", str(folder)], capture_output=True)
    else:
        paths = [folder, *folder.rglob("*")]
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(modes[p] & ~0o222)
        try:
            yield folder
        finally:
            for p in reversed(paths):
                p.chmod(modes[p])
