"""GPU backends against NumPy to float32 precision (skip cleanly without CuPy and a CUDA device)."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.nbody import evolve, get_backend

from .models import plummer_sphere

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cupy():
    return pytest.importorskip("cupy")


def test_cuda_field_with_few_sources_matches_numpy(cupy):
    """Few sources: the kernel splits its source loop over blocks (the contract,
    tests/nbody/contract_backends.py, checks both GPU backends at N = 1500)."""
    name, n = "cuda", 100
    p = plummer_sphere(n, seed=21, n_tracers=n // 10)
    massive = p.mass > 0
    ref, ref_phi = get_backend("direct").accelerations(p.pos, p.pos[massive], p.mass[massive], 0.02,
                                                       potential=True)
    acc, phi = get_backend(name, xp=cupy).accelerations(cupy.asarray(p.pos), cupy.asarray(p.pos[massive]),
                                                        cupy.asarray(p.mass[massive]), 0.02, potential=True)
    acc, phi = cupy.asnumpy(acc), cupy.asnumpy(phi)
    rel = np.linalg.norm(acc - ref, axis=1) / np.linalg.norm(ref, axis=1)
    tol = 1e-4  # float32 kernel against float64
    assert np.median(rel) < tol / 10 and np.max(rel) < tol * 10
    assert np.max(np.abs(phi / ref_phi - 1.0)) < tol


def test_evolve_on_cupy_follows_numpy(cupy):
    sphere = plummer_sphere(2000, seed=22, n_tracers=100)
    kwargs = dict(t_end=0.5, softening=0.05, dt=0.01)
    ref = evolve(sphere, backend="direct", **kwargs)
    gpu = evolve(sphere, backend="auto", xp=cupy, **kwargs)
    assert gpu.stats["backend"] == "cuda"
    np.testing.assert_allclose(gpu.particles.pos, ref.particles.pos, atol=1e-4)
    assert gpu.stats["max_rel_energy_error"] < 1e-3
