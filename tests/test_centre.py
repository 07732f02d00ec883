"""The shrinking-sphere centre: finds a dense clump's centre despite debris, and matches the plain method."""

from __future__ import annotations

import numpy as np
import pytest

from gcs_hpc.centre import shrinking_sphere_centre


def plain_shrinking_sphere(pos, mass, shrink=0.9, min_particles=100):
    """Textbook version (Power et al. 2003): scan every particle at every iteration."""
    n_stop = max(min_particles, len(mass) // 100, 1)
    centre = (pos * mass[:, None]).sum(0) / mass.sum()
    radius = np.sqrt(((pos - centre) ** 2).sum(1).max())
    for _ in range(200):
        inside = ((pos - centre) ** 2).sum(1) <= radius**2
        if inside.sum() < n_stop:
            break
        centre = (pos[inside] * mass[inside, None]).sum(0) / mass[inside].sum()
        radius *= shrink
    return centre


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_plain_method_and_ignores_debris(seed):
    rng = np.random.default_rng(seed)
    clump = rng.normal(scale=0.3, size=(8000, 3)) + np.array([1.0, -2.0, 0.5])
    debris = rng.uniform(-20, 20, size=(4000, 3))
    pos = np.concatenate([clump, debris])
    mass = rng.uniform(0.5, 1.5, len(pos))
    centre = shrinking_sphere_centre(pos, mass)
    np.testing.assert_array_equal(centre, plain_shrinking_sphere(pos, mass))
    # The centre of mass is dragged by the debris; the density centre is within noise of the clump's.
    assert np.linalg.norm(centre - [1.0, -2.0, 0.5]) < 0.1
    com = (pos * mass[:, None]).sum(0) / mass.sum()
    assert np.linalg.norm(com - [1.0, -2.0, 0.5]) > 0.3


def test_bad_shrink_is_refused():
    with pytest.raises(ValueError, match=r"shrink = 1.5 .*\(0, 1\)"):
        shrinking_sphere_centre(np.zeros((10, 3)), np.ones(10), shrink=1.5)
