"""Gravity backends beyond their contract (tests/nbody/contract_backends.py: every registered backend
against an exact sum, momentum, pickling): REBOUND, chunking, the tree's opening angle, threads."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.errors import ConfigError
from gcs_hpc.nbody import get_backend
from gcs_hpc.nbody.gravity import resolve_backend_name
from .models import plummer_sphere

THREADED_BACKENDS = ("compiled", "tree")
SOFTENING = 0.05


@pytest.fixture(scope="module")
def sphere():
    p = plummer_sphere(300, seed=3)
    return p.pos, p.mass


def test_direct_chunking_gives_the_same_sum(sphere):
    pos, mass = sphere
    whole, _ = get_backend("direct").accelerations(pos, pos, mass, SOFTENING)
    chunked, _ = get_backend("direct", max_pairs=1000).accelerations(pos, pos, mass, SOFTENING)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-15)


def test_direct_matches_rebound_basic(sphere):
    rebound = pytest.importorskip("rebound")
    pos, mass = sphere
    sim = rebound.Simulation()
    sim.G = 1.0
    sim.softening = SOFTENING
    sim.gravity = "basic"
    for x, m in zip(pos, mass):
        sim.add(m=m, x=x[0], y=x[1], z=x[2])
    sim.integrator = "leapfrog"
    sim.dt = 1e-300
    sim.integrate(1e-300)  # one force evaluation at (numerically) the initial positions
    ref = np.array([[p.ax, p.ay, p.az] for p in sim.particles])
    acc, _ = get_backend("direct").accelerations(pos, pos, mass, SOFTENING)
    rel = np.linalg.norm(acc - ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert np.max(rel) < 1e-12


@pytest.mark.parametrize("opening_angle", [0.6, 0.8])
def test_tree_force_error_against_direct(opening_angle):
    p = plummer_sphere(5000, seed=5, n_tracers=500)
    massive = p.mass > 0
    src, m = p.pos[massive], p.mass[massive]
    exact, phi_exact = get_backend("compiled").accelerations(p.pos, src, m, 0.02, potential=True)
    tree = get_backend("tree", opening_angle=opening_angle)
    acc, phi = tree.accelerations(p.pos, src, m, 0.02, potential=True)
    rel = np.linalg.norm(acc - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert np.median(rel) <= 2e-3
    assert np.percentile(rel, 99) < 2e-2
    assert np.median(np.abs(phi / phi_exact - 1.0)) < 2e-4


def test_default_tree_force_error_on_a_galaxy_model():
    # the quick disk's initial conditions: NFW halo, bulge, thin disk, massless GCs, 0.7 kpc softening
    from gcs_hpc.galaxy import build_model
    from gcs_hpc.specs import PRESETS, GalaxySpec, ModelSpec
    from gcs_hpc.units import kpc_to_sim

    quick = PRESETS["quick"]
    p = build_model(ModelSpec(kind="disk", galaxy=GalaxySpec(), preset=quick, seed=2))
    massive = p.mass > 0
    eps = kpc_to_sim(quick.softening_kpc)
    targets = p.pos[::3]
    exact, _ = get_backend("compiled").accelerations(targets, p.pos[massive], p.mass[massive], eps)
    acc, _ = get_backend("tree").accelerations(targets, p.pos[massive], p.mass[massive], eps)
    rel = np.linalg.norm(acc - exact, axis=1) / np.linalg.norm(exact, axis=1)
    assert np.median(rel) <= 2e-3
    assert np.percentile(rel, 99) < 2e-2


def test_tree_converges_to_direct_as_opening_angle_shrinks():
    p = plummer_sphere(2000, seed=6)
    exact, _ = get_backend("compiled").accelerations(p.pos, p.pos, p.mass, 0.02)
    errors = []
    for theta in (1.0, 0.5, 0.25):
        acc, _ = get_backend("tree", opening_angle=theta).accelerations(p.pos, p.pos, p.mass, 0.02)
        errors.append(np.median(np.linalg.norm(acc - exact, axis=1) / np.linalg.norm(exact, axis=1)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4


@pytest.mark.parametrize("name", THREADED_BACKENDS)
def test_threaded_backends_give_the_same_numbers_on_any_thread_count(name):
    p = plummer_sphere(9000 if name == "tree" else 3000, seed=7)  # large enough for the threaded path
    serial, _ = get_backend(name, threads=1).accelerations(p.pos, p.pos, p.mass, 0.02)
    threaded, _ = get_backend(name, threads=2).accelerations(p.pos, p.pos, p.mass, 0.02)
    assert np.array_equal(serial, threaded)


def test_tree_reuses_its_octree_for_sources_as_targets_with_the_same_numbers():
    p = plummer_sphere(3000, seed=8)
    for group_size in (4, 64):
        field = get_backend("tree", group_size=group_size).prepare(p.pos, p.mass, 0.02)
        acc_same, phi_same = field.at(p.pos, potential=True)  # groups read off the source tree
        acc_copy, phi_copy = field.at(p.pos.copy(), potential=True)  # groups from a separate target tree
        assert np.array_equal(acc_same, acc_copy) and np.array_equal(phi_same, phi_copy)


def test_registry_names_and_errors():
    with pytest.raises(ConfigError, match="backend.*allowed values"):
        get_backend("fmm")
    with pytest.raises(ConfigError, match="opening_angle"):
        get_backend("tree", opening_angle=3.0)
    assert resolve_backend_name("auto", 1_999) == "compiled"  # never the slow NumPy sum on the CPU
    assert resolve_backend_name("auto", 2_000) == "tree"
    assert resolve_backend_name("compiled", 10) == "compiled"
